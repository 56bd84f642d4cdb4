"""Which side of a CLAP model misses a modifier: the audio encoder or the text encoder?

The command line over `audiosetmix_lib.evaluation.probe_counterfactual` (`--help` lists the options).
"""

from __future__ import annotations

from audiosetmix_lib.evaluation.errors import run_command
from audiosetmix_lib.evaluation.probe_counterfactual import main

if __name__ == "__main__":
    raise SystemExit(run_command(main))
