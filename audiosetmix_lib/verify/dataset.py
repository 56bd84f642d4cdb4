"""Rows of a built dataset, streamed shard by shard (audio bytes included), and the source their recipes name."""

from __future__ import annotations

import json
from pathlib import Path

from ..audio_io import AudioReadError
from ..audit.page import sample_indices
from ..recipe import Recipe
from ..sources import from_spec
from ..sources.base import Source, SourceError
from ..stats_cli import DatasetError, dataset_splits


def split_shards(dataset_dir: Path, split: str | None) -> dict[str, list[Path]]:
    """Split -> shards, for one split or all of them."""
    shards = dataset_splits(dataset_dir)
    if not shards:
        raise DatasetError(f"--dataset_dir {dataset_dir}: no data/*.parquet; give the --output_dir of a build")
    if split is None:
        return shards
    if split not in shards:
        raise DatasetError(f"no split {split!r} in {dataset_dir}/data (splits: {', '.join(shards)})")
    return {split: shards[split]}


def shard_rows(path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def chosen_positions(shards: list[Path], n: int | None, seed: int) -> set[int]:
    """Row positions of a split to check: a seeded sample of `n`, or all (n None)."""
    total = sum(shard_rows(p) for p in shards)
    return set(range(total)) if n is None else set(sample_indices(total, n, seed))


def iter_rows(shards: list[Path], wanted: set[int], batch_size: int = 32):
    """The wanted rows of one split's shards, in dataset order, one batch in memory at a time."""
    import pyarrow.parquet as pq

    position = 0
    for path in shards:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size):
            local = [i - position for i in range(position, position + batch.num_rows) if i in wanted]
            if local:
                yield from batch.take(local).to_pylist()
            position += batch.num_rows


def reachable_source(recipe_json: str, source_root=None) -> tuple[Source | None, str]:
    """The source a recipe names, rebuilt here and tried on the recipe's first event; (None, why) when it
    cannot be reached (a folder not on this machine, a missing file, no --source_root)."""
    recipe = Recipe.from_json(recipe_json)
    try:
        source = from_spec(recipe.source, source_root)
        source.load(recipe.events[0].event, recipe.sample_rate)
    except (SourceError, AudioReadError, OSError) as error:
        return None, f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
    return source, ""


def source_key(recipe_json: str) -> str:
    return json.dumps(json.loads(recipe_json)["source"], sort_keys=True)
