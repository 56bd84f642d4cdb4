"""End-to-end rows/s of ONE build process, beside its floor: the time spent in the stretch engine alone.

Builds N rows with `--engine local --num_proc 1` in this process (after a small warm-up build,
so imports are not counted), once on the embedded synth source and once on a folder of real
recordings (default /work/shared/data/esc10, skipped if absent). The stretch engine
(`transforms.pitch.stretch`, Signalsmith: every pitch and speed change of a render) is timed
inside the same builds, so the share printed is
measured side by side: rows/s, the floor (rows/s if only the stretch engine cost anything)
and the stretch engine's share of the row time (goal: >= 60 %).

    python bench/build.py [--rows 300] [--folder /work/shared/data/esc10]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import audiosetmix_lib.transforms.pitch as pitch
from audiosetmix_lib.cli import main as cli_main


def timed_build(out: Path, rows: int, extra: list[str]) -> tuple[float, float]:
    """(wall seconds of the build, seconds inside the stretch engine)."""
    spent = [0.0]
    original = pitch.stretch

    def stretch(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - started

    pitch.stretch = stretch
    try:
        started = time.perf_counter()
        code = cli_main(["build", "--output_dir", str(out), "--train", str(rows), "--validation", "0", "--test", "0",
                     "--num_proc", "1", *extra])
        wall = time.perf_counter() - started
    finally:
        pitch.stretch = original
    if code != 0:
        raise SystemExit(f"error: the build failed (exit {code})")
    return wall, spent[0]


def report(name: str, rows: int, wall: float, stretch: float) -> None:
    print(f"{name:<28} {rows / wall:8.1f} rows/s   floor {rows / max(stretch, 1e-9):8.1f} rows/s   "
          f"stretch engine {100 * stretch / wall:5.1f} % of the row time   ({rows} rows, {wall:.1f} s)", flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=300)
    p.add_argument("--folder", default="/work/shared/data/esc10", help="folder of real recordings (audiofolder layout)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        tmp = Path(tmp)
        timed_build(tmp / "warm-up", 4, [])  # imports and first-use costs, not counted
        wall, stretch = timed_build(tmp / "synth", args.rows, [])
        report("synth-small (one process)", args.rows, wall, stretch)
        if Path(args.folder).is_dir():
            folder = ["--config", "folder", "--source_path", args.folder]
            timed_build(tmp / "folder-warm-up", 4, folder)
            wall, stretch = timed_build(tmp / "folder", args.rows, folder)
            report(f"folder {Path(args.folder).name} (one process)", args.rows, wall, stretch)
        else:
            print(f"folder {args.folder}: absent, skipped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
