"""The Recipe: plain, complete, versioned data from which audio, caption and negatives follow."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from importlib import metadata

from . import __version__
from .events import Event

# 3: the render version in `versions`, each event's source fingerprint (`EventSpec.source_fingerprint`)
RECIPE_VERSION = 3
READABLE_VERSIONS = (2, 3)  # a version-2 recipe reads with neither (a re-render says it cannot check them)
# Bump when the same drawn recipe comes out as other bytes (what rendering measures and stores, or
# how it renders), so a build started by an older renderer is not resumed with this one's shards,
# and a stored recipe re-rendered by another renderer says so.
# 2: the filter measures its cut-off on a zero-padded FFT (transforms/filter.py).
# 3: a drawn recipe whose caption cannot be said whole in 30 words loses its last events (rows.RowMaker.recipe).
RENDER_VERSION = 3
# Distributions whose versions shape the rendered samples (a re-render warns when one differs).
SHAPING_PACKAGES = ("python-stretch", "soxr", "numpy", "scipy")


def shaping_versions() -> dict:
    """Versions of this library, its renderer and the packages that shape the samples, as installed now."""
    return dict(_installed_versions())


@lru_cache(maxsize=1)
def _installed_versions() -> tuple:
    out = {"audiosetmix": __version__, "render": RENDER_VERSION}
    for name in SHAPING_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return tuple(out.items())


def _fields(obj) -> dict:
    """A dataclass's fields by name, values shared (for serialising only; `to_dict` gives copies)."""
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


@dataclass(frozen=True)
class EventSpec:
    """One event of a clip: which audio, which part of it, what was done, and where it sits.

    relation: None for the first event; "follow" (starts `gap` s after everything so far
    ends) or "overlap" (starts `overlap_at` of the way into the previous event).
    `onset` and `end` are derived by `relations.layout` (which reads the transform registry),
    so this type needs no transform knowledge; a spec built by hand is laid out before use.
    """

    event: Event
    segment_start: float  # seconds into the event
    segment_duration: float  # seconds of source audio used
    transforms: dict = field(default_factory=dict)
    relation: str | None = None
    gap: float = 0.0
    overlap_at: float = 0.0
    onset: float = 0.0  # seconds, derived by `relations.layout`
    end: float = 0.0  # seconds (6 decimals, as stored), derived by `relations.layout`; for readers: the
    # exact length is `transforms.length_of(spec)`, which the planner and the descriptions use
    source_fingerprint: str | None = None  # "<bytes>:<blake2b>" of the source audio it was built from
    # (`provenance.fingerprinted`; None in a recipe not yet built into a row, or of recipe version 2)

    @property
    def label(self) -> str:
        return self.event.label

    def segment_bounds(self, sample_rate: int) -> tuple[int, int]:
        """The sample range [begin, end) of the event's audio this spec uses."""
        begin = int(round(self.segment_start * sample_rate))
        return begin, begin + int(round(self.segment_duration * sample_rate))

    def placed(self, relation: str | None, onset: float, end: float) -> "EventSpec":
        """This spec where `relations.layout` puts it. Same result as `dataclasses.replace` (no field
        checks to run), without its per-call introspection: the planner lays out ~100 plans a row."""
        spec = object.__new__(type(self))
        spec.__dict__.update(self.__dict__, relation=relation, onset=onset, end=end)
        return spec

    def to_dict(self) -> dict:
        data = asdict(self)
        data["event"] = self.event.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "EventSpec":
        data = dict(data)
        data["event"] = Event.from_dict(data["event"])
        return cls(**data)


@dataclass(frozen=True)
class Recipe:
    """Everything needed to re-render a row: source spec, events, render settings, seeds, versions."""

    split: str
    index: int
    seed: int
    sample_rate: int
    source: dict
    events: list[EventSpec]
    render: dict  # fade_seconds, reference_dbfs, active_range_db, limiter_threshold_dbfs, max_duration[, min_duration]
    describe: dict  # how the description reads the events: background_db
    caption_seed: int = 0
    version: int = RECIPE_VERSION
    versions: dict = field(default_factory=shaping_versions)  # of what shapes the samples, at build time
    # What rendering measured (limiter_gain_reduction_db): an output beside the spec, not part of
    # it; `spec_json` leaves it out, negatives and re-layouts drop it.
    render_output: dict | None = None

    @property
    def limiter_gain_reduction_db(self) -> float | None:
        return (self.render_output or {}).get("limiter_gain_reduction_db")

    @property
    def id(self) -> str:
        return f"{self.split}-{self.index}"

    @property
    def duration(self) -> float:
        end = max(max((e.end for e in self.events), default=0.0), self.render.get("min_duration", 0.0))  # a short clip's pad
        return min(self.render["max_duration"], end)

    @property
    def labels(self) -> list[str]:
        return [e.label for e in self.events]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["events"] = [e.to_dict() for e in self.events]
        return data

    def to_json(self) -> str:
        """The same text as `json.dumps(self.to_dict(), ...)`, without `asdict`'s deep copies (a row writes
        five recipes: this was a tenth of a build's time)."""
        data = _fields(self)
        data["events"] = [dict(_fields(e), event=_fields(e.event)) for e in self.events]
        return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))

    def spec_json(self) -> str:
        """The spec alone (no render output): what identifies the row's audio."""
        data = self.to_dict()
        data.pop("render_output", None)
        return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))

    def version_differences(self, installed: dict | None = None) -> dict:
        """name -> (recorded, installed) for every shaping package whose version differs."""
        installed = installed or shaping_versions()
        return {k: (v, installed.get(k)) for k, v in sorted(self.versions.items()) if installed.get(k) != v}

    @classmethod
    def from_dict(cls, data: dict) -> "Recipe":
        data = dict(data)
        version = data.get("version")
        if version not in READABLE_VERSIONS:
            raise ValueError(f"recipe version {version!r} is not supported (this library reads {READABLE_VERSIONS})")
        data["events"] = [EventSpec.from_dict(e) for e in data["events"]]
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> "Recipe":
        return cls.from_dict(json.loads(text))
