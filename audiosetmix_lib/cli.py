"""Command line: build, render, push. Side effects live here; the library stays pure."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from dataclasses import fields
from pathlib import Path

from .audio_io import write_wav
from .audit.cli import add_parser as add_audit_parser
from .builder import AudioSetMix
from .captions.cli_args import add_caption_args, caption_overrides
from .captions.fallback_guard import FallbackGuard
from .captions.report import summary_lines
from .cli_errors import error_message
from .config import MixConfig
from .consistency.cli import add_parser as add_consistency_parser
from .dataset_path import DatasetPathError, check_dataset_arg, describe_load_failure
from .engine.driver import run_build
from .engine.local import usable_cores
from .event_density import short_events_warning
from .locations import check_workers_reach, is_process_local, local_path, location, output_location
from .output.contract import check_output
from .output.manifest import META_DIR
from .output.object_store import driver_state_dir, output_url
from .output.source_record import record_source_root, recorded_source_root
from .output.unused_folders import removed_unless_opened
from .provenance import mismatches_here
from .recipe import Recipe
from .rows import rerender_pcm
from .sources import SOURCE_NAMES, from_spec
from .sources.base import SourceError, uses_source_root
from .sources.report import lost_class_warnings, terminal_lines
from .stats_cli import add_parser as add_stats_parser
from .stop_signals import stop_signals_raise
from .verify.cli import add_parser as add_verify_parser
from .verify.in_build import ShardVerifier


class UsageError(ValueError):
    """A flag value the command cannot use; the message says which and how to fix it."""


def _add_build_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output_dir", required=True, help="where the Hub layout (data/ + README.md) is written; the same "
                                                       "build there is resumed, a different finished one needs --overwrite")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a different finished build there (staged, switched when complete), or build into a "
                        "folder that is not an AudioSetMix output (its README.md, data/ and caption_report.json are "
                        "moved to .audiosetmix/displaced/, nothing is deleted)")
    p.add_argument("--config", default="synth-small", help="builder config name (synth-small, synth-48k, folder, audioset, hf)")
    p.add_argument("--source", choices=SOURCE_NAMES, help="override the config's source")
    p.add_argument("--source_path", help="folder source: the audio folder; hf source: dataset id or local folder")
    p.add_argument("--train", type=int)
    p.add_argument("--validation", type=int)
    p.add_argument("--test", type=int)
    p.add_argument("--sample_rate", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--num_proc", type=int, help="processes for rendering (the output does not depend on it; default: the "
                   "CPU cores this process may use; 1 with --captioner transformers, whose model each process would "
                   "load, and for memory://); with --engine ray and no cluster: the local Ray's CPUs")
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local: one process pool on this machine; ray: one task per shard on a Ray cluster (same bytes)")
    p.add_argument("--ray_address", help="Ray cluster to join (default: RAY_ADDRESS if set, else a local Ray started "
                                         "for the build with --num_proc CPUs)")
    p.add_argument("--ray_caption_actors", type=int, default=2,
                   help="ray, LLM captioners: caption actors (each one process keeping --llm_concurrency requests "
                        "in flight; a transformers captioner loads its model in each)")
    p.add_argument("--num_negatives", type=int)
    p.add_argument("--audio_negatives", type=int, help="counterfactual clips rendered per row, from its negatives' recipes "
                   "(default 1; 0: none); kinds order, modifier, relation first")
    p.add_argument("--rows_per_shard", type=int)
    p.add_argument("--min_event_seconds", type=float,
                   help="drop source events shorter than this, after trimming silence (folder default 0.1, hf 0.5, audioset 2.0)")
    p.add_argument("--strict", action="store_true",
                   help="folder/hf sources: stop at the first bad metadata row instead of skipping and reporting it")
    p.add_argument("--split_strategy", choices=["auto", "stratified", "hash"],
                   help="folder/hf sources without a split column: per-class 'stratified' splits, 'hash' of the "
                        "recording id, or 'auto' (default: stratified up to 2000 recordings, hash above)")
    p.add_argument("--mix", help="JSON object of MixConfig overrides, e.g. '{\"overlap_probability\": 0.5}'")
    g = p.add_argument_group("folder source")
    g.add_argument("--split_column", help="metadata column that names each clip's split (e.g. fold)")
    g.add_argument("--split_map", help="JSON map from split-column values to train/validation/test")
    g.add_argument("--metadata_encoding", help="metadata.csv's text encoding when it is not UTF-8 (e.g. cp1252, latin-1)")
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
    g.add_argument("--hf_revision", help="Hub dataset revision to load (commit, tag or branch; default: the main "
                                         "branch); the recipes record the commit that was loaded")
    g = p.add_argument_group("verification")
    g.add_argument("--verify", action="store_true",
                   help="check each shard as it is written (audiosetmix verify's checks) and stop past --max_mismatch_rate")
    g.add_argument("--max_mismatch_rate", type=float, help="with --verify: the share of rows that may fail a claim (default 0)")
    add_caption_args(p)


def _source_options(args, config_source: str, base: dict) -> dict:
    source = args.source or config_source
    options = dict(base)
    if args.metadata_encoding and source != "folder":
        raise UsageError(f"--metadata_encoding is for the folder source's metadata.csv, not the {source} source: leave it out")
    if args.min_event_seconds is not None:
        options["min_event_seconds"] = args.min_event_seconds
    if source in ("folder", "hf"):
        options.update(_given(args, strict="strict", split_strategy="split_strategy"))
    per_source = {"folder": _folder_options, "audioset": _audioset_options, "hf": _hf_options}.get(source)
    if per_source is not None:
        options.update(per_source(args))
    return options


def _given(args, **flags: str) -> dict:
    """option -> the value of its flag, for the flags given (a flag left out keeps the source's default)."""
    return {option: getattr(args, flag) for option, flag in flags.items() if getattr(args, flag)}


def _split_options(args) -> dict:
    """A metadata column that names each event's split, and how its values map to splits."""
    options = _given(args, split_column="split_column")
    if args.split_map:
        options["split_map"] = _json_arg("--split_map", args.split_map, dict)
    return options


def _folder_options(args) -> dict:
    if not args.source_path:
        raise SystemExit("error: the folder source needs --source_path DIR")
    options = {"path": str(location(args.source_path, "--source_path"))}  # a folder, or an object-store URL
    return options | _split_options(args) | _given(args, metadata_encoding="metadata_encoding")


def _audioset_options(args) -> dict:
    if not (args.audioset_labels and args.audioset_audio_dir and (args.audioset_ontology or args.audioset_mid_to_name)):
        raise SystemExit("error: the audioset source needs --audioset_labels, --audioset_audio_dir and "
                         "--audioset_ontology and/or --audioset_mid_to_name")
    options = {"labels_tsv": str(local_path(args.audioset_labels, "--audioset_labels")),
               "audio_dir": str(local_path(args.audioset_audio_dir, "--audioset_audio_dir"))}
    for option, flag in (("ontology", "audioset_ontology"), ("mid_to_name", "audioset_mid_to_name")):
        if getattr(args, flag):
            options[option] = str(local_path(getattr(args, flag), f"--{flag}"))
    if args.audioset_exclude:
        options["exclude_classes"] = _json_arg("--audioset_exclude", args.audioset_exclude, list)
    return options


def _hf_options(args) -> dict:
    if not args.source_path:
        raise SystemExit("error: the hf source needs --source_path DATASET_ID_OR_DIR")
    local = local_path(args.source_path, "--source_path") if args.source_path.startswith("file://") else Path(args.source_path)
    options = {"path": str(local.resolve()) if local.exists() else args.source_path,
               "audio_column": args.hf_audio_column, "label_column": args.hf_label_column}
    return options | _given(args, split="hf_split", config_name="hf_config", revision="hf_revision") | _split_options(args)


def build(args) -> int:
    """SIGTERM and SIGINT stop the whole command as one `error:` line (the source scan included)."""
    with stop_signals_raise():
        return _build(args)


def _build(args) -> int:
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
        overrides["mix"] = _json_arg("--mix", args.mix, dict)
        _check_mix(overrides["mix"])
    _check_numbers(args)
    if args.num_proc is None:  # the cores, as `datasets` users set num_proc (one model per process would not fit;
        # memory:// lives in this process)
        args.num_proc = 1 if args.captioner == "transformers" or is_process_local(args.output_dir) else usable_cores()
    output_dir = output_location(args.output_dir, "--output_dir")
    check_workers_reach(output_dir, "--output_dir", args.engine, args.num_proc)
    # before the source scan: a wrong folder is refused at once
    check_output(output_dir, args.overwrite)
    meta = driver_state_dir(output_dir)
    with removed_unless_opened(output_dir, meta) as opened:
        maker, result = _scan_and_run(args, base, overrides, output_dir, meta, opened)
    if isinstance(output_dir, Path):
        record_source_root(output_dir, maker.source)  # for render on this machine (.audiosetmix/ is never pushed)
    _print_summary(output_dir, result.sizes, maker.source, time.time() - started)
    if result.captions is not None:
        print("\n" + "\n".join(summary_lines(result.captions)) + f"\n  report: {output_url(output_dir, 'caption_report.json')}")
    if is_process_local(output_dir):
        print(f"warning: --output_dir {output_dir} lives in this process's memory and is gone when the command ends "
              f"(meant for tests that build and read in one process); build into a folder or an object store to keep it",
              file=sys.stderr, flush=True)
    return 0


def _scan_and_run(args, base, overrides: dict, output_dir, meta: Path, opened):
    """The source scan and the build: (row maker, BuildResult); `opened(output)` runs once the output holds the
    build's manifest (from then on its folder is kept for the resume)."""
    overrides.update(caption_overrides(args, meta / "caption-report.sqlite", output_url(output_dir, META_DIR, "answers")))
    # the builder's own cache (a lock file: rows never go through it) lives with the build, reused on a rerun
    _check_sizes({k: overrides.get(k, getattr(base, k)) for k in ("train", "validation", "test")},
                 overrides.get("rows_per_shard", base.rows_per_shard), overrides.get("num_negatives", base.num_negatives))
    if not isinstance(output_dir, Path):
        meta.mkdir(parents=True, exist_ok=True)  # local files of a build into an object store
    builder = AudioSetMix(config_name=args.config, cache_dir=str(meta / "builder-cache"), **overrides)
    maker = builder.row_maker()  # scans and validates the source before any rendering
    skipped = maker.source.skipped
    print(f"source {builder.config.source}: {len(maker.pool.events)} events, {len(maker.pool.all_classes())} classes, "
          f"{len(skipped)} inputs skipped; events per split {maker.pool.counts()}", flush=True)
    for warning in lost_class_warnings(maker.source):
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    short = short_events_warning([e.duration for e in maker.pool.events], builder.config.mix_config(), builder.config.source)
    if short:
        print(f"warning: {short}", file=sys.stderr, flush=True)
    _check_split_events(builder.config, maker)

    def fresh_report(output) -> None:
        opened(output)
        if output.state in ("fresh", "replace"):  # records of an earlier build are not this build's
            for suffix in ("", "-wal", "-shm"):
                (meta / f"caption-report.sqlite{suffix}").unlink(missing_ok=True)

    shard_check = ShardVerifier(maker.source, args.max_mismatch_rate or 0.0) if args.verify else None
    result = run_build(builder, output_dir, num_proc=args.num_proc, overwrite=args.overwrite,
                       after_batch=_fallback_guard(args, builder), on_open=fresh_report, engine=args.engine,
                       ray_address=args.ray_address, ray_caption_actors=args.ray_caption_actors, shard_check=shard_check)
    return maker, result


def _json_arg(flag: str, text: str, kind: type):
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"{flag} is not valid JSON ({error.msg} at character {error.pos}): "
                         f"quote it for the shell, e.g. {flag} '{{\"overlap_probability\": 0.5}}'") from None
    if not isinstance(value, kind):
        raise UsageError(f"{flag} must be a JSON {'object' if kind is dict else 'list'}, got {type(value).__name__}")
    return value


def _check_mix(mix: dict) -> None:
    try:
        MixConfig.from_dict(mix)
    except (ValueError, TypeError) as error:
        known = ", ".join(f.name for f in fields(MixConfig))
        keys = f"; the keys are: {known}" if "unknown MixConfig fields" in str(error) else ""
        raise UsageError(f"--mix: {error}{keys}") from None


SAMPLE_RATES = (8000, 192000)  # below, the synth classes' bands do not fit under Nyquist; above, no audio dataset


def _check_numbers(args) -> None:
    """Numbers a build cannot use, refused before any work (each names its flag and the values it takes)."""
    lowest = {"--num_proc": (args.num_proc, 1), "--seed": (args.seed, 0), "--audio_negatives": (args.audio_negatives, 0),
              "--ray_caption_actors": (args.ray_caption_actors, 1), "--min_event_seconds": (args.min_event_seconds, 0)}
    for flag, (value, low) in lowest.items():
        if value is not None and value < low:
            raise UsageError(f"{flag} {value} is below {low}: give {low} or more")
    if args.sample_rate is not None and not SAMPLE_RATES[0] <= args.sample_rate <= SAMPLE_RATES[1]:
        raise UsageError(f"--sample_rate {args.sample_rate} is outside {SAMPLE_RATES[0]}-{SAMPLE_RATES[1]} Hz: give a rate "
                         f"such as 16000, 32000 or 48000")
    if args.max_mismatch_rate is not None and not (args.verify and 0.0 <= args.max_mismatch_rate <= 1.0):
        raise UsageError(f"--max_mismatch_rate {args.max_mismatch_rate} needs --verify and a share in [0, 1], e.g. "
                         f"--verify --max_mismatch_rate 0.01")
    if args.ray_address and args.engine != "ray":
        raise UsageError(f"--ray_address {args.ray_address} is for --engine ray: add --engine ray, or leave it out")


def _check_sizes(sizes: dict[str, int], rows_per_shard: int, num_negatives: int) -> None:
    """Sizes before any work: no negative split, at least one row, a positive shard size."""
    for split, n in sizes.items():
        if n < 0:
            raise UsageError(f"--{split} {n} is negative: give a row count >= 0 (0 leaves the split out)")
    if not any(sizes.values()):
        raise UsageError("every split has 0 rows (--train, --validation, --test): give at least one split a row count")
    if rows_per_shard < 1:
        raise UsageError(f"--rows_per_shard {rows_per_shard} must be at least 1")
    if num_negatives < 0:
        raise UsageError(f"--num_negatives {num_negatives} is negative: give 0 or more")


def _check_split_events(config, maker) -> None:
    for split, n in config.num_examples().items():
        if n > 0 and not maker.pool.classes(split):
            raise SourceError(f"split {split!r} has no events in the {config.source!r} source; set --{split} 0 or add data")


def _fallback_guard(args, builder):
    if builder.config.captioner == "template":
        return None

    return FallbackGuard(args.llm_max_fallback_rate, sum(builder.config.num_examples().values()),
                         builder.row_maker().captioner.report, reuses_rejected=args.llm_reuse_rejected)


def _print_summary(output_dir: Path | str, sizes: dict, source, elapsed: float) -> None:
    print("\n=== AudioSetMix build summary ===")
    for split, n in sizes.items():
        print(f"  {split:<10} {n:>7} rows")
    print("\n".join(terminal_lines(source)))
    for warning in lost_class_warnings(source):
        print(f"  warning: {warning}")
    print(f"  time: {elapsed:.1f} s")
    print(f"  output: {output_dir}")
    if isinstance(output_dir, Path):
        call = f"load_dataset({str(output_dir)!r})"
    else:  # an object store: the parquet builder reads URLs (credentials through storage_options=...)
        files = ", ".join(f"{split!r}: {output_dir + f'/data/{split}-*.parquet'!r}" for split in sizes)
        call = f"load_dataset('parquet', data_files={{{files}}})"
    print("\nLoad it with:\n"
          "    from datasets import load_dataset\n"
          f"    ds = {call}\n"
          "    print(ds['train'][0]['caption'])")


def render_cmd(args) -> int:
    if not _ROW_ID.fullmatch(args.id):
        raise UsageError(f"--id {args.id} is not a row id: ids are <split>-<index>, e.g. train-3, validation-0, test-12")
    ds = _load_split_with_id(args.dataset_dir, args.id)
    row = ds.filter(lambda r: r == args.id, input_columns="id")
    if len(row) == 0:
        raise UsageError(f"no row with id {args.id!r} in {args.dataset_dir} (the {args.id.rsplit('-', 1)[0]} split has "
                         f"{len(ds)} rows, ids {args.id.rsplit('-', 1)[0]}-0 to -{len(ds) - 1})")
    recipe, what = row[0]["recipe"], args.id
    if args.negative is not None:
        negatives = row[0]["negatives"]
        if not 0 <= args.negative < len(negatives):
            raise UsageError(f"{args.id} has {len(negatives)} negatives; --negative must be in 0..{len(negatives) - 1}")
        recipe, what = negatives[args.negative]["recipe"], f"negative {args.negative} ({negatives[args.negative]['kind']}) of {args.id}"
        what += stored_clip_note(args.negative, row[0].get("negative_audio_index") or [])
    stored = Recipe.from_json(recipe)
    source = from_spec(stored.source, _source_root(args, recipe))  # a SourceError is one error line (main)
    for line in mismatches_here(stored, source):
        print(f"warning: {line}", file=sys.stderr)
    pcm, sr = rerender_pcm(recipe, source)
    write_wav(args.out, pcm, sr)
    print(f"wrote {args.out}: {len(pcm) / sr:.3f} s at {sr} Hz from the recipe of {what}")
    return 0


_ROW_ID = re.compile(r"(train|validation|test)-\d+")


def _source_root(args, recipe: str) -> str | None:
    """--source_root, else the folder this machine built from (recorded in the output's .audiosetmix/) if it still exists."""
    if args.source_root or not uses_source_root(json.loads(recipe)["source"]):
        return args.source_root
    root = recorded_source_root(args.dataset_dir)
    if root is not None:
        print(f"source folder: {root} (where this machine built the dataset; --source_root DIR overrides)", file=sys.stderr)
    return root


def stored_clip_note(negative: int, audio_index: list[int]) -> str:
    """Which stored clip a rendered negative is: `negative_audio[j]` holds negative `negative_audio_index[j]`."""
    if negative in audio_index:
        j = audio_index.index(negative)
        return f"; stored as negative_audio[{j}] (negative_audio_index[{j}] = {negative}): the same samples"
    return f"; not stored as audio (this row's negative_audio holds negatives {list(audio_index)}, in that order)"


def _load_dataset_arg(dataset_dir: str, flag: str = "--dataset_dir", split: str | None = None):
    """`load_dataset` with a mistyped folder reported as such (not as an unreachable Hub)."""
    import datasets

    check_dataset_arg(dataset_dir, flag)
    try:
        return datasets.load_dataset(str(dataset_dir), split=split)
    except ValueError as error:
        if split is not None and "split" in str(error).lower():
            raise UsageError(f"{flag} {dataset_dir} has no split {split!r}: {error}") from None
        raise
    except (OSError, datasets.exceptions.DatasetNotFoundError) as error:
        if Path(dataset_dir).exists():
            raise DatasetPathError(f"{flag} {dataset_dir}: not a dataset folder ({type(error).__name__}: "
                                   f"{str(error).splitlines()[0][:200]}); give the --output_dir of a build") from None
        raise describe_load_failure(dataset_dir, flag, error) from None


def _load_split_with_id(dataset_dir: str, row_id: str):
    import datasets

    split = row_id.rsplit("-", 1)[0]
    ds = _load_dataset_arg(dataset_dir, split=split)
    return ds.cast_column("audio", datasets.Audio(decode=False))


class PushError(RuntimeError):
    """The Hub refused or could not be reached; the message says how to fix it."""


def push(args) -> int:
    from huggingface_hub import HfApi

    folder = Path(args.dataset_dir)
    if not folder.is_dir():
        raise UsageError(f"--dataset_dir {folder}: no such folder; give the --output_dir of a build")
    # .audiosetmix/ (manifest, staging, answer caches) and other hidden files stay on this machine
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                   if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    if not (folder / "README.md").exists() or not any(f.startswith("data/") for f in files):
        raise UsageError(f"{folder} is not a built AudioSetMix dataset (README.md and data/ expected); finish its "
                         f"build first (run the same build command again to resume)")
    if args.dry_run:
        print(f"would upload {len(files)} files to datasets/{args.repo_id}:")
        for f in files:
            print(f"  {f}  ({(folder / f).stat().st_size} bytes)")
        total = sum((folder / f).stat().st_size for f in files)
        print(f"total: {total / 2**20:.1f} MiB ({total} bytes) in {len(files)} files")
        return 0
    api = HfApi()
    try:
        api.create_repo(args.repo_id, repo_type="dataset", private=args.private, exist_ok=True)
        api.upload_folder(folder_path=str(folder), repo_id=args.repo_id, repo_type="dataset",
                          commit_message=args.commit_message, ignore_patterns=[".*", ".*/**", "**/.*"])
    except Exception as error:  # noqa: BLE001 - network, auth and Hub errors all end the same way
        raise PushError(_push_failure(error)) from None
    print(f"uploaded {len(files)} files to https://huggingface.co/datasets/{args.repo_id}")
    return 0


def _push_failure(error: Exception) -> str:
    text = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
    name = type(error).__name__
    if "401" in text or "Unauthorized" in text or "token" in name.lower() or "token" in text.lower():
        return f"the Hugging Face Hub refused the upload ({name}: {text}): log in with `huggingface-cli login` or set HF_TOKEN"
    if "Offline" in name or "offline" in text.lower():
        return f"the Hub is offline here ({name}): unset HF_HUB_OFFLINE and check the network, or use --dry_run"
    return (f"could not upload to the Hugging Face Hub ({name}: {text}): check the network and "
            f"`huggingface-cli login`, or use --dry_run to list the files")


def show(args) -> int:
    """Print a few rows and the Python lines that load the dataset."""
    ds = _load_dataset_arg(args.dataset_dir, split=args.split)
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


class _OneLineErrors(argparse.ArgumentParser):
    """argparse's own refusals (a wrong type, an unknown flag) as one `error:` line, like every other failure,
    instead of the whole usage text and a `prog: error:` line. Flags are taken by their exact names only: a
    prefix (`--overw`, `--llm_max_fallback`) is refused rather than silently read as the flag it starts."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {message} (`{self.prog} --help` lists the flags)\n")


def parser() -> argparse.ArgumentParser:
    p = _OneLineErrors(prog="audiosetmix", description="Build, re-render and publish AudioSetMix datasets.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_OneLineErrors)
    b = sub.add_parser("build", help="render a dataset in the Hub layout")
    _add_build_args(b)
    b.set_defaults(func=build)
    r = sub.add_parser("render", help="re-render one row from its recipe")
    r.add_argument("--dataset_dir", "--dataset", required=True, help="a built dataset (also --dataset)")
    r.add_argument("--id", required=True, help="row id, e.g. test-3")
    r.add_argument("--out", required=True, help="output .wav (16-bit PCM)")
    r.add_argument("--negative", type=int, help="render the row's negative K instead: K indexes `negatives`; the stored "
                   "clip negative_audio[j] is negative K = negative_audio_index[j] (the output line says which j)")
    r.add_argument("--source_root", help="the folder the source's files are in on this machine (recipes name it <source_root>; "
                                         "default: the folder the build read, when it was built here and the folder still exists)")
    r.set_defaults(func=render_cmd)
    s = sub.add_parser("show", help="print a few rows and how to load the dataset")
    s.add_argument("--dataset_dir", "--dataset", required=True, help="a built dataset (also --dataset)")
    s.add_argument("--split", default="train")
    s.add_argument("--n", type=int, default=3)
    s.set_defaults(func=show)
    u = sub.add_parser("push", help="upload a built dataset to the Hugging Face Hub")
    u.add_argument("--dataset_dir", "--dataset", required=True, help="a built dataset (also --dataset)")
    u.add_argument("--repo_id", required=True)
    u.add_argument("--private", action="store_true")
    u.add_argument("--commit_message", default="Upload AudioSetMix")
    u.add_argument("--dry_run", action="store_true", help="list what would be uploaded and stop")
    u.set_defaults(func=push)
    add_stats_parser(sub)
    add_audit_parser(sub)
    add_consistency_parser(sub)
    add_verify_parser(sub)
    return p


class _ReaderMayLeave:
    """stdout for a long command whose reader may go away (`build ... | head`): the work goes on, and what it
    would still print is dropped, instead of a BrokenPipeError stopping the build half-way."""

    def __init__(self, stream) -> None:
        self._stream, self._gone = stream, False

    def write(self, text: str) -> int:
        return self._call("write", text) or len(text)

    def flush(self) -> None:
        self._call("flush")

    def _call(self, name: str, *args):
        if self._gone:
            return None
        try:
            return getattr(self._stream, name)(*args)
        except BrokenPipeError:
            self._gone = True
            devnull = os.open(os.devnull, os.O_WRONLY)  # so that Python's own flush at exit cannot fail either
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
            return None

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


QUIET_COMMANDS = ("render", "show", "stats", "audit", "push")


def _quiet_datasets() -> None:
    """No `datasets` progress bars ("Generating train split", "Filter") around a short command's few lines."""
    import datasets

    datasets.disable_progress_bars()


def main(argv: list[str] | None = None) -> int:
    """Run a command; every expected failure ends as ONE `error: <cause and fix>` line on stderr and exit code 2."""
    args = parser().parse_args(argv)
    if args.command in QUIET_COMMANDS:
        _quiet_datasets()
    stdout, sys.stdout = sys.stdout, _ReaderMayLeave(sys.stdout)
    try:
        return args.func(args)
    except BaseException as error:  # noqa: BLE001 - sorted below: known failures become one line, the rest re-raise
        message = error_message(error)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr, flush=True)
        return 2
    finally:
        sys.stdout = stdout


if __name__ == "__main__":
    raise SystemExit(main())
