"""Duration: longer (looped) or shorter (the first part kept, faded out)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Words, check_probability, check_range, draw_direction, fade, uniform

NAME = "duration"
MODIFIERS = {"up": "longer", "down": "shorter"}
WORDS = {
    "up": Words(adj=("prolonged", "long", "continuous"), adv=("continuously", "for a long time"),
                extra=("longer", "lengthy", "extended", "sustained", "lingering", "drawn-out", "at length")),
    "down": Words(adj=("brief", "short"), adv=("briefly",),
                  extra=("shorter", "momentary", "momentarily", "short-lived", "for a moment")),
}
ADVERBIAL = True  # "a short dog" names the wrong thing
# render chain stage (transforms/__init__.py): cut before stretching, faded or looped after the spectral stage
STAGE = "length"
# What the statistics count (the AudioCaps reference rate was measured with these).
STATS_WORDS = ("brief", "briefly", "short", "long", "longer", "prolonged", "continuous", "continuously")


@dataclass(frozen=True)
class Settings:
    probability: float = 0.3
    up: tuple[float, float] = (2.0, 3.0)  # repeats
    down: tuple[float, float] = (0.3, 0.5)  # fraction kept

    def __post_init__(self) -> None:
        check_probability(NAME, self.probability)
        check_range("duration.up", self.up, 1.0, 10.0)
        check_range("duration.down", self.down, 0.01, 1.0)


def sample(rng: np.random.Generator, settings: Settings) -> dict:
    direction = draw_direction(rng)
    key = "repeats" if direction == "up" else "keep"
    return {"direction": direction, key: uniform(rng, getattr(settings, direction))}


def length_factor(params: dict) -> float:
    """Output length / input length."""
    return params["repeats"] if params["direction"] == "up" else params["keep"]


def cut(samples: np.ndarray, params: dict) -> np.ndarray:
    """The kept part of a shortened event, before fading (the renderer cuts before stretching)."""
    return samples[: max(1, int(round(len(samples) * params["keep"])))]


def apply(samples: np.ndarray, sr: int, params: dict, fade_seconds: float) -> np.ndarray:
    """Keep the first `keep` fraction (fade out), or loop to `repeats` times the length.

    `fade_seconds` is the recipe's render setting (MixConfig.fade_seconds).
    """
    if params["direction"] == "down":
        return fade(cut(samples, params), sr, fade_seconds)
    n = int(round(len(samples) * params["repeats"]))
    unit = fade(samples, sr, fade_seconds)
    reps = int(np.ceil(n / max(1, len(unit))))
    return fade(np.tile(unit, reps)[:n], sr, fade_seconds, fade_in=False)


def flip(params: dict) -> dict:
    if params["direction"] == "up":
        return {"direction": "down", "keep": round(1.0 / params["repeats"], 4)}
    return {"direction": "up", "repeats": round(1.0 / params["keep"], 4)}


def detail(params: dict) -> str:
    return f"looped x{params['repeats']:.2f}" if params["direction"] == "up" else f"keeps {100 * params['keep']:.0f} %"
