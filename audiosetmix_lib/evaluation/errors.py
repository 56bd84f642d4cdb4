"""The one exception the evaluation code raises for bad input; its command lines print it as `error: ...`."""

import sys


class EvaluationError(ValueError):
    """A model, dataset or option the evaluation cannot use; the message says what to change."""


def run_command(main) -> int:
    """Run an evaluation command's `main`; an EvaluationError ends it as one `error:` line and exit code 2."""
    try:
        return main()
    except EvaluationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
