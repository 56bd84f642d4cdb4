"""Volume: louder or quieter, a gain in dB relative to the event's reference level."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Check, Words, check_probability, check_range, db_to_gain, draw_direction, same_length, signed_check, span, uniform
from .measure import active_rms_db

NAME = "volume"
MODIFIERS = {"up": "louder", "down": "quieter"}
WORDS = {
    "up": Words(adj=("loud",), adv=("loudly",), extra=("louder", "loudest", "blaring", "booming")),
    "down": Words(adj=("quiet", "faint", "soft"), adv=("quietly", "faintly", "softly"),
                  extra=("quieter", "softer", "fainter", "gentle", "gently", "subdued", "muted", "barely audible")),
}
ADVERBIAL = False  # "a loud dog" and "a dog barks loudly" both read well
# render chain stage (transforms/__init__.py): last: a level change of the finished event
STAGE = "gain"
CHECK_DB = 3.0  # the least level change `check` accepts (the sampler draws >= 6 dB by default)
# What the statistics count as volume words (the AudioCaps reference rate was measured with these).
STATS_WORDS = ("loud", "loudly", "louder", "loudest", "quiet", "quietly", "quieter", "faint", "faintly", "fainter",
               "soft", "softly", "softer")


@dataclass(frozen=True)
class Settings:
    probability: float = 0.3
    up: tuple[float, float] = (6.0, 12.0)  # dB
    down: tuple[float, float] = (-18.0, -6.0)

    def __post_init__(self) -> None:
        check_probability(NAME, self.probability)
        why = f" (dB: a change under {CHECK_DB:g} dB is not heard as louder or quieter)"
        check_range("volume.up", self.up, CHECK_DB, 40.0, why)
        check_range("volume.down", self.down, -60.0, -CHECK_DB, why)


def sample(rng: np.random.Generator, settings: Settings) -> dict:
    direction = draw_direction(rng)
    return {"direction": direction, "gain_db": uniform(rng, getattr(settings, direction), 2)}


def apply(samples: np.ndarray, sr: int, params: dict) -> np.ndarray:
    return (samples * db_to_gain(params["gain_db"])).astype(np.float32)


def flip(params: dict) -> dict:
    return {"direction": "down" if params["direction"] == "up" else "up", "gain_db": -params["gain_db"]}


def detail(params: dict) -> str:
    return f"{params['gain_db']:+.1f} dB"


def level_db(params: dict) -> float:
    """The level change this transform makes (describe's background rule reads it)."""
    return float(params["gain_db"])


length_factor = same_length


def definition(settings: Settings) -> str:
    return (f"a gain of {span(settings.up, ' dB', True)} (louder) or {span(settings.down, ' dB', True)} (quieter) on the event's "
            "reference level")


def check(before: np.ndarray, after: np.ndarray, sr: int, params: dict) -> Check:
    """Louder / quieter, from the sound: the active RMS moved by >= CHECK_DB in the claimed direction."""
    return signed_check(NAME, params, active_rms_db(after, sr) - active_rms_db(before, sr), CHECK_DB, "dB")
