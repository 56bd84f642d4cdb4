"""The split to evaluate and its columns: audio, captions (one per row or a list per row)."""

from __future__ import annotations

from pathlib import Path

from ..dataset_path import load_dataset_checked
from .errors import EvaluationError


def load_split(dataset: str, split: str, config: str | None = None):
    import datasets

    local = Path(dataset)
    if local.is_dir() and ((local / "state.json").exists() or (local / "dataset_dict.json").exists()):
        ds = datasets.load_from_disk(str(local))
        if isinstance(ds, datasets.DatasetDict):
            ds = ds[split]
        return ds
    return load_dataset_checked(dataset, "--dataset_dir", config, split=split)


def audio_column_of(ds, name: str | None) -> str:
    import datasets

    if name:
        if name not in ds.column_names:
            raise EvaluationError(f"no column {name!r} (columns: {ds.column_names})")
        return name
    audio = [c for c, f in ds.features.items() if isinstance(f, datasets.Audio)]
    if audio:
        return audio[0]
    if "audio" in ds.column_names:
        return "audio"
    raise EvaluationError(f"no audio column (columns: {ds.column_names}); pass --audio_column")


def captions_of(ds, name: str | None) -> tuple[list[str], list[int]]:
    """All captions and the caption -> row map (one caption per row, or a list per row)."""
    if name is None:
        name = "caption" if "caption" in ds.column_names else "captions" if "captions" in ds.column_names else None
        if name is None:
            raise EvaluationError(f"no 'caption' or 'captions' column (columns: {ds.column_names}); pass --caption_column")
    elif name not in ds.column_names:
        raise EvaluationError(f"no column {name!r} (columns: {ds.column_names})")
    texts, owner = [], []
    for i, value in enumerate(ds[name]):
        values = [value] if isinstance(value, str) else list(value or [])
        values = [v for v in values if isinstance(v, str) and v.strip()]
        if not values:
            raise EvaluationError(f"row {i} has no caption in column {name!r}")
        texts.extend(values)
        owner.extend([i] * len(values))
    return texts, owner


def column_iter(ds, column: str):
    """The cells of one column, row by row (does not load the whole column into memory)."""
    for row in ds.select_columns([column]):
        yield row[column]
