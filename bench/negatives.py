"""What counterfactual clips cost: bytes per row and rows per second at --audio_negatives N = 0, 1, 3.

All three settings make the same rows of the default config (synth-small, 16 kHz, 3 negatives)
in this one run, with the builder's own `RowMaker` (plan, caption, render, encode), the
settings interleaved per repeat so machine load hits them alike. Bytes per row count the
encoded audio and clips plus the text columns (what the Parquet rows hold before
compression). Prints each setting and its ratio to N = 0.

    python bench/negatives.py [--n 40] [--sample_rate 16000] [--repeats 2]
"""

from __future__ import annotations

import argparse
import time

from audiosetmix_lib.config import MixConfig
from audiosetmix_lib.rows import RowMaker
from audiosetmix_lib.sources import EventPool, make_source


def row_bytes(row: dict) -> int:
    audio = len(row["audio"]["bytes"]) + sum(len(c["bytes"]) for c in row["negative_audio"])
    text = len(row["caption"]) + len(row["recipe"]) + sum(len(n["caption"]) + len(n["recipe"]) for n in row["negatives"])
    return audio + text


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=40, help="rows per setting and repeat")
    p.add_argument("--sample_rate", type=int, default=16000)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--settings", default="0,1,3")
    args = p.parse_args(argv)

    source = make_source("synth")
    pool = EventPool(source.events())
    settings = [int(s) for s in args.settings.split(",")]
    makers = {n: RowMaker(source, pool, MixConfig(), 0, args.sample_rate, 3, audio_negatives=n) for n in settings}
    list(makers[settings[0]].rows("train", range(3)))  # warm the source's event cache for everyone
    seconds = {n: 0.0 for n in settings}
    sizes = {n: [] for n in settings}
    for _ in range(args.repeats):
        for n in settings:
            start = time.perf_counter()
            rows = list(makers[n].rows("train", range(args.n)))
            seconds[n] += time.perf_counter() - start
            sizes[n] = [row_bytes(r) for r in rows]
    base = settings[0]
    rate = {n: args.n * args.repeats / seconds[n] for n in settings}
    per_row = {n: sum(sizes[n]) / len(sizes[n]) for n in settings}
    print(f"{args.n} rows x {args.repeats} repeats per setting, synth-small at {args.sample_rate} Hz, 3 negatives per row")
    print(f"{'N':>3} {'rows/s':>8} {'KiB/row':>9} {'rows/s vs N=' + str(base):>16} {'bytes vs N=' + str(base):>15}")
    for n in settings:
        print(f"{n:>3} {rate[n]:>8.2f} {per_row[n] / 1024:>9.1f} {rate[n] / rate[base]:>16.2f} {per_row[n] / per_row[base]:>15.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
