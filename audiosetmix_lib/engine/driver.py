"""One build from a configured builder to a finished output folder, on the output contract.

Order: scan the source, plan the shards, open the output (refuse / resume / replace; manifest
first), run the engine over the missing shards, then caption report and the card, last.
The Ray engine (issue 14) plugs in at `run_engine`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from datasets.table import InMemoryTable

from ..captions.cli_args import caption_report_data, report_json
from ..card import audio_column_bytes, card_text
from ..locations import is_remote
from ..output.contract import BuildOutput
from ..output.determinants import build_determinants
from ..output.object_store import ObjectStoreOutput
from ..output.plan import plan_shards
from ..stats_cli import card_statistics
from ..stop_signals import stop_signals_raise
from .local import run_local
from .ray_engine import run_ray

NON_AUDIO_COLUMNS = ("id", "caption", "caption_source", "prompt_version", "negatives", "labels", "modifiers", "recipe",
                     "duration")


@dataclass
class BuildResult:
    state: str  # fresh | resume | replace | done
    sizes: dict[str, int]
    shards_built: int
    shards_total: int
    captions: dict | None = None
    notes: list[str] = field(default_factory=list)


def _read_columns(file, columns: list[str]) -> pa.Table:
    with fsspec.open(str(file), "rb") as f:  # a local path or an object-store URL
        return pq.read_table(f, columns=columns)


def _size(file) -> int:
    fs, path = fsspec.core.url_to_fs(str(file))
    return fs.size(path)


def make_output(output_dir, plan, determinants: dict, overwrite: bool = False):
    """The output contract for a local folder, or its object-store form for an fsspec URL (s3://, gs://, ...)."""
    if is_remote(output_dir):
        return ObjectStoreOutput(str(output_dir), plan, determinants, overwrite)
    return BuildOutput(output_dir, plan, determinants, overwrite)


def read_rows_without_audio(files_by_split: dict[str, list[Path | str]]):
    """The finished shards' text columns as an in-memory DatasetDict (for statistics and the card)."""
    parts = {}
    for split, files in files_by_split.items():
        table = pa.concat_tables([_read_columns(f, list(NON_AUDIO_COLUMNS)) for f in files])
        parts[split] = datasets.Dataset(InMemoryTable(table.replace_schema_metadata(None)))
    return datasets.DatasetDict(parts)


ENGINES = ("local", "ray")


def run_engine(maker, todo, features, output, num_proc: int, after_batch, log, engine: str = "local",
               ray_address: str | None = None, ray_caption_actors: int = 2) -> None:
    if engine == "ray":
        run_ray(maker, todo, features, output, num_proc, after_batch, log, address=ray_address,
                caption_actors=ray_caption_actors)
        return
    run_local(maker, todo, features, output, num_proc, after_batch, log)


def run_build(builder, output_dir: Path | str, num_proc: int = 1, overwrite: bool = False, after_batch=None,
              on_open=None, log=print, engine: str = "local", ray_address: str | None = None,
              ray_caption_actors: int = 2) -> BuildResult:
    """Build (or resume, or confirm) `builder`'s dataset in `output_dir`. Raises OutputError, BuildInterrupted, ...

    From the output's opening to its card, SIGTERM and SIGINT raise `BuildInterrupted` (engines, Ray's
    start and end, the card included); the finished shards are kept and the same command resumes."""
    with stop_signals_raise():
        return _build(builder, output_dir, num_proc, overwrite, after_batch, on_open, log, engine, ray_address,
                      ray_caption_actors)


def _build(builder, output_dir, num_proc, overwrite, after_batch, on_open, log, engine, ray_address,
           ray_caption_actors) -> BuildResult:
    started = time.time()
    config = builder.config
    maker = builder.row_maker()
    plan = plan_shards(config.num_examples(), config.rows_per_shard)
    output = make_output(output_dir, plan, build_determinants(config, maker.source.spec(), maker.pool.events), overwrite)
    try:
        todo = output.open()
        if on_open is not None:
            on_open(output)
        for note in output.notes:
            log(note, flush=True)
        done_before = len(plan) - len(todo)
        sizes = {s: n for s, n in config.num_examples().items() if n > 0}
        if output.state == "done":
            log(f"build already complete in {output_dir}: {len(plan)} shards verified (sha256), nothing rewritten",
                flush=True)
            return BuildResult("done", sizes, 0, len(plan), None, output.notes)
        if output.state == "resume":
            log(f"resuming the build in {output_dir}: {done_before} of {len(plan)} shards already finished and verified",
                flush=True)
        elif output.state == "replace":
            log(f"{output_dir} holds an earlier, different build: the new one is staged and replaces data/ when complete",
                flush=True)
        where = f"{min(num_proc, len(todo))} process(es)" if engine == "local" else f"Ray ({ray_address or 'RAY_ADDRESS or a local Ray'})"
        log(f"building {len(todo)} shard(s) with {where}", flush=True)
        run_engine(maker, todo, builder.info.features, output, num_proc, after_batch, log, engine, ray_address,
                   ray_caption_actors)
        if hasattr(after_batch, "finish"):
            after_batch.finish()  # e.g. the LLM fallback-rate guard's final check, before the card commits the build
        files = output.finished_files()
        prepared = read_rows_without_audio(files)
        captions, caption_markdown = caption_report_data(builder)
        extra = {"statistics": card_statistics(prepared),
                 "caption_report": caption_markdown}
        split_bytes = {split: sum(_size(p) for p in paths) for split, paths in files.items()}
        text = card_text(output_dir, builder, prepared, maker.source.skipped, time.time() - started, num_proc, extra,
                         split_bytes, audio_column_bytes([f for paths in files.values() for f in paths]))
        if captions is None:
            output.finish(text, remove=("caption_report.json",))
        else:
            output.finish(text, {"caption_report.json": report_json(captions)})
        return BuildResult(output.state, sizes, len(todo), len(plan), captions, output.notes)
    finally:
        output.close()
        close_captioner = getattr(maker.captioner, "close", None)
        if close_captioner is not None:
            close_captioner()  # an HTTP client's connections and loop thread, also when the build stops early
