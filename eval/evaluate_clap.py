"""Evaluate a CLAP model: text-audio retrieval, modifier accuracy and the text, audio and group scores on
hard negatives, zero-shot; `--compare RUN_A RUN_B` for the paired differences of two evaluations.

The command line over `audiosetmix_lib.evaluation.evaluate_clap` (`--help` lists the options); the same
program as `python -m audiosetmix_lib.evaluation.clap_cli`.
"""

from __future__ import annotations

from audiosetmix_lib.evaluation.clap_cli import main

if __name__ == "__main__":
    raise SystemExit(main())
