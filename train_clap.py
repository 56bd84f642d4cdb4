"""Train a CLAP model on AudioSetMix: captions with modifiers plus hard negatives.

    accelerate launch train_clap.py --dataset_dir output/audiosetmix-synth-small --model tiny --output_dir out/clap-tiny
    python train_clap.py config.yaml            # the same fields from a .json / .yaml file

Arguments: `audiosetmix_lib/training/args.py` (or `--help`); the loop: `audiosetmix_lib/training/loop.py`;
the command itself: `audiosetmix_lib/training/cli.py` (also `python -m audiosetmix_lib.training.cli`).
"""

from __future__ import annotations

from audiosetmix_lib.training.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
