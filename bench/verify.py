"""verify rows/s beside build rows/s, in one run, on one process each (goal: verify costs at most the build's
own time per row, ratio <= 1).

Builds N synth rows (`--num_proc 1`, after a small warm-up build so imports are not counted), then
verifies every one of them (`verify --all --num_proc 1`) in the same process, and prints both rates
and their ratio. Both sides start with an empty event cache: the build's source and verify's source
are separate objects, so each loads the events it uses once.

    python bench/verify.py [--rows 200] [--audio_negatives 1]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from audiosetmix_lib.cli import main as cli_main


def timed(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process): on a shared machine the CPU time is the steadier measure
    (both commands run in this process with --num_proc 1)."""
    started, cpu = time.perf_counter(), time.process_time()
    code = cli_main(argv)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    if code not in (0, 1):  # verify exits 1 when a claim fails: timed all the same
        raise SystemExit(f"error: {argv[0]} exited {code}")
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--audio_negatives", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sizes = ["--validation", "0", "--test", "0", "--num_proc", "1", "--seed", str(args.seed),
                 "--audio_negatives", str(args.audio_negatives)]
        timed(["build", "--output_dir", str(root / "warm"), "--train", "2", *sizes])
        timed(["verify", "--dataset_dir", str(root / "warm"), "--all", "--output_dir", str(root / "warm-v")])
        build_s, build_cpu = timed(["build", "--output_dir", str(root / "out"), "--train", str(args.rows), *sizes])
        verify_s, verify_cpu = timed(["verify", "--dataset_dir", str(root / "out"), "--all", "--output_dir", str(root / "v")])
        summary = json.loads((root / "v" / "verify.json").read_text())["summary"]
    claims = sum(c["checked"] for c in summary["claims"].values())
    print(f"\n=== verify vs build, {args.rows} synth rows, one process each, --audio_negatives {args.audio_negatives} ===")
    print(f"  build : {build_s:7.1f} s  {args.rows / build_s:6.2f} rows/s  ({build_cpu:.1f} s CPU)")
    print(f"  verify: {verify_s:7.1f} s  {args.rows / verify_s:6.2f} rows/s  ({verify_cpu:.1f} s CPU; {claims} claims, "
          f"{summary['failed_rows']} rows with a failing claim)")
    print(f"  verify time per row / build time per row: {verify_s / build_s:.2f} (goal <= 1); "
          f"CPU time: {verify_cpu / build_cpu:.2f}")


if __name__ == "__main__":
    main()
