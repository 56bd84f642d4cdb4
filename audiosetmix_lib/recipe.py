"""The Recipe: plain, complete, versioned data from which audio, caption and negatives follow."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace

from . import __version__
from .events import Event
from .transforms import MODIFIER_NAMES, duration_factor, tempo_of

RECIPE_VERSION = 1


@dataclass(frozen=True)
class EventSpec:
    """One event of a clip: which audio, which part of it, what was done, and where it sits.

    relation: None for the first event; "follow" (starts `gap` s after everything so far
    ends) or "overlap" (starts `overlap_at` of the way into the previous event).
    """

    event: Event
    segment_start: float  # seconds into the event
    segment_duration: float  # seconds of source audio used
    transforms: dict = field(default_factory=dict)
    relation: str | None = None
    gap: float = 0.0
    overlap_at: float = 0.0
    onset: float = 0.0  # seconds, derived by `layout`

    @property
    def label(self) -> str:
        return self.event.label

    @property
    def output_duration(self) -> float:
        return self.segment_duration / tempo_of(self.transforms) * duration_factor(self.transforms)

    @property
    def end(self) -> float:
        return self.onset + self.output_duration

    @property
    def gain_db(self) -> float:
        return self.transforms.get("volume", {}).get("gain_db", 0.0)

    def modifiers(self) -> list[str]:
        return [MODIFIER_NAMES[(name, params["direction"])] for name, params in sorted(self.transforms.items())]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["event"] = self.event.to_dict()
        data["end"] = round(self.end, 6)  # stored for readers; derived again on load
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "EventSpec":
        data = dict(data)
        data.pop("end", None)
        data["event"] = Event.from_dict(data["event"])
        return cls(**data)


def layout(events: list[EventSpec]) -> list[EventSpec]:
    """Onsets from relations: a follow starts after everything so far; an overlap inside its predecessor."""
    placed: list[EventSpec] = []
    end_so_far = 0.0
    for i, spec in enumerate(events):
        if i == 0:
            onset = 0.0
        elif spec.relation == "overlap":
            previous = placed[-1]
            onset = previous.onset + spec.overlap_at * previous.output_duration
        else:
            onset = end_so_far + spec.gap
        spec = replace(spec, onset=round(onset, 6), relation=None if i == 0 else (spec.relation or "follow"))
        placed.append(spec)
        end_so_far = max(end_so_far, spec.end)
    return placed


@dataclass(frozen=True)
class Recipe:
    """Everything needed to re-render a row: source spec, events, render settings, seeds, versions."""

    split: str
    index: int
    seed: int
    sample_rate: int
    source: dict
    events: list[EventSpec]
    render: dict  # fade_seconds, reference_dbfs, active_range_db, limiter_threshold_dbfs, max_duration
    caption_seed: int = 0
    version: int = RECIPE_VERSION
    library_version: str = __version__
    limiter_gain_reduction_db: float | None = None  # filled in by the renderer's caller

    @property
    def id(self) -> str:
        return f"{self.split}-{self.index}"

    @property
    def duration(self) -> float:
        return min(self.render["max_duration"], max((e.end for e in self.events), default=0.0))

    @property
    def labels(self) -> list[str]:
        return [e.label for e in self.events]

    def modifiers(self) -> list[str]:
        return [m for e in self.events for m in e.modifiers()]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["events"] = [e.to_dict() for e in self.events]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict) -> "Recipe":
        data = dict(data)
        version = data.get("version")
        if version != RECIPE_VERSION:
            raise ValueError(f"recipe version {version!r} is not supported (expected {RECIPE_VERSION})")
        data["events"] = [EventSpec.from_dict(e) for e in data["events"]]
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> "Recipe":
        return cls.from_dict(json.loads(text))

    def with_events(self, events: list[EventSpec]) -> "Recipe":
        """A copy with other events (re-laid out): how negatives perturb a recipe."""
        return replace(self, events=layout(events), limiter_gain_reduction_db=None)
