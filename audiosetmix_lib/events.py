"""Labelled sound events, the unit every source yields, and how they are assigned to splits."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True, order=True)
class Event:
    """One labelled sound event: a span [start, end) of an audio reference.

    `audio` is a reference the owning source knows how to load (a path relative to the
    source root, a synth spec, a dataset row); it is plain data so recipes stay JSON.
    """

    event_id: str
    recording_id: str
    label: str
    audio: str
    start: float
    end: float
    split: str

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Event":
        return cls(**data)


@dataclass(frozen=True)
class Skip:
    """An input the source could not use, with the reason (reported in the build summary)."""

    item: str
    reason: str


def hash_split(recording_id: str, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> str:
    """Assign a recording to a split by hashing its id: stable, and no recording feeds two splits."""
    digest = hashlib.sha1(recording_id.encode("utf-8")).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    total = sum(fractions)
    edge = 0.0
    for split, fraction in zip(SPLITS, fractions):
        edge += fraction / total
        if u < edge:
            return split
    return SPLITS[-1]


def normalise_split_name(value: str) -> str:
    """Map common spellings ('val', 'dev', 'valid', 'eval') to the three split names."""
    text = str(value).strip().lower()
    aliases = {"val": "validation", "valid": "validation", "dev": "validation", "eval": "test"}
    text = aliases.get(text, text)
    if text not in SPLITS:
        raise ValueError(f"unknown split name {value!r}: expected one of {', '.join(SPLITS)}")
    return text
