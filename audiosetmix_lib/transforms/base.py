"""What every transform module provides, and the small helpers they share.

A transform module is the one place a modifier lives: its settings (ranges, probability) with
defaults, `sample`, a pure `apply`, `flip` (the opposite direction, for hard negatives), its
modifier names and its words, and `check`: how its claim is measured from the sound. The registry (`transforms/__init__.py`) lists the modules.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from ..typed_settings import require_range, typed_value

DIRECTIONS = ("up", "down")


@dataclass(frozen=True)
class Words:
    """How captions say one direction of a modifier.

    adj/adv: the template's words (adverbs may be empty: then the adjective is always used);
    extra: further words an LLM caption may use (the validator accepts them, the template never
    writes them). The words of the other direction are the ones that contradict these.
    """

    adj: tuple[str, ...]
    adv: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()

    @property
    def all(self) -> tuple[str, ...]:
        return (*self.adj, *self.adv, *self.extra)


@dataclass(frozen=True)
class Check:
    """One claim of a modifier measured from the sound: what was claimed, the measured value and the
    value it had to pass (stated beside it in verify's report)."""

    claim: str  # e.g. "volume up"
    measured: float  # e.g. 8.7 (nan when the sound gives nothing to measure: then it fails)
    threshold: float  # e.g. 3.0
    unit: str  # "dB", "semitones", "ratio", ...
    passed: bool


def at_least(claim: str, measured: float, threshold: float, unit: str) -> Check:
    """Passed when `measured` >= `threshold` (nan never passes)."""
    return Check(claim, float(measured), float(threshold), unit, bool(measured >= threshold))


def at_most(claim: str, measured: float, threshold: float, unit: str) -> Check:
    """Passed when `measured` <= `threshold` (nan never passes)."""
    return Check(claim, float(measured), float(threshold), unit, bool(measured <= threshold))


def signed_check(name: str, params: dict, change: float, threshold: float, unit: str) -> Check:
    """A change that must be >= `threshold` for "up" and <= -`threshold` for "down"."""
    claim = f"{name} {params['direction']}"
    if params["direction"] == "up":
        return at_least(claim, round(change, 3), threshold, unit)
    return at_most(claim, round(change, 3), -threshold, unit)


def same_length(params: dict) -> float:
    """`length_factor` of a transform that keeps the length."""
    return 1.0


def same_level(params: dict) -> float:
    """`level_db` of a transform that keeps the level."""
    return 0.0


def span(bounds, unit: str = "", signed: bool = False) -> str:
    """'+6..+12 dB' (signed) / '0.6..0.77': a settings range as the card prints it."""
    form = "+g" if signed else "g"
    return f"{bounds[0]:{form}}..{bounds[1]:{form}}{unit}"


def other_direction(direction: str) -> str:
    return "down" if direction == "up" else "up"


def uniform(rng: np.random.Generator, bounds: tuple[float, float], digits: int = 3) -> float:
    return round(float(rng.uniform(bounds[0], bounds[1])), digits)


def draw_direction(rng: np.random.Generator) -> str:
    return DIRECTIONS[int(rng.integers(2))]


def check_range(name: str, bounds, low: float, high: float, why: str = "") -> None:
    """A (low, high) pair inside the transform's allowed interval (`why`: what the interval keeps true)."""
    require_range(name, tuple(bounds), low, high, why)


def check_probability(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}.probability must be in [0, 1], got {value}")


def settings_from(cls, name: str, overrides: dict | None):
    """Build a settings dataclass from plain data: unknown keys rejected by name, each value of its declared type."""
    overrides = dict(overrides or {})
    declared = {f.name: str(f.type) for f in fields(cls)}
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise ValueError(f"unknown settings for transform {name!r}: {unknown} (known: {sorted(declared)})")
    return cls(**{k: typed_value(f"{name}.{k}", declared[k], v) for k, v in overrides.items()})


def db_to_gain(db: float) -> float:
    return float(10 ** (db / 20))


def fade(samples: np.ndarray, sr: int, seconds: float, fade_in: bool = True, fade_out: bool = True) -> np.ndarray:
    """Short linear fades so cut segments and loop seams do not click."""
    n = min(len(samples) // 2, int(round(seconds * sr)))
    out = samples.astype(np.float32, copy=True)
    if n > 0:
        ramp = np.linspace(0.0, 1.0, n, endpoint=False, dtype=np.float32)
        if fade_in:
            out[:n] *= ramp
        if fade_out:
            out[-n:] *= ramp[::-1]
    return out
