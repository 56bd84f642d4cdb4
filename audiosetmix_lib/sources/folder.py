"""Events from a directory of the user's own audio (the Hugging Face `audiofolder` convention).

Two layouts:
- `metadata.csv` with `file_name` and `label` (or `labels`), optional `start`/`end` seconds,
  optional `recording_id` (clips cut from one recording stay in one split) and an optional
  split column named by `split_column` (mapped with `split_map`, e.g. ESC's `fold`);
- no metadata: one sub-folder per label, label = folder name.

The whole metadata file is checked before any audio is decoded. A bad header stops the build;
a bad row (empty label, a path that leaves the folder, directly or through a symlink, an
unparsable start/end or split value) is skipped and reported with its reason, all of them in
one run, unless `strict` asks to stop at the first. Then every used file is decoded once to
trim silence and to skip (and count) missing, empty, truncated or corrupt files and events
shorter than `min_event_seconds` instead of failing mid-build.

Without a split column, splits are made by `events.assign_splits` (`split_strategy`): per
class for small folders, by a hash of the recording id for large ones.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import re
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np

from .. import audio_io
from ..events import SPLIT_STRATEGIES, Event, Skip, assign_splits, cut_label, normalise_split_name
from ..locations import is_remote
from .base import SOURCE_ROOT, Source, SourceError
from .mirror import fetch_one, mirror_all, mirror_dir, remote_is_folder

METADATA_FILE = "metadata.csv"
AUDIO_EXTENSIONS = frozenset(
    {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".aif", ".aiff", ".au", ".w64", ".caf", ".webm", ".mka", ".wma"}
)
# Isolated-event folders (ESC-50, office or foley recordings) hold clicks, knocks and taps of
# 0.1-0.3 s; 0.1 s keeps those and drops only near-empty clips (the renderer mixes events of any
# length; a 0.1 s event still spans 5 frames of the 20 ms silence trimmer).
DEFAULT_MIN_EVENT_SECONDS = 0.1
DEFAULT_ENCODING = "utf-8-sig"  # UTF-8, with or without the byte-order mark Excel writes


def clean_label(text: str) -> str:
    """A raw label with surrounding whitespace removed; `Source.events()` cuts it (one rule for all sources)."""
    return str(text).strip()


class BadRow(ValueError):
    """One unusable metadata row: `kind` is the short reason the build summary counts."""

    def __init__(self, kind: str, message: str, item: str = "", label: str = "") -> None:
        super().__init__(message)
        self.kind, self.item, self.label = kind, item, label


def parse_labels(text: str) -> list[str]:
    """A `labels` cell: JSON list text ('["Dog", "Rain"]') or a ';'/'|'-separated string."""
    text = str(text).strip()
    if text.startswith("["):
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"labels {text!r} is not a valid JSON list ({error.msg})") from None
        if not isinstance(values, list):
            raise ValueError(f"labels {text!r} is not a list")
        return [str(value) for value in values]
    return re.split(r"[;|]", text)


def unique_labels(labels: list[str]) -> list[str]:
    """Stripped labels in order of appearance, duplicates (equal once cut) removed; ValueError on an empty one."""
    cleaned = [clean_label(label) for label in labels]
    if not cleaned or any(not label for label in cleaned):
        raise ValueError("empty label")
    first: dict[str, str] = {}
    for label in cleaned:
        first.setdefault(cut_label(label), label)
    return list(first.values())


def trimmed_span(samples: np.ndarray, sr: int, trim_db: float) -> tuple[int, int]:
    """[begin, end) sample bounds without leading/trailing silence (0, 0 when all silent)."""
    return audio_io.trim_silence(samples, sr, threshold_db=trim_db)


def load_span(samples: np.ndarray, sr_in: int, start: float, end: float, sr_out: int) -> np.ndarray:
    """Cut [start, end) seconds at the native rate, then resample: one rounding rule for every source."""
    begin = max(0, int(round(start * sr_in)))
    stop = min(len(samples), int(round(end * sr_in)))
    return audio_io.resample(samples[begin:stop], sr_in, sr_out)


def _number(value: str) -> float | None:
    text = str(value).strip()
    if not text:
        return None
    number = float(text)  # ValueError for non-numeric text
    if not math.isfinite(number):
        raise ValueError(f"{text!r} is not finite")
    return number


class FolderSource(Source):
    """Labelled clips from a local folder, or from an object store (an fsspec URL: read through a local
    mirror, `sources.mirror`); the licence is that of the user's audio."""

    name = "folder"

    def __init__(
        self,
        path: str,
        min_event_seconds: float = DEFAULT_MIN_EVENT_SECONDS,
        split_column: str | None = None,
        split_map: dict | None = None,
        trim_db: float = -40.0,
        fractions=(0.8, 0.1, 0.1),
        split_strategy: str = "auto",
        strict: bool = False,
        metadata_encoding: str = DEFAULT_ENCODING,
    ) -> None:
        super().__init__(strict=strict)
        try:
            self.metadata_encoding = codecs.lookup(metadata_encoding).name if metadata_encoding != DEFAULT_ENCODING \
                else DEFAULT_ENCODING
        except LookupError:
            raise SourceError(f"folder source: unknown metadata encoding {metadata_encoding!r} (--metadata_encoding): "
                              f"give a Python codec name such as utf-8, cp1252, latin-1 or utf-16") from None
        self.url = str(path).rstrip("/") if is_remote(path) else None
        if self.url is not None:
            self.root = mirror_dir(self.url)
            try:
                found = remote_is_folder(self.url)
            except Exception as error:  # noqa: BLE001 - every backend has its own errors (botocore, google-auth, OSError)
                raise SourceError(f"folder source: cannot read {self.url} ({type(error).__name__}: {str(error)[:200]}); "
                                  f"check the bucket and this machine's credentials") from None
            if not found:
                raise SourceError(f"folder source: {self.url} is not a folder")
        else:
            self.root = Path(path).expanduser().resolve()
            if not self.root.is_dir():
                raise SourceError(f"folder source: {self.root} is not a directory")
        if split_strategy not in SPLIT_STRATEGIES:
            raise SourceError(f"folder source: split_strategy must be one of {', '.join(SPLIT_STRATEGIES)}, got {split_strategy!r}")
        self.split_strategy = split_strategy
        self.min_event_seconds = float(min_event_seconds)
        self.split_column = split_column
        self.trim_db = float(trim_db)
        self.fractions = tuple(float(f) for f in fractions)
        if len(self.fractions) != 3 or min(self.fractions) < 0 or sum(self.fractions) <= 0:
            raise SourceError(f"folder source: fractions must be three non-negative numbers, got {fractions!r}")
        self.split_map = None
        if split_map is not None:
            if split_column is None:
                raise SourceError("folder source: split_map needs split_column")
            try:
                self.split_map = {str(k).strip(): normalise_split_name(v) for k, v in sorted(split_map.items())}
            except ValueError as error:
                raise SourceError(f"folder source: split_map: {error}") from None

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self.url is not None:  # a worker on another machine keeps its own mirror
            self.root = mirror_dir(self.url)

    def source_root(self) -> str | None:
        return self.url or str(self.root)

    def spec(self) -> dict:
        return {
            "name": self.name,
            "path": SOURCE_ROOT,  # events' audio refs are relative to it
            "min_event_seconds": self.min_event_seconds,
            "split_column": self.split_column,
            "split_map": dict(self.split_map) if self.split_map is not None else None,
            "trim_db": self.trim_db,
            "fractions": list(self.fractions),
            "split_strategy": self.split_strategy,
            **({"metadata_encoding": self.metadata_encoding} if self.metadata_encoding != DEFAULT_ENCODING else {}),
        }

    def license_note(self) -> str:
        return "Audio from the user's own folder: its licence is that of the user's audio."

    # -- scanning ---------------------------------------------------------------------------

    def _scan(self) -> tuple[list[Event], list[Skip]]:
        if self.url is not None:
            self.root.mkdir(parents=True, exist_ok=True)
            mirror_all(self.url, self.root)  # every file is decoded once below: copy what this machine lacks
        metadata = self.root / METADATA_FILE
        if metadata.is_file():
            rows, skipped = self._read_metadata(metadata)
        else:
            if self.split_column is not None:
                raise SourceError(f"folder source: split_column={self.split_column!r} needs {metadata}")
            rows, skipped = self._read_subfolders()
        events = self._decode(rows, skipped)
        return events, skipped

    def _read_metadata(self, metadata: Path) -> tuple[list[dict], list[Skip]]:
        """Parse and validate every row; raise SourceError naming file, row and problem."""
        rows: list[dict] = []
        skipped: list[Skip] = []
        with io.StringIO(self._metadata_text(metadata), newline="") as handle:
            reader = csv.reader(handle)
            header = [column.strip() for column in next(reader, [])]
            where = f"{metadata}"
            if "file_name" not in header:
                raise SourceError(f"{where}: no 'file_name' column (columns: {header})")
            label_column = "label" if "label" in header else "labels" if "labels" in header else None
            if label_column is None:
                raise SourceError(f"{where}: no 'label' or 'labels' column (columns: {header})")
            if self.split_column is not None and self.split_column not in header:
                raise SourceError(f"{where}: no split column {self.split_column!r} (columns: {header})")
            index = {column: i for i, column in reversed(list(enumerate(header)))}
            for row_number, cells in enumerate(reader, start=1):
                if not any(cell.strip() for cell in cells):
                    continue
                at = f"{METADATA_FILE}, row {row_number} (line {reader.line_num})"
                try:
                    if len(cells) != len(header):
                        raise BadRow("field count", f"{len(cells)} fields, the header has {len(header)}")
                    cell = {column: cells[i] for column, i in index.items()}
                    rows_or_skip = self._parse_row(cell, label_column, at)
                except BadRow as bad:
                    if self.strict:
                        raise SourceError(f"{where}, row {row_number} (line {reader.line_num}): {bad}") from None
                    skipped.append(Skip(item=bad.item or f"row {row_number}", reason=f"{bad} at {at}", kind=bad.kind,
                                        label=cut_label(bad.label)))
                    continue
                if isinstance(rows_or_skip, Skip):
                    skipped.append(rows_or_skip)
                else:
                    rows.append(rows_or_skip)
        return rows, skipped

    def _metadata_text(self, metadata: Path) -> str:
        """The whole file decoded; a byte the encoding cannot read is reported by line (a build stops on it)."""
        data = metadata.read_bytes()
        try:
            return data.decode(self.metadata_encoding)
        except UnicodeDecodeError as error:
            line = data[:error.start].count(b"\n") + 1
            column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
            name = "UTF-8" if self.metadata_encoding == DEFAULT_ENCODING else self.metadata_encoding
            raise SourceError(f"{metadata}: line {line}, column {column}: byte 0x{data[error.start]:02x} is not "
                              f"{name} text: save the file as UTF-8, or give its encoding with --metadata_encoding "
                              f"(e.g. cp1252 or latin-1 for files from Excel on Windows)") from None

    def _inside(self, file_name: str) -> bool:
        """True when the path, symlinks followed, stays inside the folder."""
        try:
            return (self.root / file_name).resolve().is_relative_to(self.root)
        except (OSError, ValueError):  # a symlink loop, a NUL byte: not a usable path inside the folder
            return False

    def _parse_row(self, cell: dict, label_column: str, at: str) -> dict | Skip:
        """One row as a dict, a Skip for a valid row the source cannot use, or BadRow."""
        file_name = cell["file_name"].strip().replace("\\", "/")
        if not file_name:
            raise BadRow("empty file_name", "empty file_name")
        posix = PurePosixPath(file_name)
        if posix.is_absolute() or PureWindowsPath(file_name).drive:
            raise BadRow("path escape", f"file_name {file_name!r} is an absolute path: give it relative to the source "
                         "folder (the dataset stores it, and paths of this machine must not be in it)", item=file_name)
        if ".." in posix.parts or not self._inside(str(posix)):
            raise BadRow("path escape", f"file_name {file_name!r} leads outside the source folder ('..' or a symlink "
                         "to elsewhere)", item=file_name)
        file_name = str(posix)
        try:
            raw = [cell["label"]] if label_column == "label" else parse_labels(cell["labels"])
            labels = unique_labels(raw)
        except ValueError as error:
            kind = "empty label" if "empty label" in str(error) else "bad labels cell"
            raise BadRow(kind, f"{label_column}: {error}", item=file_name) from None
        raw_label = labels[0]
        try:
            start, end = _number(cell.get("start", "")), _number(cell.get("end", ""))
        except ValueError as error:
            raise BadRow("bad start/end", f"start/end must be numbers of seconds ({error})", file_name, raw_label) from None
        if start is not None and start < 0:
            raise BadRow("bad start/end", f"start {start} is negative", file_name, raw_label)
        if end is not None and end <= (start or 0.0):
            raise BadRow("bad start/end", f"end {end} is not after start {start or 0.0}", file_name, raw_label)
        split = None
        if self.split_column is not None:
            value = cell[self.split_column].strip()
            if self.split_map is not None:
                if value not in self.split_map:
                    raise BadRow("bad split value", f"split value {value!r} of column {self.split_column!r} is not in split_map",
                                 file_name, raw_label)
                split = self.split_map[value]
            else:
                try:
                    split = normalise_split_name(value)
                except ValueError as error:
                    raise BadRow("bad split value", f"column {self.split_column!r}: {error}; map its values with "
                                 f"split_map (CLI: --split_map '{{\"1\": \"train\", ...}}')", file_name, raw_label) from None
        if len(labels) > 1:
            return Skip(item=file_name, reason=f"several labels ({', '.join(labels)}) at {at}", kind="several labels")
        recording_id = cell.get("recording_id", "").strip() or file_name
        return {"file_name": file_name, "label": labels[0], "start": start, "end": end, "split": split, "recording_id": recording_id, "at": at}

    def _read_subfolders(self) -> tuple[list[dict], list[Skip]]:
        folders = sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        rows, skipped = [], []
        for folder in folders:
            label = clean_label(folder.name)
            files = sorted(
                p for p in folder.rglob("*")
                if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS and not p.name.startswith(".")
            )
            for file in files:
                file_name = file.relative_to(self.root).as_posix()
                if not self._inside(file_name):
                    message = "a symlink that leads outside the source folder"
                    if self.strict:
                        raise SourceError(f"folder source: {file_name}: {message}")
                    skipped.append(Skip(item=file_name, reason=message, kind="path escape", label=cut_label(label)))
                    continue
                rows.append({"file_name": file_name, "label": label, "start": None, "end": None, "split": None, "recording_id": file_name, "at": file_name})
        if not folders:
            raise SourceError(f"folder source: {self.root} has neither {METADATA_FILE} nor label sub-folders")
        return rows, skipped

    def _decode(self, rows: list[dict], skipped: list[Skip]) -> list[Event]:
        """Decode each file once; trim each row's span; skip unusable files and short events."""
        by_file: dict[str, list[dict]] = {}
        for row in rows:
            by_file.setdefault(row["file_name"], []).append(row)
        events: dict[str, Event] = {}
        for file_name in sorted(by_file):
            try:
                samples, sr = audio_io.read_audio(self.root / file_name)
            except audio_io.AudioReadError as error:
                kind = self._read_error_kind(file_name, error)
                reason = str(error).replace(str(self.root) + "/", "")  # relative paths only in reports
                for row in by_file[file_name]:
                    skipped.append(Skip(item=file_name, reason=f"{kind}: {reason}", kind=kind, label=cut_label(row["label"])))
                continue
            duration = len(samples) / sr
            for row in by_file[file_name]:
                event = self._event(row, samples, sr, duration, skipped)
                if event is None:
                    continue
                if event.event_id in events:
                    skipped.append(Skip(item=file_name, reason=f"duplicate event {event.event_id} at {row['at']}", kind="duplicate event"))
                    continue
                events[event.event_id] = event
        return list(events.values())

    @staticmethod
    def _read_error_kind(file_name: str, error: audio_io.AudioReadError) -> str:
        if isinstance(error, audio_io.TruncatedAudioError):
            return "truncated audio"
        text = str(error)
        if text.endswith("file not found"):
            return "missing file"
        if text.endswith("empty file"):
            return "empty file"
        return "unreadable audio"

    def _event(self, row: dict, samples: np.ndarray, sr: int, duration: float, skipped: list[Skip]) -> Event | None:
        def skip(kind: str, reason: str) -> None:
            skipped.append(Skip(item=row["file_name"], reason=f"{reason} at {row['at']}", kind=kind, label=cut_label(row["label"])))

        start = row["start"] or 0.0
        end = duration if row["end"] is None else min(row["end"], duration)
        if end <= start:
            skip("span after the end", f"span starts at {start:.3f} s, after the end of the audio ({duration:.3f} s)")
            return None
        offset = int(round(start * sr))
        begin, stop = trimmed_span(samples[offset: int(round(end * sr))], sr, self.trim_db)
        if stop <= begin:
            skip("silent audio", "silent audio")
            return None
        start, end = (offset + begin) / sr, (offset + stop) / sr
        if end - start < self.min_event_seconds:
            skip("too short", f"event of {end - start:.3f} s after trimming silence is shorter than "
                 f"{self.min_event_seconds} s (--min_event_seconds)")
            return None
        split = row["split"] or ""  # "" until _assign_splits sees every event
        return Event(
            event_id=f"{row['file_name']}#{start:.3f}-{end:.3f}",
            recording_id=row["recording_id"],
            label=row["label"],
            audio=row["file_name"],
            start=start,
            end=end,
            split=split,
        )

    def _assign_splits(self, events: list[Event]) -> list[Event]:
        return assign_splits(events, self.fractions, self.split_strategy)

    def source_file(self, event: Event) -> Path:
        """The event's file on this machine (fetched into the mirror first for a remote folder)."""
        if self.url is not None:
            fetch_one(self.url, self.root, event.audio)
        return self.root / event.audio

    def _load_raw(self, event: Event, sample_rate: int) -> np.ndarray:
        samples, sr = audio_io.read_audio(self.source_file(event))
        return load_span(samples, sr, event.start, event.end, sample_rate)
