"""The source interface and the event pool every sampler draws from."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..audio_io import AudioReadError
from ..events import SPLITS, Event, Skip, cut_label, label_problem
from .event_cache import EventCache


class SourceError(ValueError):
    """Bad source input (metadata file, column, label, ontology): stops the build before any work."""


class SourceFileLost(SourceError):
    """A file the scan read can no longer be read mid-build (deleted, moved, made unreadable).

    The build stops rather than render the row without it: a row must not depend on when a file
    went missing (the same config and seed give the same bytes), and the finished shards stay."""


# Source specs name local files relative to this symbol, never by the build machine's absolute
# path; `render --source_root DIR` (`sources.from_spec(spec, source_root)`) puts a folder in its place.
SOURCE_ROOT = "<source_root>"


def symbolic_path(path, root) -> str:
    """`path` as SOURCE_ROOT or SOURCE_ROOT/relative/part (it must lie inside `root`)."""
    relative = Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    return SOURCE_ROOT if relative == "." else f"{SOURCE_ROOT}/{relative}"


def uses_source_root(spec: dict) -> bool:
    return any(isinstance(v, str) and v.startswith(SOURCE_ROOT) for v in spec.values())


def with_source_root(spec: dict, source_root) -> dict:
    """The spec with SOURCE_ROOT replaced by a real folder (an error names the flag when none is given)."""
    if not uses_source_root(spec):
        return dict(spec)
    if source_root is None:
        raise SourceError(f"the {spec.get('name')!r} source names its files relative to {SOURCE_ROOT}: pass the folder "
                          "the dataset was built from (render --source_root DIR)")
    root = Path(source_root).expanduser().resolve()
    return {k: str(root / v[len(SOURCE_ROOT):].lstrip("/")) if isinstance(v, str) and v.startswith(SOURCE_ROOT) else v
            for k, v in spec.items()}


class Source(ABC):
    """A provider of labelled events.

    Subclasses set `name`, implement `_scan()` (validate inputs, return events and skips) and
    `_load_raw(event, sample_rate)` (the event's span as mono float32 at `sample_rate`).
    `spec()` is plain JSON that `sources.from_spec` turns back into an equal source, so a
    recipe can be re-rendered from the row alone.

    Every source's labels pass through `events()`, the one place they are cleaned: cut with
    `events.cut_label`, too-long or empty ones skipped, every changed label recorded in
    `label_changes` (raw -> cut). With `strict`, a bad input row raises instead of being skipped.
    """

    name: str = ""
    min_event_seconds: float = 0.5

    def __init__(self, strict: bool = False) -> None:
        self.strict = bool(strict)
        self._events: list[Event] | None = None
        self.skipped: list[Skip] = []
        self.label_changes: dict[str, str] = {}
        self._cache = EventCache()  # bounded by bytes: memory stays flat in dataset size
        self._fingerprints: dict = {}  # file (or event and rate) -> fingerprint, computed once per process

    @abstractmethod
    def spec(self) -> dict:
        """JSON-serialisable arguments that rebuild this source (local files relative to SOURCE_ROOT)."""

    def source_root(self) -> str | None:
        """The folder SOURCE_ROOT stands for on this machine (None: the spec names no local files)."""
        return None

    @abstractmethod
    def _scan(self) -> tuple[list[Event], list[Skip]]:
        """Read and validate the inputs. Raise SourceError for bad metadata; skip bad clips."""

    @abstractmethod
    def _load_raw(self, event: Event, sample_rate: int) -> np.ndarray:
        """The event's [start, end) span, mono float32 at sample_rate."""

    def events(self) -> list[Event]:
        if self._events is None:
            events, skipped = self._scan()
            events, label_skips = self._clean_labels(events)
            self._events = sorted(self._assign_splits(events))
            self.skipped = list(skipped) + label_skips
        return self._events

    def _clean_labels(self, events: list[Event]) -> tuple[list[Event], list[Skip]]:
        kept, skipped = [], []
        for event in events:
            label = cut_label(event.label)
            problem = label_problem(label)
            if problem is not None:
                words = f" ({len(label.split())} words after cutting; at most 6)" if problem == "long label" else ""
                message = f"label {event.label!r}: {problem}{words}"
                if self.strict:
                    raise SourceError(f"{event.audio}: {message}")
                skipped.append(Skip(item=event.audio, reason=message, kind=problem))
                continue
            if label != event.label:
                self.label_changes[event.label] = label
                event = replace(event, label=label)
            kept.append(event)
        return kept, skipped

    def _assign_splits(self, events: list[Event]) -> list[Event]:
        """Hook for sources that split after scanning (per-class stratified splits need every event)."""
        return events

    def lost_classes(self) -> dict[str, dict[str, int]]:
        """Classes that had inputs but kept no event: label -> {skip kind: count}."""
        present = {event.label for event in self.events()}
        lost: dict[str, Counter] = {}
        for skip in self.skipped:
            if skip.label and skip.label not in present:
                lost.setdefault(skip.label, Counter())[skip.kind] += 1
        return {label: dict(counts) for label, counts in sorted(lost.items())}

    def load(self, event: Event, sample_rate: int) -> np.ndarray:
        """Cached `_load_raw`: a build draws the same events many times."""
        key = (event.event_id, sample_rate)
        samples = self._cache.get(key)
        if samples is not None:
            return samples
        try:
            raw = self._load_raw(event, sample_rate)
        except (OSError, AudioReadError) as error:
            raise SourceFileLost(
                f"source file {event.audio} can no longer be read ({_why(error)}), though the scan at the start of the "
                f"build read it: restore it (or its permissions) and run the same command to resume (the finished "
                f"shards are kept); without it the source is a different one (a new build)") from None
        samples = np.ascontiguousarray(raw, dtype=np.float32)
        samples.setflags(write=False)
        self._cache.put(key, samples)
        return samples

    def source_file(self, event: Event) -> Path | None:
        """The local file an event's audio is read from (None: the source reads no local file for it)."""
        return None

    def fingerprint(self, event: Event, sample_rate: int) -> str:
        """Size and content hash of the audio an event is read from: its file's bytes (read once per file and
        process), or, for a source without files, the event's decoded samples at `sample_rate`."""
        known = self.__dict__.setdefault("_fingerprints", {})
        path = self.source_file(event)
        key = str(path) if path is not None else (event.event_id, sample_rate)
        if key not in known:
            if path is None:
                known[key] = fingerprint_bytes(memoryview(self.load(event, sample_rate)).cast("B"))
            else:
                with open(path, "rb") as file:
                    digest = hashlib.file_digest(file, lambda: hashlib.blake2b(digest_size=FINGERPRINT_DIGEST_BYTES))
                known[key] = f"{path.stat().st_size}:{digest.hexdigest()}"
        return known[key]

    def license_note(self) -> str:
        return "See the licence of the source audio."


FINGERPRINT_DIGEST_BYTES = 16


def fingerprint_bytes(data) -> str:
    """'<size>:<blake2b>' of some bytes: what `Source.fingerprint` stores in a recipe."""
    return f"{len(data)}:{hashlib.blake2b(data, digest_size=FINGERPRINT_DIGEST_BYTES).hexdigest()}"


def _why(error: Exception) -> str:
    """The reader's reason without the build machine's folder (the file is named relative to its source)."""
    if isinstance(error, OSError):
        return error.strerror or type(error).__name__
    for short in ("file not found", "empty file", "no audio samples", "non-finite samples", "truncated"):
        if short in str(error):  # read_audio's "<path>: <reason> (<decoder's details>)"
            return short
    return "cannot be decoded as audio"


@dataclass
class EventPool:
    """Events grouped by split and class, in a stable order, for seeded sampling."""

    events: list[Event]
    by_split: dict[str, dict[str, list[Event]]] = field(init=False)

    def __post_init__(self) -> None:
        self.by_split = {split: {} for split in SPLITS}
        for event in sorted(self.events):
            self.by_split[event.split].setdefault(event.label, []).append(event)
        for split in self.by_split:
            self.by_split[split] = dict(sorted(self.by_split[split].items()))

    def classes(self, split: str) -> list[str]:
        return list(self.by_split[split])

    def all_classes(self) -> list[str]:
        return sorted({event.label for event in self.events})

    def counts(self) -> dict[str, int]:
        return {split: sum(len(v) for v in classes.values()) for split, classes in self.by_split.items()}
