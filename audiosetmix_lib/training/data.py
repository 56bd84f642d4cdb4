"""Training data: Parquet shards -> 10 s waveforms at 48 kHz + tokenized captions and negatives.

Audio is read with `Audio(decode=False)` and decoded with soundfile in the DataLoader workers
(no torchcodec per row), resampled with soxr, then randomly cropped or *zero*-padded to the
feature extractor's length - never repeat-padded, which would turn "A then B" into
"A, B, A, B" and make order negatives true. Log-mel features are computed later, on the
training device (`features.LogMel`).

Randomness lives in the sample keys: the sampler draws (source, row, crop seed) from
`default_rng([seed, epoch])`, so the data order and crops do not depend on global random
state, on the number of workers, or on whether the run was resumed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from audiosetmix_lib import audio_io
from audiosetmix_lib.dataset_path import load_dataset_checked
from audiosetmix_lib.negatives import NEGATIVE_KINDS


@dataclass(frozen=True)
class SampleKey:
    source: int
    row: int
    crop_seed: int | None = None  # None: keep the start of a long clip (validation)


def label_caption(labels) -> str:
    """Label-only caption: sorted, de-duplicated, lower-cased class names joined by ', '.

    Sorted because AudioSet-style labels are a set: the baseline gets no order information.
    """
    return ", ".join(sorted({str(label).strip().lower() for label in labels if str(label).strip()}))


def load_split(name: str, split: str, config: str | None = None):
    """One split of a local folder (Hub layout or `save_to_disk`) or Hub dataset."""
    import datasets

    path = Path(name)
    if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
        loaded = datasets.load_from_disk(str(path))
        return loaded[split] if isinstance(loaded, datasets.DatasetDict) else loaded
    return load_dataset_checked(name, "--dataset_dir", config, split=split)


class CaptionTable:
    """One dataset split: its audio cells (undecoded) and its texts, held in memory."""

    def __init__(self, ds, audio_column="audio", caption_column="caption", negatives_column="negatives",
                 labels_column="labels", caption_mode="caption", max_negatives=3, max_rows=None, name="",
                 negative_audio_column="negative_audio", max_audio_negatives=0):
        import datasets

        if max_rows is not None:
            ds = ds.select(range(min(max_rows, len(ds))))
        missing = [c for c in (audio_column, caption_column) if c not in ds.column_names]
        if caption_mode == "labels" and labels_column not in ds.column_names:
            missing.append(labels_column)
        if missing:
            raise ValueError(f"dataset {name!r} lacks column(s) {missing}; it has {ds.column_names}")
        self.name = name
        self.audio = ds.select_columns([audio_column]).cast_column(audio_column, datasets.Audio(decode=False))
        self.audio_column = audio_column
        self.captions = list(ds[caption_column])
        self.labels = list(ds[labels_column]) if labels_column in ds.column_names else None
        self.negatives = _negative_lists(ds, negatives_column, max_negatives)
        self.caption_mode = caption_mode
        # counterfactual clips (undecoded, like the audio); none for label captions or without the column
        self.negative_audio, self.negative_audio_column, self.max_audio_negatives = None, negative_audio_column, 0
        if max_audio_negatives > 0 and caption_mode == "caption" and negative_audio_column not in ds.column_names:
            raise ValueError(f"dataset {name!r} has no {negative_audio_column!r} column for the audio-negative term; "
                             "build it with `audiosetmix.py build --audio_negatives 1` (or more)")
        if max_audio_negatives > 0 and caption_mode == "caption":
            self.negative_audio = ds.select_columns([negative_audio_column]).cast_column(
                negative_audio_column, datasets.List(datasets.Audio(decode=False)))
            self.max_audio_negatives = max_audio_negatives

    def __len__(self) -> int:
        return len(self.captions)

    def text(self, row: int) -> tuple[str, list[tuple[str, str]]]:
        """The training caption and hard negatives [(caption, kind)] of a row."""
        if self.caption_mode == "labels":
            return label_caption(self.labels[row]), []
        return self.captions[row], self.negatives[row]

    def negative_audio_cells(self, row: int) -> list[dict]:
        """The row's first `max_audio_negatives` counterfactual clips, undecoded."""
        if self.negative_audio is None:
            return []
        return list(self.negative_audio[row][self.negative_audio_column] or [])[: self.max_audio_negatives]

    def corpus(self):
        """Every text a tokenizer for this data must know: captions, negatives, label captions."""
        yield from self.captions
        for row in self.negatives:
            yield from (caption for caption, _ in row)
        if self.labels is not None:
            yield from (label_caption(labels) for labels in self.labels)


def _negative_lists(ds, column: str, max_negatives: int) -> list[list[tuple[str, str]]]:
    """[(caption, kind)] per row, first `max_negatives`, read from Arrow without the recipes."""
    if column not in ds.column_names or max_negatives == 0:
        return [[] for _ in range(len(ds))]
    import pyarrow.compute as pc

    rows = []
    for batch in ds.select_columns([column]).with_format("arrow").iter(batch_size=1000):
        cells = batch.column(column)
        offsets = pc.list_value_length(cells).fill_null(0).to_pylist()
        flat = pc.list_flatten(cells)
        captions = pc.struct_field(flat, "caption").to_pylist()
        kinds = pc.struct_field(flat, "kind").to_pylist() if "kind" in {f.name for f in flat.type} else [""] * len(captions)
        start = 0
        for length in offsets:
            pairs = [(c, k or "") for c, k in zip(captions[start : start + length], kinds[start : start + length], strict=True) if c]
            rows.append(pairs[:max_negatives])
            start += length
    return rows


def load_waveform(cell: dict, sampling_rate: int, num_samples: int, crop_seed: int | None) -> np.ndarray:
    """Decode an `Audio(decode=False)` cell to mono float32 at `sampling_rate`, exactly `num_samples` long."""
    if cell.get("bytes"):
        samples, sr = audio_io.read_audio_bytes(cell["bytes"])
    else:
        samples, sr = audio_io.read_audio(cell["path"])
    samples = audio_io.resample(samples, sr, sampling_rate)
    if len(samples) > num_samples:
        offset = 0 if crop_seed is None else int(np.random.default_rng(crop_seed).integers(0, len(samples) - num_samples + 1))
        return np.ascontiguousarray(samples[offset : offset + num_samples])
    out = np.zeros(num_samples, dtype=np.float32)
    out[: len(samples)] = samples
    return out


class AudioCaptionDataset(torch.utils.data.Dataset):
    """Map-style dataset over several tables, indexed by `SampleKey`."""

    def __init__(self, tables: list[CaptionTable], sampling_rate: int, num_samples: int):
        self.tables = tables
        self.sampling_rate = sampling_rate
        self.num_samples = num_samples

    def __len__(self) -> int:
        return sum(len(t) for t in self.tables)

    def __getitem__(self, key: SampleKey) -> dict:
        table = self.tables[key.source]
        cell = table.audio[key.row][table.audio_column]
        caption, negatives = table.text(key.row)
        return {
            "waveform": load_waveform(cell, self.sampling_rate, self.num_samples, key.crop_seed),
            "caption": caption,
            "negatives": negatives,
            # the same pipeline and crop as the row's own audio: the clips differ only in the one change
            "negative_waveforms": [load_waveform(c, self.sampling_rate, self.num_samples, key.crop_seed)
                                   for c in table.negative_audio_cells(key.row)],
        }


class MixtureSampler(torch.utils.data.Sampler):
    """Epochs of `SampleKey`s: each sample comes from source s with probability weights[s].

    Within a source, rows follow a fresh permutation, restarted when used up. One epoch is
    `num_samples` keys. With a single source this is a plain shuffled epoch.
    """

    def __init__(self, sizes: list[int], weights: list[float], seed: int, num_samples: int):
        if len(sizes) != len(weights) or min(sizes) <= 0:
            raise ValueError(f"one positive size per weight; got sizes {sizes} and weights {weights}")
        total = float(sum(weights))
        self.sizes, self.weights = list(sizes), [w / total for w in weights]
        self.seed, self.num_samples, self.epoch = seed, num_samples, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self):
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch]))
        sources = rng.choice(len(self.sizes), size=self.num_samples, p=self.weights)
        crop_seeds = rng.integers(0, 2**63 - 1, size=self.num_samples)
        orders = [rng.permutation(n) for n in self.sizes]
        used = [0] * len(self.sizes)
        for source, crop_seed in zip(sources.tolist(), crop_seeds.tolist(), strict=True):
            if used[source] == self.sizes[source]:
                orders[source], used[source] = rng.permutation(self.sizes[source]), 0
            yield SampleKey(source, int(orders[source][used[source]]), int(crop_seed))
            used[source] += 1


class Collator:
    """Stack waveforms; tokenize captions and hard negatives in one padded batch.

    Returns tensors only (accelerate moves them to the device): `waveforms` (B, samples),
    `input_ids` / `attention_mask` (B + N, L) with the B captions first and the N negatives
    after, `negative_index` (B, K) into those N (-1: none), `negative_kind` (B, K) indices
    into `NEGATIVE_KINDS` (len(NEGATIVE_KINDS) for an unknown kind, -1: none). With
    `max_audio_negatives` A > 0 also `negative_waveforms` (M, samples), every row's
    counterfactual clips in row order, and `negative_audio_index` (B, A) into them (-1: none).
    """

    def __init__(self, tokenizer, max_length: int, max_negatives: int, max_audio_negatives: int = 0):
        self.tokenizer, self.max_length, self.max_negatives = tokenizer, max_length, max_negatives
        self.max_audio_negatives = max_audio_negatives

    def __call__(self, items: list[dict]) -> dict[str, torch.Tensor]:
        k = self.max_negatives
        texts = [item["caption"] for item in items]
        negative_index = torch.full((len(items), k), -1, dtype=torch.long)
        negative_kind = torch.full((len(items), k), -1, dtype=torch.long)
        flat = []
        for i, item in enumerate(items):
            for j, (caption, kind) in enumerate(item["negatives"][:k]):
                negative_index[i, j] = len(flat)
                negative_kind[i, j] = NEGATIVE_KINDS.index(kind) if kind in NEGATIVE_KINDS else len(NEGATIVE_KINDS)
                flat.append(caption)
        tokens = self.tokenizer(texts + flat, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        waveforms = np.stack([item["waveform"] for item in items])
        batch = {
            "waveforms": torch.from_numpy(waveforms),
            "input_ids": tokens["input_ids"],
            "attention_mask": tokens["attention_mask"],
            "negative_index": negative_index,
            "negative_kind": negative_kind,
        }
        if self.max_audio_negatives > 0:
            a = self.max_audio_negatives
            clip_index = torch.full((len(items), a), -1, dtype=torch.long)
            clips = []
            for i, item in enumerate(items):
                for j, clip in enumerate(item.get("negative_waveforms", [])[:a]):
                    clip_index[i, j] = len(clips)
                    clips.append(clip)
            stacked = np.stack(clips) if clips else np.zeros((0, waveforms.shape[1]), dtype=waveforms.dtype)
            batch["negative_waveforms"] = torch.from_numpy(stacked)
            batch["negative_audio_index"] = clip_index
        return batch


def epoch_size(main_rows: int, main_weight: float) -> int:
    """Samples per epoch: enough for the main dataset to be seen about once."""
    return int(math.ceil(main_rows / main_weight))
