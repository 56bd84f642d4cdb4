"""The `eval/run_experiment.py` command: `python -m audiosetmix_lib.evaluation.experiment_cli` runs the same
program from an installed wheel. A stage that fails becomes one `error:` line and exit status 2."""

from __future__ import annotations

import sys

from .errors import EvaluationError
from .run_experiment import run_experiment


def main(argv=None) -> int:
    try:
        results = run_experiment(list(sys.argv[1:] if argv is None else argv))
    except EvaluationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(results.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
