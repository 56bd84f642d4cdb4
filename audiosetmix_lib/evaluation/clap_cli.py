"""The `eval/evaluate_clap.py` command: `python -m audiosetmix_lib.evaluation.clap_cli` runs the same program
(the experiment's evaluation stage). Known failures become one `error:` line and exit status 2."""

from __future__ import annotations

import sys

from ..dataset_path import DatasetPathError
from .errors import EvaluationError
from .evaluate_clap import parse_args, run


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        print(run(args))
    except (EvaluationError, DatasetPathError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
