"""Which side of a CLAP model misses a modifier: the audio encoder or the text encoder?

The command line over `audiosetmix_lib.evaluation.probe_counterfactual` (`--help` lists the options).
"""

from __future__ import annotations

import sys

from audiosetmix_lib.evaluation.errors import EvaluationError
from audiosetmix_lib.evaluation.probe_counterfactual import main

if __name__ == "__main__":
    try:
        sys.exit(main())
    except EvaluationError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
