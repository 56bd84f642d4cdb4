"""`audiosetmix stats`: read a built dataset (no audio decoding), write stats.json, stats.md and plots.

Also the build's hook: `card_statistics(prepared)` is the Markdown the dataset card carries
under its `Statistics` heading.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from .events import SPLITS
from .stats import caption_stats, dataset_stats, stats_markdown
from .stats_plots import write_plots


class DatasetError(ValueError):
    """A folder that is not a readable built dataset, or an input file without what it needs."""


ROW_COLUMNS = ("id", "caption", "caption_source", "prompt_version", "negatives", "labels", "modifiers", "recipe", "duration")
CAPTION_REPORT = "caption_report.json"


def dataset_splits(dataset_dir: Path) -> dict[str, list[Path]]:
    """Split name -> its Parquet shards (`data/<split>-XXXXX-of-XXXXX.parquet`), known splits first."""
    data = Path(dataset_dir) / "data"
    shards: dict[str, list[Path]] = {}
    for path in sorted(data.glob("*.parquet")):
        split = path.name.split("-", 1)[0]
        shards.setdefault(split, []).append(path)
    order = [s for s in SPLITS if s in shards] + sorted(s for s in shards if s not in SPLITS)
    return {s: shards[s] for s in order}


def iter_rows(paths: list[Path], columns: tuple[str, ...] = ROW_COLUMNS, batch_size: int = 256) -> Iterator[dict]:
    """Rows of Parquet shards without the audio column (nothing is decoded)."""
    import pyarrow.parquet as pq

    for path in paths:
        file = pq.ParquetFile(path)
        present = [c for c in columns if c in file.schema_arrow.names]
        for batch in file.iter_batches(batch_size=batch_size, columns=present):
            yield from batch.to_pylist()


def read_caption_report(dataset_dir: Path) -> dict | None:
    path = Path(dataset_dir) / CAPTION_REPORT
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def read_reference_captions(paths: list[str]) -> list[str]:
    """The `caption` column of one or more CSV files."""
    captions: list[str] = []
    for name in paths:
        with open(name, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or "caption" not in reader.fieldnames:
                raise DatasetError(f"{name} has no 'caption' column (columns: {reader.fieldnames})")
            captions.extend(row["caption"] for row in reader if row.get("caption"))
    return captions


def compute(dataset_dir: Path, reference_paths: list[str] | None = None, reference_name: str | None = None) -> dict:
    splits = dataset_splits(dataset_dir)
    if not splits:
        raise DatasetError(f"no data/*.parquet in {dataset_dir} (is it a built AudioSetMix dataset?)")
    reference = None
    if reference_paths:
        reference = caption_stats(read_reference_captions(reference_paths))
        reference_name = reference_name or " + ".join(Path(p).name for p in reference_paths)
    stats = dataset_stats({s: iter_rows(paths) for s, paths in splits.items()},
                          caption_report=read_caption_report(dataset_dir), reference=reference, reference_name=reference_name)
    stats["dataset_dir"] = str(Path(dataset_dir).resolve())
    return stats


def write_outputs(stats: dict, output_dir: Path, plots: bool = True) -> list[Path]:
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    # key order carries meaning (splits in order, classes by frequency): not sorted
    (output_dir / "stats.json").write_text(json.dumps(stats, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    title = f"AudioSetMix statistics: {Path(stats.get('dataset_dir', '')).name or 'dataset'}"
    plot_paths: list[Path] = []
    if plots:
        plot_paths = write_plots(stats, output_dir)
    text = stats_markdown(stats, level=2, title=title)
    if plot_paths:
        text += "\n## Plots\n\n" + "\n".join(f"![{p.stem}]({p.name})" for p in plot_paths) + "\n"
    (output_dir / "stats.md").write_text(text, encoding="utf-8")
    return [output_dir / "stats.json", output_dir / "stats.md", *plot_paths]


def run(args) -> int:
    stats = compute(Path(args.dataset_dir), args.reference_captions, args.reference_name)
    if args.output_dir:
        written = write_outputs(stats, Path(args.output_dir), plots=not args.no_plots)
        print(f"wrote {len(written)} files to {Path(args.output_dir).resolve()}: " + ", ".join(p.name for p in written))
    else:
        sys.stdout.write(stats_markdown(stats, level=2, title=f"AudioSetMix statistics: {args.dataset_dir}"))
    return 0


def card_statistics(prepared) -> str:
    """The card's Statistics section body, from a prepared DatasetDict (audio column not read)."""
    def rows(ds):
        yield from ds.select_columns([c for c in ROW_COLUMNS if c in ds.column_names])

    stats = dataset_stats({split: rows(prepared[split]) for split in prepared})
    return stats_markdown(stats, level=3, max_classes=30)


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("stats", help="statistics of a built dataset (JSON, Markdown, PNG plots)",
                       description="Per-split statistics of a built AudioSetMix dataset, read from its recipes "
                                   "(no audio decoding), optionally beside a reference caption set such as AudioCaps.")
    p.add_argument("--dataset_dir", "--dataset", required=True, help="a built dataset (data/*.parquet + README.md; also --dataset)")
    p.add_argument("--reference_captions", nargs="+", metavar="CSV",
                   help="CSV file(s) with a 'caption' column (e.g. AudioCaps train/val/test.csv)")
    p.add_argument("--reference_name", help="name of the reference in tables (default: the file names)")
    p.add_argument("--output_dir", help="write stats.json, stats.md and PNG plots here (default: print the Markdown)")
    p.add_argument("--no_plots", action="store_true", help="skip the PNG plots")
    p.set_defaults(func=run)
    return p
