"""The experiment: does AudioSetMix (captions with modifiers + hard negatives) teach a CLAP model the modifiers?

The command line over `audiosetmix_lib.evaluation.run_experiment` (`--help` lists the options).
"""

from __future__ import annotations

import sys

from audiosetmix_lib.evaluation.errors import EvaluationError
from audiosetmix_lib.evaluation.run_experiment import main

if __name__ == "__main__":
    try:
        sys.exit(main())
    except EvaluationError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
