"""The Hub layout's card parts: the `configs` and `dataset_info` YAML blocks (shards: `output/`)."""

from __future__ import annotations

import json
from pathlib import Path

import datasets


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
