"""The training objective of saved CLAP models, term by term, on the same training batches.

The command line over `audiosetmix_lib.evaluation.objective_terms` (`--help` lists the options).
"""

from __future__ import annotations

from audiosetmix_lib.evaluation.errors import run_command
from audiosetmix_lib.evaluation.objective_terms import main

if __name__ == "__main__":
    raise SystemExit(run_command(main))
