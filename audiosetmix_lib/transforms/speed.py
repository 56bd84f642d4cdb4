"""Speed: faster or slower, a tempo factor with the pitch kept (Signalsmith Stretch)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Check, Words, at_least, at_most, check_probability, check_range, draw_direction, same_level, span, uniform
from .measure import active_span_s, ratio
from .pitch import stretch

NAME = "speed"
MODIFIERS = {"up": "faster", "down": "slower"}
WORDS = {
    "up": Words(adj=("fast", "rapid"), adv=("quickly", "rapidly"),
                extra=("quick", "faster", "swift", "swiftly", "hurried", "hurriedly", "sped-up", "speedy")),
    "down": Words(adj=("slow",), adv=("slowly",),
                  extra=("slower", "sluggish", "sluggishly", "leisurely", "slowed", "slowed-down")),
}
ADVERBIAL = True  # "a fast baby" names the wrong thing: say how it sounds
# render chain stage (transforms/__init__.py): one Signalsmith pass with pitch
STAGE = "stretch"
MIN_CHANGE = 1.15  # the settings' tempo bound nearest 1: its length ratio (x0.87) passes `check`
CHECK_RATIO = 0.9  # faster: active length x0.9 or less; slower: x1/0.9 or more (the sampler draws x0.77 / x1.3 at least)
STATS_WORDS = ("fast", "faster", "rapid", "rapidly", "quickly", "slow", "slowly", "slower")  # as the AudioCaps reference


@dataclass(frozen=True)
class Settings:
    probability: float = 0.3
    up: tuple[float, float] = (1.3, 1.6)  # tempo factor
    down: tuple[float, float] = (0.6, 0.77)

    def __post_init__(self) -> None:
        check_probability(NAME, self.probability)
        why = f" (tempo factor: at least x{MIN_CHANGE:g} away from 1, so the change is heard)"
        check_range("speed.up", self.up, MIN_CHANGE, 4.0, why)
        check_range("speed.down", self.down, 0.25, round(1 / MIN_CHANGE, 3), why)


def sample(rng: np.random.Generator, settings: Settings) -> dict:
    direction = draw_direction(rng)
    return {"direction": direction, "tempo": uniform(rng, getattr(settings, direction))}


def apply(samples: np.ndarray, sr: int, params: dict) -> np.ndarray:
    """Alone; the renderer runs pitch and speed together in one `stretch` pass."""
    return stretch(samples, sr, tempo=params["tempo"])


def flip(params: dict) -> dict:
    return {"direction": "down" if params["direction"] == "up" else "up", "tempo": round(1.0 / params["tempo"], 4)}


def detail(params: dict) -> str:
    return f"tempo x{params['tempo']:.2f}"


def length_factor(params: dict) -> float:
    """Output length / input length."""
    return 1.0 / params["tempo"]


def check(before: np.ndarray, after: np.ndarray, sr: int, params: dict) -> Check:
    """Faster / slower, from the sound: the active length (first to last frame within 30 dB of the peak)
    shrank to <= CHECK_RATIO or grew to >= 1 / CHECK_RATIO. Both clips must hold the whole event."""
    change = ratio(active_span_s(before, sr), active_span_s(after, sr))
    claim = f"{NAME} {params['direction']}"
    if params["direction"] == "up":
        return at_most(claim, round(change, 4), CHECK_RATIO, "ratio")
    return at_least(claim, round(change, 4), round(1 / CHECK_RATIO, 4), "ratio")


def stretch_args(params: dict) -> dict:
    """Its part of the one Signalsmith pass the renderer runs for the stretch stage."""
    return {"tempo": params["tempo"]}


level_db = same_level


def definition(settings: Settings) -> str:
    return f"a tempo factor of {span(settings.up)} (faster) or {span(settings.down)} (slower), the pitch kept"
