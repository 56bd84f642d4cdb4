"""Evaluate a CLAP model: text-audio retrieval, modifier accuracy on hard negatives, zero-shot.

The command line over `audiosetmix_lib.evaluation.evaluate_clap` (`--help` lists the options).
"""

from __future__ import annotations

import sys

from audiosetmix_lib.evaluation.errors import EvaluationError
from audiosetmix_lib.evaluation.evaluate_clap import main

if __name__ == "__main__":
    try:
        sys.exit(main())
    except EvaluationError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
