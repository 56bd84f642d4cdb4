"""The source interface and the event pool every sampler draws from."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..events import SPLITS, Event, Skip


class SourceError(ValueError):
    """Bad source input (metadata file, column, label, ontology): stops the build before any work."""


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
    """

    name: str = ""
    min_event_seconds: float = 0.5

    def __init__(self) -> None:
        self._events: list[Event] | None = None
        self.skipped: list[Skip] = []
        self._cache: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
        self._cache_size = 64

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
            self._events = sorted(events)
            self.skipped = list(skipped)
        return self._events

    def load(self, event: Event, sample_rate: int) -> np.ndarray:
        """Cached `_load_raw`: a build draws the same events many times."""
        key = (event.event_id, sample_rate)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        samples = np.ascontiguousarray(self._load_raw(event, sample_rate), dtype=np.float32)
        samples.setflags(write=False)
        self._cache[key] = samples
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return samples

    def license_note(self) -> str:
        return "See the licence of the source audio."


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
