"""Command line: build, render, push. Side effects live here; the library stays pure."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from .audio_io import write_wav
from .audit.cli import add_parser as add_audit_parser
from .builder import AudioSetMix
from .captions.cli_args import add_caption_args, caption_overrides, caption_report
from .captions.report import summary_lines
from .card import write_card
from .hub_layout import write_shards
from .recipe import Recipe
from .rows import rerender_pcm
from .sources import SOURCE_NAMES
from .sources.base import SourceError
from .stats_cli import DatasetError, card_statistics
from .stats_cli import add_parser as add_stats_parser


def _add_build_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output_dir", required=True, help="where the Hub layout (data/ + README.md) is written")
    p.add_argument("--config", default="synth-small", help="builder config name (synth-small, synth-48k, folder, audioset, hf)")
    p.add_argument("--source", choices=SOURCE_NAMES, help="override the config's source")
    p.add_argument("--source_path", help="folder source: the audio folder; hf source: dataset id or local folder")
    p.add_argument("--train", type=int)
    p.add_argument("--validation", type=int)
    p.add_argument("--test", type=int)
    p.add_argument("--sample_rate", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--num_proc", type=int, default=1, help="processes for rendering (the output does not depend on it)")
    p.add_argument("--num_negatives", type=int)
    p.add_argument("--audio_negatives", type=int, help="counterfactual clips rendered per row, from its negatives' recipes "
                   "(default 1; 0: none); kinds order, modifier, relation first")
    p.add_argument("--rows_per_shard", type=int)
    p.add_argument("--min_event_seconds", type=float, help="drop source events shorter than this")
    p.add_argument("--mix", help="JSON object of MixConfig overrides, e.g. '{\"overlap_probability\": 0.5}'")
    g = p.add_argument_group("folder source")
    g.add_argument("--split_column", help="metadata column that names each clip's split (e.g. fold)")
    g.add_argument("--split_map", help="JSON map from split-column values to train/validation/test")
    g = p.add_argument_group("audioset source")
    g.add_argument("--audioset_labels", help="strong-label TSV (segment_id, start_time_seconds, end_time_seconds, label)")
    g.add_argument("--audioset_ontology", help="ontology.json")
    g.add_argument("--audioset_mid_to_name", help="mid_to_display_name.tsv")
    g.add_argument("--audioset_audio_dir", help="directory of clips named <segment_id>.<ext>")
    g.add_argument("--audioset_exclude", help="JSON list of display names to drop (replaces the default list)")
    g = p.add_argument_group("hf source")
    g.add_argument("--hf_audio_column", default="audio")
    g.add_argument("--hf_label_column", default="label")
    g.add_argument("--hf_split", help="only this split of the dataset")
    g.add_argument("--hf_config", help="dataset config name")
    add_caption_args(p)


def _source_options(args, config_source: str, base: dict) -> dict:
    source = args.source or config_source
    options = dict(base)
    if args.min_event_seconds is not None:
        options["min_event_seconds"] = args.min_event_seconds
    if source == "folder":
        if not args.source_path:
            raise SystemExit("error: the folder source needs --source_path DIR")
        options["path"] = str(Path(args.source_path).resolve())
        if args.split_column:
            options["split_column"] = args.split_column
        if args.split_map:
            options["split_map"] = json.loads(args.split_map)
    elif source == "audioset":
        if not (args.audioset_labels and args.audioset_audio_dir and (args.audioset_ontology or args.audioset_mid_to_name)):
            raise SystemExit("error: the audioset source needs --audioset_labels, --audioset_audio_dir and "
                             "--audioset_ontology and/or --audioset_mid_to_name")
        options.update(labels_tsv=str(Path(args.audioset_labels).resolve()), audio_dir=str(Path(args.audioset_audio_dir).resolve()))
        if args.audioset_ontology:
            options["ontology"] = str(Path(args.audioset_ontology).resolve())
        if args.audioset_mid_to_name:
            options["mid_to_name"] = str(Path(args.audioset_mid_to_name).resolve())
        if args.audioset_exclude:
            options["exclude_classes"] = json.loads(args.audioset_exclude)
    elif source == "hf":
        if not args.source_path:
            raise SystemExit("error: the hf source needs --source_path DATASET_ID_OR_DIR")
        local = Path(args.source_path)
        options.update(path=str(local.resolve()) if local.exists() else args.source_path,
                       audio_column=args.hf_audio_column, label_column=args.hf_label_column)
        if args.hf_split:
            options["split"] = args.hf_split
        if args.hf_config:
            options["config_name"] = args.hf_config
        if args.split_column:
            options["split_column"] = args.split_column
        if args.split_map:
            options["split_map"] = json.loads(args.split_map)
    return options


def build(args) -> int:
    import datasets


    started = time.time()
    base = next((c for c in AudioSetMix.BUILDER_CONFIGS if c.name == args.config), None)
    if base is None:
        names = ", ".join(c.name for c in AudioSetMix.BUILDER_CONFIGS)
        raise SystemExit(f"error: unknown config {args.config!r} (choose from {names})")
    overrides = {k: getattr(args, k) for k in ("train", "validation", "test", "sample_rate", "seed", "num_negatives", "audio_negatives", "rows_per_shard")
                 if getattr(args, k) is not None}
    if args.source:
        overrides["source"] = args.source
    overrides["source_options"] = _source_options(args, base.source, base.source_options)
    if args.mix:
        overrides["mix"] = json.loads(args.mix)
    output_dir = Path(args.output_dir).resolve()
    with tempfile.TemporaryDirectory(prefix="audiosetmix-") as tmp:
        overrides.update(caption_overrides(args, Path(tmp) / "caption-report.sqlite"))
        builder = AudioSetMix(config_name=args.config, cache_dir=tmp, **overrides)
        maker = builder.row_maker()  # scans and validates the source before any rendering
        skipped = maker.source.skipped
        print(f"source {builder.config.source}: {len(maker.pool.events)} events, {len(maker.pool.all_classes())} classes, "
              f"{len(skipped)} inputs skipped; events per split {maker.pool.counts()}", flush=True)
        builder.download_and_prepare(download_config=datasets.DownloadConfig(disable_tqdm=False),
                                     num_proc=args.num_proc if args.num_proc > 1 else None)
        prepared = builder.as_dataset()
        if output_dir.exists():
            shutil.rmtree(output_dir / "data", ignore_errors=True)
        data_dir = output_dir / "data"
        sizes = {}
        for split in [s for s in ("train", "validation", "test") if s in prepared]:
            write_shards(prepared[split], split, data_dir, builder.config.rows_per_shard)
            sizes[split] = len(prepared[split])
        elapsed = time.time() - started
        card_extra = {"statistics": card_statistics(prepared)}
        captions, card_extra["caption_report"] = caption_report(builder, output_dir)
        write_card(output_dir, builder, prepared, skipped, elapsed, args.num_proc, extra=card_extra)
        del prepared
    _print_summary(output_dir, sizes, skipped, time.time() - started)
    if captions is not None:
        print("\n" + "\n".join(summary_lines(captions)) + f"\n  report: {output_dir / 'caption_report.json'}")
    return 0


def _print_summary(output_dir: Path, sizes: dict, skipped: list, elapsed: float) -> None:
    print("\n=== AudioSetMix build summary ===")
    for split, n in sizes.items():
        print(f"  {split:<10} {n:>7} rows")
    reasons = Counter(s.reason.split(":")[0] for s in skipped)
    print(f"  skipped inputs: {len(skipped)}" + "".join(f"\n    {n:>5}  {r}" for r, n in reasons.most_common()))
    for s in skipped[:10]:
        print(f"      - {s.item}: {s.reason}")
    print(f"  time: {elapsed:.1f} s")
    print(f"  output: {output_dir}")
    print("\nLoad it with:\n"
          "    from datasets import load_dataset\n"
          f"    ds = load_dataset({str(output_dir)!r})\n"
          "    print(ds['train'][0]['caption'])")


def render_cmd(args) -> int:
    ds = _load_split_with_id(args.dataset_dir, args.id)
    row = ds.filter(lambda r: r == args.id, input_columns="id")
    if len(row) == 0:
        raise SystemExit(f"error: no row with id {args.id!r} in {args.dataset_dir}")
    recipe, what = row[0]["recipe"], args.id
    if args.negative is not None:
        negatives = row[0]["negatives"]
        if not 0 <= args.negative < len(negatives):
            raise SystemExit(f"error: {args.id} has {len(negatives)} negatives; --negative must be in 0..{len(negatives) - 1}")
        recipe, what = negatives[args.negative]["recipe"], f"negative {args.negative} ({negatives[args.negative]['kind']}) of {args.id}"
    for name, (built, here) in Recipe.from_json(recipe).version_differences().items():
        print(f"warning: {name} {here} here, {built} at build time: the samples may differ", file=sys.stderr)
    try:
        pcm, sr = rerender_pcm(recipe, source_root=args.source_root)
    except SourceError as error:
        raise SystemExit(f"error: {error}") from None
    write_wav(args.out, pcm, sr)
    print(f"wrote {args.out}: {len(pcm) / sr:.3f} s at {sr} Hz from the recipe of {what}")
    return 0


def _load_split_with_id(dataset_dir: str, row_id: str):
    import datasets

    split = row_id.rsplit("-", 1)[0]
    ds = datasets.load_dataset(str(dataset_dir), split=split)
    return ds.cast_column("audio", datasets.Audio(decode=False))


def push(args) -> int:
    from huggingface_hub import HfApi

    folder = Path(args.dataset_dir)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not (folder / "README.md").exists() or not any(f.startswith("data/") for f in files):
        raise SystemExit(f"error: {folder} is not a built AudioSetMix dataset (README.md and data/ expected)")
    if args.dry_run:
        print(f"would upload {len(files)} files to datasets/{args.repo_id}:")
        for f in files:
            print(f"  {f}  ({(folder / f).stat().st_size} bytes)")
        return 0
    api = HfApi()
    api.create_repo(args.repo_id, repo_type="dataset", private=args.private, exist_ok=True)
    api.upload_folder(folder_path=str(folder), repo_id=args.repo_id, repo_type="dataset",
                      commit_message=args.commit_message)
    print(f"uploaded {len(files)} files to https://huggingface.co/datasets/{args.repo_id}")
    return 0


def show(args) -> int:
    """Print a few rows and the Python lines that load the dataset."""
    import datasets

    ds = datasets.load_dataset(str(args.dataset_dir), split=args.split)
    print(f"{args.dataset_dir}: split {args.split!r} has {len(ds)} rows; columns {ds.column_names}\n")
    for row in ds.select(range(min(args.n, len(ds)))):
        audio = row["audio"]
        samples = audio["array"]
        print(f"[{row['id']}] {row['duration']:.2f} s, {audio['sampling_rate']} Hz, {samples.shape[-1]} samples; "
              f"labels={row['labels']} modifiers={row['modifiers']}")
        print(f"  caption ({row['caption_source']}): {row['caption']}")
        for negative in row["negatives"]:
            print(f"  negative [{negative['kind']}]: {negative['caption']}")
        print()
    print("Load it in Python with:\n"
          "    from datasets import load_dataset\n"
          f"    ds = load_dataset({str(Path(args.dataset_dir).resolve())!r})\n"
          "    row = ds['train'][0]\n"
          "    row['caption'], row['negatives'], row['audio']['array'], row['audio']['sampling_rate']")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="audiosetmix", description="Build, re-render and publish AudioSetMix datasets.")
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="render a dataset in the Hub layout")
    _add_build_args(b)
    b.set_defaults(func=build)
    r = sub.add_parser("render", help="re-render one row from its recipe")
    r.add_argument("--dataset_dir", required=True)
    r.add_argument("--id", required=True, help="row id, e.g. test-3")
    r.add_argument("--out", required=True, help="output .wav (16-bit PCM)")
    r.add_argument("--negative", type=int, help="render the row's negative K (an index into `negatives`) instead")
    r.add_argument("--source_root", help="the folder the source's files are in on this machine (recipes name it <source_root>)")
    r.set_defaults(func=render_cmd)
    s = sub.add_parser("show", help="print a few rows and how to load the dataset")
    s.add_argument("--dataset_dir", required=True)
    s.add_argument("--split", default="train")
    s.add_argument("--n", type=int, default=3)
    s.set_defaults(func=show)
    u = sub.add_parser("push", help="upload a built dataset to the Hugging Face Hub")
    u.add_argument("--dataset_dir", required=True)
    u.add_argument("--repo_id", required=True)
    u.add_argument("--private", action="store_true")
    u.add_argument("--commit_message", default="Upload AudioSetMix")
    u.add_argument("--dry_run", action="store_true", help="list what would be uploaded and stop")
    u.set_defaults(func=push)
    add_stats_parser(sub)
    add_audit_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (SourceError, DatasetError) as error:  # bad user input: a clear message, no traceback
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
