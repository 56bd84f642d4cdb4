"""Events from any `datasets` dataset with an audio column and a label column.

Works the same for a Hub id (e.g. a copy of ESC-50 or AudioSet) and for a local folder
(parquet shards, an audiofolder): the audio column is read with `Audio(decode=False)` and
decoded here with soundfile, so no torchcodec/FFmpeg is needed for the usual formats and a
corrupt row is skipped and counted instead of failing the build. One event per row, with
silence trimmed as the folder source does.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np

from .. import audio_io
from ..events import SPLIT_STRATEGIES, Event, Skip, assign_splits, cut_label, normalise_split_name
from .base import SOURCE_ROOT, Source, SourceError
from .folder import BadRow, clean_label, load_span, trimmed_span, unique_labels
from .split_options import checked_fractions, checked_split_map


def _decode_cell(value) -> tuple[np.ndarray, int]:
    """An `Audio(decode=False)` cell ({bytes, path}) or a plain path to mono float32."""
    if isinstance(value, dict):
        data, path = value.get("bytes"), value.get("path")
    else:
        data, path = None, value
    if data:
        samples, sr = audio_io.read_audio_bytes(data)
    elif path:
        samples, sr = audio_io.read_audio(path)
    else:
        raise audio_io.AudioReadError("no audio bytes and no path")
    if samples.size == 0:
        raise audio_io.AudioReadError("no audio samples")
    if not np.all(np.isfinite(samples)):
        raise audio_io.AudioReadError("non-finite samples")
    return samples, sr


def _label_namer(feature):
    """A function from a label cell to a list of label strings (ClassLabel ints use int2str)."""
    from datasets import ClassLabel

    inner = getattr(feature, "feature", None)
    if isinstance(feature, ClassLabel):
        return lambda value: [] if value is None or value < 0 else [feature.int2str(int(value))]
    if isinstance(inner, ClassLabel):
        return lambda values: [inner.int2str(int(v)) for v in values or [] if v is not None and v >= 0]
    return lambda value: [] if value is None else [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


class HFSource(Source):
    """Labelled audio rows of a `datasets` dataset; licence: that of the dataset."""

    name = "hf"

    def __init__(
        self,
        path: str,
        audio_column: str = "audio",
        label_column: str = "label",
        split: str | None = None,
        config_name: str | None = None,
        split_column: str | None = None,
        recording_column: str | None = None,
        min_event_seconds: float = 0.5,
        trim_db: float = -40.0,
        fractions=(0.8, 0.1, 0.1),
        split_map: dict | None = None,
        revision: str | None = None,
        fingerprint: str | None = None,
        split_strategy: str = "auto",
        strict: bool = False,
    ) -> None:
        super().__init__(strict=strict)
        if split_strategy not in SPLIT_STRATEGIES:
            raise SourceError(f"hf source: split_strategy must be one of {', '.join(SPLIT_STRATEGIES)}, got {split_strategy!r}")
        self.split_strategy = split_strategy
        local = Path(path).expanduser()
        self.local = local.exists()
        self.path = str(local.resolve()) if self.local else str(path)
        self.revision = revision  # a Hub revision (commit, tag, branch) to load
        self.resolved_revision: str | None = None  # the Hub commit that was loaded; recorded in the spec
        self.expected_fingerprint = fingerprint  # from a stored spec: a re-render warns when the data differ
        self.audio_column = audio_column
        self.label_column = label_column
        self.split = split
        self.config_name = config_name
        self.split_column = split_column
        self.recording_column = recording_column
        self.min_event_seconds = float(min_event_seconds)
        self.trim_db = float(trim_db)
        self.fractions = checked_fractions(fractions, "hf source")
        self.split_map = checked_split_map(split_map, split_column, "hf source")
        self._splits = None
        self._local_fingerprint: str | None = None

    def source_root(self) -> str | None:
        return self.path if self.local else None

    def spec(self) -> dict:
        return {
            "name": self.name,
            "path": SOURCE_ROOT if self.local else self.path,  # a local copy: relative to render --source_root
            "revision": self.resolved_revision or self.revision,
            "fingerprint": self.fingerprint(),
            "audio_column": self.audio_column,
            "label_column": self.label_column,
            "split": self.split,
            "config_name": self.config_name,
            "split_column": self.split_column,
            "recording_column": self.recording_column,
            "min_event_seconds": self.min_event_seconds,
            "trim_db": self.trim_db,
            "fractions": list(self.fractions),
            "split_map": dict(self.split_map) if self.split_map is not None else None,
            "split_strategy": self.split_strategy,
        }

    def license_note(self) -> str:
        name = "a local dataset" if self.local else f"the dataset {self.path}"
        return f"Audio and labels from {name}: see that dataset's licence."

    def fingerprint(self) -> str | None:
        """What identifies the data besides its name: for a local copy, its files' relative names and sizes
        (`datasets` fingerprints hold the absolute path, so a copy moved to another machine would never
        match); a Hub dataset is identified by the commit recorded as its revision."""
        if not self.local:
            return None
        if self._local_fingerprint is None:
            self._local_fingerprint = local_files_fingerprint(Path(self.path))
        return self._local_fingerprint

    def _datasets(self) -> dict:
        """Dataset split name -> Dataset with the audio column undecoded (loaded once)."""
        if self._splits is None:
            from datasets import Audio, load_dataset_builder

            try:
                builder = load_dataset_builder(self.path, name=self.config_name, revision=self.revision)
                builder.download_and_prepare()
                loaded = builder.as_dataset(split=self.split)
            except Exception as error:  # noqa: BLE001 - name the dataset in one error type
                raise SourceError(f"hf source: cannot load dataset {self.path!r}: {error}") from error
            if not self.local:
                self.resolved_revision = builder.hash  # the Hub commit the data came from (a re-render loads it)
            splits = {self.split: loaded} if self.split is not None else dict(loaded)
            for split_name, dataset in sorted(splits.items()):
                wanted = [c for c in (self.audio_column, self.label_column, self.split_column, self.recording_column) if c]
                missing = [c for c in wanted if c not in dataset.column_names]
                if missing:
                    raise SourceError(
                        f"hf source: dataset {self.path!r} split {split_name!r} has no column(s) {missing}; "
                        f"available columns: {sorted(dataset.column_names)}"
                    )
                dataset = dataset.select_columns(list(dict.fromkeys(wanted)))
                if isinstance(dataset.features[self.audio_column], Audio):
                    dataset = dataset.cast_column(self.audio_column, Audio(decode=False))
                splits[split_name] = dataset
            self._splits = dict(sorted(splits.items()))
            if self.local and self.expected_fingerprint and self.fingerprint() != self.expected_fingerprint:
                warnings.warn(f"hf source {self.path!r}: the data's fingerprint {self.fingerprint()} differs from the "
                              f"recipe's {self.expected_fingerprint}: the audio may differ", stacklevel=2)
        return self._splits

    def _scan(self) -> tuple[list[Event], list[Skip]]:
        splits = self._datasets()
        rows, skipped = [], []  # check labels and splits of every row before decoding any audio
        for split_name, dataset in splits.items():
            namer = _label_namer(dataset.features[self.label_column])
            meta = dataset.select_columns([c for c in (self.label_column, self.split_column, self.recording_column) if c])
            for index, row in enumerate(meta):
                item = f"{split_name}:{index}"
                raw = namer(row[self.label_column])
                if not raw:  # ClassLabel -1 / None: an unlabelled row, not a metadata error
                    rows.append((split_name, index, [], None, ""))
                    continue
                try:
                    try:
                        labels = unique_labels(raw)
                    except ValueError as error:
                        raise BadRow("empty label", f"column {self.label_column!r}: {error}") from None
                    rows.append((split_name, index, labels, self._row_split(row, item), self._row_recording(row, item)))
                except BadRow as bad:
                    if self.strict:
                        raise SourceError(f"hf source: {self.path!r} row {item}: {bad}") from None
                    skipped.append(Skip(item=item, reason=str(bad), kind=bad.kind, label=cut_label(raw[0])))

        events = []
        for split_name, index, labels, split, recording_id in rows:
            item = f"{split_name}:{index}"
            if not labels:
                skipped.append(Skip(item=item, reason=f"no label in column {self.label_column!r}", kind="no label"))
                continue
            if len(labels) > 1:
                skipped.append(Skip(item=item, reason=f"several labels ({', '.join(labels)})", kind="several labels"))
                continue
            label = cut_label(labels[0])
            try:
                samples, sr = _decode_cell(splits[split_name][index][self.audio_column])
            except Exception as error:  # noqa: BLE001 - any decoder failure means an unusable row
                kind = "truncated audio" if isinstance(error, audio_io.TruncatedAudioError) else "unreadable audio"
                skipped.append(Skip(item=item, reason=f"{kind}: {error}", kind=kind, label=label))
                continue
            begin, stop = trimmed_span(samples, sr, self.trim_db)
            if stop <= begin:
                skipped.append(Skip(item=item, reason="silent audio", kind="silent audio", label=label))
                continue
            if stop - begin < self.min_event_seconds * sr:
                skipped.append(Skip(item=item, reason=f"event of {(stop - begin) / sr:.3f} s after trimming silence is shorter than "
                                    f"{self.min_event_seconds} s (--min_event_seconds)", kind="too short", label=label))
                continue
            events.append(Event(
                event_id=item,
                recording_id=recording_id,
                label=labels[0],
                audio=item,
                start=begin / sr,
                end=stop / sr,
                split=split or "",  # "" until _assign_splits sees every event
            ))
        return events, skipped

    def _assign_splits(self, events: list[Event]) -> list[Event]:
        return assign_splits(events, self.fractions, self.split_strategy)

    def _row_split(self, row: dict, item: str) -> str | None:
        if self.split_column is None:
            return None
        value = str(row[self.split_column]).strip()
        if self.split_map is not None:
            if value not in self.split_map:
                raise BadRow("bad split value", f"split value {value!r} of column {self.split_column!r} is not in split_map")
            return self.split_map[value]
        try:
            return normalise_split_name(value)
        except ValueError as error:
            raise BadRow("bad split value", f"column {self.split_column!r}: {error}") from None

    def _row_recording(self, row: dict, item: str) -> str:
        if self.recording_column is None:
            return item
        value = clean_label(row[self.recording_column]) if row[self.recording_column] is not None else ""
        return value or item

    def _load_raw(self, event: Event, sample_rate: int) -> np.ndarray:
        split_name, _, index = event.audio.rpartition(":")
        samples, sr = _decode_cell(self._datasets()[split_name][int(index)][self.audio_column])
        return load_span(samples, sr, event.start, event.end, sample_rate)


def local_files_fingerprint(root: Path) -> str:
    """sha256 of the relative names and sizes of a local dataset's files (hidden ones skipped: caches)."""
    base = root.parent if root.is_file() else root
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for path in files:
        relative = path.relative_to(base)
        if any(part.startswith(".") for part in relative.parts):
            continue
        digest.update(f"{relative.as_posix()}\t{path.stat().st_size}\n".encode())
    return "files:" + digest.hexdigest()[:16]
