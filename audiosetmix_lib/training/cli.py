"""The `train_clap.py` command as package code: `python -m audiosetmix_lib.training.cli ...` runs the same
program from an installed wheel (the experiment starts its training runs this way)."""

from __future__ import annotations

import sys

from ..cli_errors import error_message
from .args import parse_args
from .loop import train


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
