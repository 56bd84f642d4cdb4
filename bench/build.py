"""End-to-end rows/s of ONE build process, beside its floor: the time spent in the stretch engine alone.

Builds N rows with `--engine local --num_proc 1` in this process (after a small warm-up build,
so imports are not counted), once on the embedded synth source and once on a folder of real
recordings (default `../shared/data/esc10` beside the checkout, or $AUDIOSETMIX_ESC10; skipped if absent). The stretch engine
(`transforms.pitch.stretch`, Signalsmith: every pitch and speed change of a render) is timed
inside the same builds, so the share printed is
measured side by side: rows/s, the floor (rows/s if only the stretch engine cost anything)
and the stretch engine's share of the row time (goal: >= 60 %), then where the rest of the time
went (the source's scan and loads, the filter, measuring events' sound for audibility, FLAC encoding,
planning a row and its negatives).

At the default 300 rows most events are loaded for the first time (as in the profile the goal
was set on); `--rows 2000` measures what a large build sees, every synth event in the cache.

    python bench/build.py [--rows 300] [--folder ../shared/data/esc10] [--audio_negatives 1]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import audiosetmix_lib.rows as rows
import audiosetmix_lib.transforms.filter as filter_transform
import audiosetmix_lib.transforms.pitch as pitch
from audiosetmix_lib.audibility import Audibility
from audiosetmix_lib.cli import main as cli_main
from audiosetmix_lib.sources.base import Source
from audiosetmix_lib.sources.folder import FolderSource
from audiosetmix_lib.sources.synth import SynthSource

# real recordings beside the checkout (../shared/data/esc10), as tests/test_sources.py finds them
ESC10 = Path(os.environ.get("AUDIOSETMIX_ESC10") or Path(__file__).resolve().parents[2] / "shared" / "data" / "esc10")

# part -> the functions whose time is that part's (owner, attribute): wrapped for the timed build only
PARTS = {
    "stretch engine": [(pitch, "stretch")],
    "source scan": [(Source, "events")],
    "source loads": [(SynthSource, "_load_raw"), (FolderSource, "_load_raw")],
    "filter": [(filter_transform, "cutoff_for"), (filter_transform, "apply")],
    "audibility": [(Audibility, "features")],  # measuring an event's sound for `audible_on` (its load counts as a source load)
    "FLAC encode": [(rows, "encode_flac")],
    "planning": [(rows.RowMaker, "plan")],
}


@contextmanager
def timed_parts():
    """Seconds spent in each part (outermost calls only, so a part that calls itself is counted once)."""
    spent, depth, originals = defaultdict(float), defaultdict(int), []
    for part, targets in PARTS.items():
        for owner, name in targets:
            original = getattr(owner, name)
            originals.append((owner, name, original))

            def wrapper(*args, _original=original, _part=part, **kwargs):
                depth[_part] += 1
                started = time.perf_counter()
                try:
                    return _original(*args, **kwargs)
                finally:
                    depth[_part] -= 1
                    if depth[_part] == 0:
                        spent[_part] += time.perf_counter() - started

            setattr(owner, name, wrapper)
    try:
        yield spent
    finally:
        for owner, name, original in reversed(originals):
            setattr(owner, name, original)


def timed_build(out: Path, rows_wanted: int, extra: list[str]) -> tuple[float, dict]:
    """(wall seconds of the build, seconds per part)."""
    with timed_parts() as spent:
        started = time.perf_counter()
        code = cli_main(["build", "--output_dir", str(out), "--train", str(rows_wanted), "--validation", "0", "--test", "0",
                         "--num_proc", "1", *extra])
        wall = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"error: the build failed (exit {code})")
    return wall, dict(spent)


def report(name: str, rows_built: int, wall: float, spent: dict) -> None:
    stretch = spent.get("stretch engine", 0.0)
    print(f"{name:<28} {rows_built / wall:8.1f} rows/s   floor {rows_built / max(stretch, 1e-9):8.1f} rows/s   "
          f"stretch engine {100 * stretch / wall:5.1f} % of the row time   ({rows_built} rows, {wall:.1f} s)", flush=True)
    parts = [f"{part} {100 * spent.get(part, 0.0) / wall:.1f} %" for part in PARTS if part != "stretch engine"]
    other = wall - sum(spent.values())
    print(f"{'':<28} the rest: {', '.join(parts)}, everything else {100 * other / wall:.1f} %", flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=300)
    p.add_argument("--folder", default=str(ESC10), help="folder of real recordings (audiofolder layout)")
    p.add_argument("--audio_negatives", type=int, default=1,
                   help="counterfactual clips per row (the build's default 1; 0: the row alone, as before issue 12)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        tmp = Path(tmp)
        negatives = ["--audio_negatives", str(args.audio_negatives)]
        timed_build(tmp / "warm-up", 4, negatives)  # imports and first-use costs, not counted
        wall, spent = timed_build(tmp / "synth", args.rows, negatives)
        report("synth-small (one process)", args.rows, wall, spent)
        if Path(args.folder).is_dir():
            folder = ["--config", "folder", "--source_path", args.folder, *negatives]
            timed_build(tmp / "folder-warm-up", 4, folder)
            wall, spent = timed_build(tmp / "folder", args.rows, folder)
            report(f"folder {Path(args.folder).name} (one process)", args.rows, wall, spent)
        else:
            print(f"folder {args.folder}: absent, skipped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
