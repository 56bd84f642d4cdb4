"""Write ONE planned shard: its rows -> one Parquet file whose bytes depend only on config, seed, split and range.

This is the unit every engine runs (a local process pool, a Ray task). Rows are rendered in
caption batches, written in fixed row groups (so the caption batch size never shows in the
bytes) with the `datasets` Features schema (so `load_dataset(out_dir)` decodes the audio),
first to `<staging>/<name>.partial-<pid>`, then fsynced and renamed to `<staging>/<name>`.
A file without the final name is never a finished shard; the caller then moves the shard
into `data/` and records it (`output.contract.BuildOutput.commit`).

On an object store (`staging_dir` an fsspec URL such as `s3://bucket/ds/data`) the shard is
written the same way into a local temporary folder and then uploaded in one PUT, which object
stores make visible whole or not at all (`output.object_store`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import datasets
import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from datasets.io.parquet import get_parquet_column_options

from ..locations import is_remote
from .faults import fault_wanted, maybe_fail_half_way, stops_only
from .plan import ShardSpec

ROW_GROUP_ROWS = 100  # as `to_parquet(batch_size=100)` wrote before: one row group per 100 rows
CAPTION_BATCH_ROWS = 50  # rows captioned in one call (LLM batches; fallback-rate checks run after each)


@dataclass(frozen=True)
class ShardResult:
    spec: ShardSpec
    path: str  # the finished file in staging (a local path, or a URL on an object store)
    rows: int
    sha256: str
    size: int = 0  # bytes


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _writer(path: str, features: datasets.Features) -> pq.ParquetWriter:
    """The same writer options as `datasets.Dataset.to_parquet` (content-defined chunking, page index)."""
    schema = features.arrow_schema
    writer = pq.ParquetWriter(path, schema=schema, use_content_defined_chunking=datasets.config.DEFAULT_CDC_OPTIONS,
                              write_page_index=True, **get_parquet_column_options(features, schema))
    return writer


def _table(rows: list[dict], features: datasets.Features) -> pa.Table:
    """Rows are already in storage form (audio as {"bytes", "path"}): no `encode_example`, which imports torch."""
    return pa.Table.from_pylist(rows, schema=features.arrow_schema)


def write_shard(maker, spec: ShardSpec, features: datasets.Features, staging_dir: str | os.PathLike,
                after_batch=None, meta_dir: str | os.PathLike | None = None,
                caption_batch_rows: int = CAPTION_BATCH_ROWS) -> ShardResult:
    """Render rows [spec.start, spec.stop) of spec.split with `maker` (a RowMaker) into `<staging_dir>/<spec.name>`.

    `after_batch(rows_done_in_this_shard)` runs after each caption batch (progress, the LLM
    fallback-rate guard; it may raise to stop the build). `meta_dir` is the output's
    `.audiosetmix/` folder, only used by the test fault injection.
    """
    if not is_remote(staging_dir):
        return _write_local(maker, spec, features, staging_dir, after_batch, meta_dir, caption_batch_rows)
    local_dir = tempfile.mkdtemp(prefix="audiosetmix-shard-")
    try:
        done = _write_local(maker, spec, features, local_dir, after_batch, meta_dir, caption_batch_rows)
        target = str(staging_dir).rstrip("/") + "/" + spec.name
        fs, path = fsspec.core.url_to_fs(target)
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        fs.put_file(done.path, path)
        return ShardResult(spec, target, done.rows, done.sha256, done.size)
    finally:
        shutil.rmtree(local_dir, ignore_errors=True)


def _write_local(maker, spec: ShardSpec, features: datasets.Features, staging_dir: str | os.PathLike,
                 after_batch, meta_dir, caption_batch_rows: int) -> ShardResult:
    staging = Path(staging_dir)
    staging.mkdir(parents=True, exist_ok=True)
    final = staging / spec.name
    partial = staging / f"{spec.name}.partial-{os.getpid()}"
    writer = _writer(str(partial), features)
    pending: list[dict] = []
    done = 0
    half = spec.rows // 2 if spec.rows > 1 else 1
    try:
        for start in range(spec.start, spec.stop, caption_batch_rows):
            indices = range(start, min(spec.stop, start + caption_batch_rows))
            for row in maker.rows(spec.split, indices, unit=spec.name.removesuffix(".parquet")):
                pending.append(row)
                done += 1
                if len(pending) == ROW_GROUP_ROWS:
                    writer.write_table(_table(pending, features))
                    pending = []
                if done == half and fault_wanted(meta_dir, spec.position):
                    if pending and not stops_only(spec.position):  # the first half is on disk before a kill
                        writer.write_table(_table(pending, features))
                        pending = []
                    maybe_fail_half_way(meta_dir, spec.position)
            if after_batch is not None:
                after_batch(done)
        if pending:
            writer.write_table(_table(pending, features))
        writer.add_key_value_metadata({"content_defined_chunking": json.dumps(datasets.config.DEFAULT_CDC_OPTIONS)})
        writer.close()
        writer = None
        with open(partial, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(partial, final)
    finally:
        if writer is not None:
            writer.close()
        partial.unlink(missing_ok=True)
    return ShardResult(spec, str(final), done, file_sha256(final), final.stat().st_size)
