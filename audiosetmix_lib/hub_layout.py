"""Write a prepared dataset in the Hub layout: fixed shards by rows, plus the dataset card."""

from __future__ import annotations

import json
import math
from pathlib import Path

import datasets


def shard_name(split: str, shard: int, num_shards: int) -> str:
    return f"{split}-{shard:05d}-of-{num_shards:05d}.parquet"


def in_index_order(ds: datasets.Dataset) -> datasets.Dataset:
    """Rows sorted by the numeric index in their id, whatever order the workers wrote them in."""
    indices = [int(i.rsplit("-", 1)[1]) for i in ds["id"]]
    order = sorted(range(len(indices)), key=indices.__getitem__)
    return ds if order == list(range(len(order))) else ds.select(order)


def write_shards(ds: datasets.Dataset, split: str, data_dir: Path, rows_per_shard: int) -> list[str]:
    """Shard boundaries depend only on rows_per_shard, never on how many processes built the rows."""
    data_dir.mkdir(parents=True, exist_ok=True)
    ds = in_index_order(ds)
    num_shards = max(1, math.ceil(len(ds) / rows_per_shard))
    names = []
    for shard in range(num_shards):
        part = ds.select(range(shard * rows_per_shard, min(len(ds), (shard + 1) * rows_per_shard)))
        name = shard_name(split, shard, num_shards)
        part.to_parquet(str(data_dir / name), batch_size=100)
        names.append(name)
    return names


def configs_yaml(splits: list[str]) -> str:
    lines = ["configs:", "- config_name: default", "  data_files:"]
    for split in splits:
        lines += [f"  - split: {split}", f"    path: data/{split}-*"]
    return "\n".join(lines)


def dataset_info_yaml(features: datasets.Features, split_sizes: dict[str, int], split_bytes: dict[str, int] | None = None) -> str:
    """The card's `dataset_info` block (features and split sizes), as the Hub writes it."""
    import yaml  # PyYAML comes with datasets

    info = {
        "features": datasets.DatasetInfo(features=features)._to_yaml_dict()["features"],
        "splits": [{"name": s, "num_bytes": int((split_bytes or {}).get(s, 0)), "num_examples": n} for s, n in split_sizes.items()],
    }
    return yaml.safe_dump({"dataset_info": info}, sort_keys=False, allow_unicode=True).rstrip()


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
