"""Duration: longer (looped) or shorter (the first part kept, faded out)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Check, Words, at_least, at_most, check_probability, check_range, draw_direction, fade, same_level, span, uniform
from .measure import active_span_s, ratio

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
# the active length `check` accepts: longer x1.25 or more, shorter x0.8 or less (the sampler: x2 / x0.5 at least)
CHECK_LONGER, CHECK_SHORTER = 1.25, 0.8
# What the statistics count (the AudioCaps reference rate was measured with these).
STATS_WORDS = ("brief", "briefly", "short", "long", "longer", "prolonged", "continuous", "continuously")


@dataclass(frozen=True)
class Settings:
    probability: float = 0.3
    up: tuple[float, float] = (2.0, 3.0)  # repeats
    down: tuple[float, float] = (0.3, 0.5)  # fraction kept

    def __post_init__(self) -> None:
        check_probability(NAME, self.probability)
        check_range("duration.up", self.up, 1.5, 10.0, " (repeats: at least 1.5, so the event is heard longer)")
        check_range("duration.down", self.down, 0.01, 0.65, " (share kept: at most 0.65, so the event is heard shorter)")


def sample(rng: np.random.Generator, settings: Settings) -> dict:
    direction = draw_direction(rng)
    key = "repeats" if direction == "up" else "keep"
    return {"direction": direction, key: uniform(rng, getattr(settings, direction))}


def length_factor(params: dict) -> float:
    """Output length / input length."""
    return params["repeats"] if params["direction"] == "up" else params["keep"]


def cut(samples: np.ndarray, params: dict) -> np.ndarray:
    """The kept part of a shortened event, before fading (the renderer cuts before stretching: stretching
    the discarded part is wasted work); a lengthened event is kept whole."""
    if params["direction"] == "up":
        return samples
    return samples[: max(1, int(round(len(samples) * params["keep"])))]


def finish(samples: np.ndarray, sr: int, params: dict, fade_seconds: float) -> np.ndarray:
    """After the spectral stage: fade out the cut, or loop the event."""
    if params["direction"] == "down":
        return fade(samples, sr, fade_seconds)
    return apply(samples, sr, params, fade_seconds)


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


def check(before: np.ndarray, after: np.ndarray, sr: int, params: dict) -> Check:
    """Longer / shorter, from the sound: the active length (first to last frame within 30 dB of the peak)
    grew to >= CHECK_LONGER or shrank to <= CHECK_SHORTER times. Both clips must hold the whole event."""
    change = ratio(active_span_s(before, sr), active_span_s(after, sr))
    claim = f"{NAME} {params['direction']}"
    if params["direction"] == "up":
        return at_least(claim, round(change, 4), CHECK_LONGER, "ratio")
    return at_most(claim, round(change, 4), CHECK_SHORTER, "ratio")


level_db = same_level


def definition(settings: Settings) -> str:
    return (f"the first {span(tuple(100 * x for x in settings.down), ' %')} of the event kept and faded out (shorter), "
            f"or the event looped {span(settings.up)} times (longer)")
