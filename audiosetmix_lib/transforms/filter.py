"""Filter: muffled (low-pass, "as if through a wall") or thin (high-pass, "as if over a telephone").

The cut-off is relative to the event's own spectral centroid (0.25-0.5x for low-pass, 2-4x for
high-pass), so the change is audible for every class, deep or shrill. The sampled `ratio` is
stored at sampling time; the renderer measures the centroid of the audio that enters the
filter and stores `centroid_hz` and `cutoff_hz` beside it (`resolve`), so a stored recipe
re-renders with the exact cut-off even if the measurement ever changes. A zero-phase
Butterworth (scipy `sosfiltfilt`) keeps onsets where they were.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Words, check_probability, check_range, draw_direction, other_direction, uniform

NAME = "filter"
MODIFIERS = {"up": "thinner", "down": "muffled"}
WORDS = {
    "up": Words(adj=("thin", "tinny"), adv=("as if over a telephone",),
                extra=("thinner", "tinnier", "telephone-like", "over a telephone", "over the phone", "as if on the phone")),
    "down": Words(adj=("muffled",), adv=("as if through a wall",),
                  extra=("muffle", "muffles", "dull", "dulled", "through a wall", "behind a wall", "as if behind a wall")),
}
ADVERBIAL = False
# render chain stage (transforms/__init__.py): after stretching, on the audio as it will sound
STAGE = "spectral"
MIN_CUTOFF_HZ = 20.0
MAX_CUTOFF_SHARE = 0.45  # of the sample rate: safely below Nyquist
STATS_WORDS = ("muffled", "thin", "thinner", "tinny", "tinnier", "through a wall", "over a telephone", "telephone-like")


@dataclass(frozen=True)
class Settings:
    probability: float = 0.3
    up: tuple[float, float] = (2.0, 4.0)  # high-pass cut-off / spectral centroid
    down: tuple[float, float] = (0.25, 0.5)  # low-pass cut-off / spectral centroid
    order: int = 8  # Butterworth order, applied forward and backward (twice the slope): steep enough that
    # a class whose energy sits just past the cut-off (the synth drum at 0.25x) still loses >= 10 dB there

    def __post_init__(self) -> None:
        check_probability(NAME, self.probability)
        check_range("filter.up", self.up, 1.0, 16.0)
        check_range("filter.down", self.down, 1.0 / 16.0, 1.0)
        if not 1 <= int(self.order) <= 10:
            raise ValueError(f"filter.order must be in [1, 10], got {self.order}")


def sample(rng: np.random.Generator, settings: Settings) -> dict:
    direction = draw_direction(rng)
    return {"direction": direction, "ratio": uniform(rng, getattr(settings, direction)), "order": int(settings.order)}


def spectral_centroid(samples: np.ndarray, sr: int) -> float:
    """Magnitude-weighted mean frequency (Hz) of the whole signal; 0 for silence."""
    magnitude = np.abs(np.fft.rfft(np.asarray(samples, dtype=np.float64)))
    total = magnitude.sum()
    if total <= 0:
        return 0.0
    freqs = np.fft.rfftfreq(len(samples), 1.0 / sr)
    return float((freqs * magnitude).sum() / total)


def cutoff_for(centroid_hz: float, ratio: float, sr: int) -> float:
    return round(float(np.clip(centroid_hz * ratio, MIN_CUTOFF_HZ, MAX_CUTOFF_SHARE * sr)), 3)


def resolve(samples: np.ndarray, sr: int, params: dict) -> dict:
    """Params with the measured centroid and the cut-off it gives (kept when already there)."""
    if "cutoff_hz" in params:
        return params
    centroid = round(spectral_centroid(samples, sr), 3)
    return {**params, "centroid_hz": centroid, "cutoff_hz": cutoff_for(centroid, params["ratio"], sr)}


def apply(samples: np.ndarray, sr: int, params: dict) -> np.ndarray:
    from scipy.signal import butter, sosfiltfilt

    params = resolve(samples, sr, params)
    kind = "highpass" if params["direction"] == "up" else "lowpass"
    sos = butter(int(params.get("order", Settings.order)), params["cutoff_hz"], btype=kind, fs=sr, output="sos")
    x = np.asarray(samples, dtype=np.float64)
    if len(x) < 2:
        return x.astype(np.float32)
    out = sosfiltfilt(sos, x, padlen=min(len(x) - 1, 3 * (2 * len(sos) + 1)))
    return out.astype(np.float32)


def flip(params: dict) -> dict:
    """The other filter with the reciprocal ratio (a 0.3x low-pass becomes a 3.33x high-pass)."""
    flipped = {"direction": other_direction(params["direction"]), "ratio": round(1.0 / params["ratio"], 4)}
    if "order" in params:
        flipped["order"] = params["order"]
    return flipped


def detail(params: dict) -> str:
    kind = "high-pass" if params["direction"] == "up" else "low-pass"
    if "cutoff_hz" in params:
        return f"{kind} {params['cutoff_hz']:.0f} Hz, {params['ratio']:.2f}x centroid"
    return f"{kind} {params['ratio']:.2f}x centroid"
