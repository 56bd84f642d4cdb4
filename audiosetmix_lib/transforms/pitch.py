"""Pitch: higher- or lower-pitched, a shift in semitones with the duration kept (Signalsmith Stretch)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Check, Words, check_probability, check_range, draw_direction, same_length, same_level, signed_check, span, uniform
from .measure import centroid_shift_semitones

NAME = "pitch"
MODIFIERS = {"up": "higher-pitched", "down": "lower-pitched"}
WORDS = {
    "up": Words(adj=("high-pitched",), extra=("higher-pitched", "high-pitch", "shrill")),
    "down": Words(adj=("low-pitched", "deep"), extra=("lower-pitched", "low-pitch", "deeper")),
}
ADVERBIAL = False
# render chain stage (transforms/__init__.py): one Signalsmith pass with speed
STAGE = "stretch"
CHECK_SEMITONES = 1.0  # the least centroid shift `check` accepts (the sampler draws >= 3 semitones by default)
MIN_SEMITONES = 2 * CHECK_SEMITONES  # the smallest shift the settings allow (a fixed filter after it can halve it)
STATS_WORDS = ("high-pitched", "high pitched", "high-pitch", "high pitch", "low-pitched", "low pitched", "low-pitch",
               "low pitch", "deep", "deeper")  # the AudioCaps reference rate was measured with these


@dataclass(frozen=True)
class Settings:
    probability: float = 0.3
    up: tuple[float, float] = (3.0, 6.0)  # semitones; within half an octave (paper)
    down: tuple[float, float] = (-6.0, -3.0)

    def __post_init__(self) -> None:
        check_probability(NAME, self.probability)
        why = f" (semitones: from {MIN_SEMITONES:g}, twice what check needs, to half an octave)"
        check_range("pitch.up", self.up, MIN_SEMITONES, 6.0, why)
        check_range("pitch.down", self.down, -6.0, -MIN_SEMITONES, why)


def sample(rng: np.random.Generator, settings: Settings) -> dict:
    direction = draw_direction(rng)
    return {"direction": direction, "semitones": uniform(rng, getattr(settings, direction), 2)}


def stretch(samples: np.ndarray, sr: int, semitones: float = 0.0, tempo: float = 1.0) -> np.ndarray:
    """Pitch shift (duration kept) and time stretch (pitch kept) in one Signalsmith pass."""
    if semitones == 0.0 and tempo == 1.0:
        return samples
    import python_stretch

    engine = python_stretch.Signalsmith.Stretch()
    engine.preset(1, sr)
    engine.setTimeFactor(float(tempo))
    engine.setTransposeSemitones(float(semitones))
    out = engine.process(np.ascontiguousarray(samples, dtype=np.float32)[np.newaxis, :])
    return out[0].astype(np.float32)


def apply(samples: np.ndarray, sr: int, params: dict) -> np.ndarray:
    """Alone; the renderer runs pitch and speed together in one `stretch` pass."""
    return stretch(samples, sr, semitones=params["semitones"])


def flip(params: dict) -> dict:
    return {"direction": "down" if params["direction"] == "up" else "up", "semitones": -params["semitones"]}


def detail(params: dict) -> str:
    return f"{params['semitones']:+.1f} semitones"


def check(before: np.ndarray, after: np.ndarray, sr: int, params: dict) -> Check:
    """Higher / lower, from the sound: the spectral centroid moved >= CHECK_SEMITONES in the claimed direction.

    A transposition scales every frequency, so the power-weighted mean frequency moves with it
    (7 semitones for a 440 Hz tone shifted to 660 Hz), for tones and noises alike."""
    return signed_check(NAME, params, centroid_shift_semitones(before, after, sr), CHECK_SEMITONES, "semitones")


def stretch_args(params: dict) -> dict:
    """Its part of the one Signalsmith pass the renderer runs for the stretch stage."""
    return {"semitones": params["semitones"]}


length_factor = same_length
level_db = same_level


def definition(settings: Settings) -> str:
    return f"a shift of {span(settings.up, signed=True)} (higher) or {span(settings.down, signed=True)} (lower) semitones, the duration kept"
