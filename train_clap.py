"""Train a CLAP model on AudioSetMix: captions with modifiers plus hard negatives.

    accelerate launch train_clap.py --dataset_dir output/audiosetmix-synth-small --model tiny --output_dir out/clap-tiny
    python train_clap.py config.yaml            # the same fields from a .json / .yaml file

Arguments: `audiosetmix_lib/training/args.py` (or `--help`); the loop: `audiosetmix_lib/training/loop.py`.
"""

from __future__ import annotations

import sys

from audiosetmix_lib.cli_errors import error_message
from audiosetmix_lib.training.args import parse_args
from audiosetmix_lib.training.loop import train


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        train(args)
    except BaseException as error:  # noqa: BLE001 - known failures become one `error:` line (exit 2), the rest re-raise
        message = error_message(error)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
