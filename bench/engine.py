"""Engines side by side in one run: `--engine ray` on 2 CPUs vs `--engine local --num_proc 2`, and
`--num_proc 2` vs `--num_proc 1`.

Each build is a fresh `audiosetmix.py build` process (start-up, source scan, worker or Ray
start included: what a user waits for), synth-small, template captions, into a new folder.
Prints rows/s of each and the two ratios (goals: ray/local >= 0.85; num_proc 2/1 >= 1.8 at
2,000 rows). On a machine shared with other work the ratios are what to read, not the rates.

    python bench/engine.py [--rows 2000] [--rows_per_shard N] [--skip_ray]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_seconds(out: Path, rows: int, *extra: str) -> tuple[float, str]:
    """Seconds of one build, and what the build says it ran on ("4 shard(s) with 2 process(es)")."""
    cmd = [sys.executable, str(ROOT / "audiosetmix.py"), "build", "--output_dir", str(out), "--train", str(rows),
           "--validation", "0", "--test", "0", *extra]
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    env.pop("RAY_ADDRESS", None)
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"error: {' '.join(extra)} build failed: {done.stderr.strip().splitlines()[-1:]}")
    ran_on = next((line.removeprefix("building ") for line in done.stdout.splitlines() if line.startswith("building ")), "?")
    return seconds, ran_on


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=2000)
    p.add_argument("--rows_per_shard", type=int, help="the build's --rows_per_shard (default: the config's); two "
                                                         "processes need at least two shards")
    p.add_argument("--skip_ray", action="store_true")
    args = p.parse_args(argv)
    shards = ["--rows_per_shard", str(args.rows_per_shard)] if args.rows_per_shard else []
    rates = {}
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        runs = [("local, num_proc 1", ["--num_proc", "1"]), ("local, num_proc 2", ["--num_proc", "2"])]
        if not args.skip_ray:
            runs.append(("ray, 2 CPUs", ["--engine", "ray", "--num_proc", "2"]))
        for i, (name, extra) in enumerate(runs):
            seconds, ran_on = build_seconds(Path(tmp) / f"run-{i}", args.rows, *extra, *shards)
            rates[name] = args.rows / seconds
            print(f"{name:<20} {rates[name]:7.1f} rows/s  ({args.rows} rows, {seconds:.1f} s; {ran_on})", flush=True)
    print(f"num_proc 2 vs 1: {rates['local, num_proc 2'] / rates['local, num_proc 1']:.2f}x (goal >= 1.8)")
    if "ray, 2 CPUs" in rates:
        print(f"ray on 2 CPUs vs local num_proc 2: {rates['ray, 2 CPUs'] / rates['local, num_proc 2']:.2f} (goal >= 0.85)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
