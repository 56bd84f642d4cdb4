"""`audiosetmix audit`: write the audit page for a seeded sample, or summarize an exported judgement file.

    audiosetmix audit --dataset_dir DIR --split test --n 100 --seed 0 --output_dir audit/
    # open audit/index.html, judge, press Export
    audiosetmix audit --summarize audit-...-seed0.json [--output_dir audit/]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

from ..hub_layout import write_json
from ..stats_cli import DatasetError, dataset_splits
from .page import render_page, row_view, sample_indices
from .spectrogram import write_spectrogram
from .summary import summarize, summary_markdown

AUDIO_DIR = "audio"
IMAGE_DIR = "spectrograms"


def read_sample(dataset_dir: Path, split: str, n: int, seed: int) -> list[dict]:
    """The seeded sample of a split's rows (with audio bytes), in dataset order."""
    import pyarrow.parquet as pq

    shards = dataset_splits(dataset_dir).get(split)
    if not shards:
        available = ", ".join(dataset_splits(dataset_dir)) or "none"
        raise DatasetError(f"no split {split!r} in {dataset_dir}/data (splits: {available})")
    total = sum(pq.ParquetFile(p).metadata.num_rows for p in shards)
    wanted = set(sample_indices(total, n, seed))
    rows, position = [], 0
    for path in shards:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=64):
            size = batch.num_rows
            local = [i - position for i in range(position, position + size) if i in wanted]
            if local:
                rows.extend(batch.take(local).to_pylist())
            position += size
    return rows


def write_audio(directory: Path, row: dict, audio_format: str):
    """The row's audio as a file next to the page; returns (relative src, samples, sample rate)."""
    import soundfile as sf

    data = row["audio"]["bytes"]
    samples, sample_rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
    name = f"{row['id']}.{audio_format}"
    if audio_format == "flac":
        (directory / name).write_bytes(data)  # the dataset's own bytes, untouched
    else:
        sf.write(directory / name, samples, sample_rate, subtype="PCM_16", format="WAV")
    return f"{AUDIO_DIR}/{name}", samples, sample_rate


def write_audit_page(dataset_dir: Path, split: str, n: int, seed: int, output_dir: Path, audio_format: str = "flac") -> Path:
    rows = read_sample(dataset_dir, split, n, seed)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / AUDIO_DIR).mkdir(exist_ok=True)
    (output_dir / IMAGE_DIR).mkdir(exist_ok=True)
    views = []
    for i, row in enumerate(rows):
        audio_src, samples, sample_rate = write_audio(output_dir / AUDIO_DIR, row, audio_format)
        image_src = f"{IMAGE_DIR}/{row['id']}.png"
        view = row_view(row, audio_src, image_src)
        write_spectrogram(output_dir / image_src, samples, sample_rate, view["events"], view["duration"],
                          title=f"{row['id']}: {row['caption']}")
        views.append(view)
        if (i + 1) % 20 == 0:
            print(f"  {i + 1}/{len(rows)} rows", flush=True)
    meta = {"dataset": Path(dataset_dir).resolve().name, "split": split, "seed": seed, "n": n}
    page = output_dir / "index.html"
    page.write_text(render_page(views, meta), encoding="utf-8")
    return page


def run(args) -> int:
    if args.summarize:
        return summarize_cmd(args)
    if not args.dataset_dir or not args.output_dir:
        raise SystemExit("error: audit needs --dataset_dir and --output_dir (or --summarize JUDGEMENTS.json)")
    page = write_audit_page(Path(args.dataset_dir), args.split, args.n, args.seed, Path(args.output_dir), args.audio_format)
    print(f"wrote {page} ({args.split}, seed {args.seed}); open it in a browser (no server needed): file://{page.resolve()}")
    print("judge, press Export, then: audiosetmix audit --summarize <the exported .json>")
    return 0


def summarize_cmd(args) -> int:
    try:
        export = json.loads(Path(args.summarize).read_text(encoding="utf-8"))
        summary = summarize(export)
    except (OSError, ValueError) as error:
        raise SystemExit(f"error: {args.summarize}: {error}") from None
    text = summary_markdown(summary)
    sys.stdout.write(text)
    if args.output_dir:
        out = Path(args.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "audit_summary.json", summary)
        (out / "audit_summary.md").write_text(text, encoding="utf-8")
        print(f"\nwrote {out / 'audit_summary.json'} and {out / 'audit_summary.md'}")
    return 0


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("audit", help="write a caption audit page (HTML) or summarize its exported judgements",
                       description="Write a static, offline HTML page for a seeded sample of rows (audio, spectrogram "
                                   "with event spans, caption, negatives, recipe, right/wrong buttons), or turn the "
                                   "page's JSON export into accuracies with --summarize.")
    p.add_argument("--dataset_dir", "--dataset", help="a built dataset (data/*.parquet; also --dataset)")
    p.add_argument("--split", default="test")
    p.add_argument("--n", type=int, default=100, help="rows to sample (default 100, as the paper's manual check)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample")
    p.add_argument("--output_dir", help="where index.html, audio/ and spectrograms/ go (with --summarize: the summary files)")
    p.add_argument("--audio_format", choices=["flac", "wav"], default="flac",
                   help="flac: the dataset's bytes as they are; wav: 16-bit PCM for players without FLAC")
    p.add_argument("--summarize", metavar="JUDGEMENTS.json", help="summarize an exported judgement file instead")
    p.set_defaults(func=run)
    return p
