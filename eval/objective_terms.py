"""The training objective of saved CLAP models, term by term, on the same training batches.

The command line over `audiosetmix_lib.evaluation.objective_terms` (`--help` lists the options).
"""

from __future__ import annotations

import sys

from audiosetmix_lib.evaluation.errors import EvaluationError
from audiosetmix_lib.evaluation.objective_terms import main

if __name__ == "__main__":
    try:
        sys.exit(main())
    except EvaluationError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
