"""A built dataset's rows as consistency items (recipes only: no audio is decoded)."""

from __future__ import annotations

from pathlib import Path

from ..recipe import Recipe
from ..stats_cli import DatasetError, dataset_splits, iter_rows
from .sample import Item


def read_items(dataset_dir: Path, split: str | None = None) -> list[Item]:
    """Every row of the dataset (or of one split), without audio, in dataset order."""
    splits = dataset_splits(Path(dataset_dir))
    if not splits:
        raise DatasetError(f"{dataset_dir}: no data/*.parquet shards: give the folder a build wrote (--output_dir)")
    if split is not None and split not in splits:
        raise DatasetError(f"no split {split!r} in {dataset_dir}/data (splits: {', '.join(splits)})")
    paths = [p for name, ps in splits.items() if split in (None, name) for p in ps]
    items = []
    for row in iter_rows(paths, columns=("id", "recipe", "negatives")):
        negatives = [Recipe.from_json(n["recipe"]) for n in row.get("negatives") or []]
        items.append(Item(row["id"], (Recipe.from_json(row["recipe"]), *negatives)))
    return items


def audio_rows(dataset_dir: Path, ids: set[str]) -> dict[str, dict]:
    """The rows named by `ids`, with their audio bytes (for the page's players)."""
    paths = [p for ps in dataset_splits(Path(dataset_dir)).values() for p in ps]
    return {row["id"]: row for row in iter_rows(paths, columns=("id", "audio")) if row["id"] in ids}
