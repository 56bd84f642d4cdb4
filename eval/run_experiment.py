"""The experiment: does AudioSetMix (captions with modifiers + hard negatives) teach a CLAP model the modifiers?

The command line over `audiosetmix_lib.evaluation.run_experiment` (`--help` lists the options); the same
program as `python -m audiosetmix_lib.evaluation.experiment_cli`.
"""

from __future__ import annotations

from audiosetmix_lib.evaluation.experiment_cli import main

if __name__ == "__main__":
    raise SystemExit(main())
