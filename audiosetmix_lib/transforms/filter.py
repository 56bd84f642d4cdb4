"""Filter: muffled (low-pass, "as if through a wall") or thin (high-pass, "as if over a telephone").

The cut-off is relative to the event's own spectrum: it sits where the event's cumulative
power reaches the sampled `share` (from the bottom for a low-pass, from the top for a
high-pass), so the filter keeps about that share of the event's energy and removes the rest,
whatever the class. (A cut-off at a fixed multiple of the spectral centroid, tried first,
removes a narrowband sound entirely: a beep low-passed at 0.25x its centroid is silence.)
The sampled `share` is stored at sampling time; the renderer measures the spectrum of the
audio that enters the filter and stores `cutoff_hz` beside it (`resolve`), so a stored recipe
re-renders with the exact cut-off. A zero-phase Butterworth (scipy `sosfiltfilt`) keeps
onsets where they were.

The filter changes timbre, not loudness: its output is brought back to the RMS of its input
(at most MAX_MAKEUP_DB of gain). Loudness is the volume transform's job; without the make-up
gain a high-pass on a deep sound makes it "quiet" as much as "thin".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

from .base import (
    Check,
    Words,
    check_probability,
    check_range,
    draw_direction,
    other_direction,
    same_length,
    same_level,
    signed_check,
    uniform,
)
from .measure import centroid_shift_semitones

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
MEASURED = ("cutoff_hz",)  # what `resolve` adds to the params (measured on the audio entering the filter)
CHECK_SEMITONES = 0.5  # the least centroid move `check` accepts (the smallest default filter moves a chirp ~1)
MIN_CUTOFF_HZ = 20.0
MAX_CUTOFF_SHARE = 0.45  # of the sample rate: safely below Nyquist
MAX_MAKEUP_DB = 20.0  # the most gain that brings a filtered event back to its input's RMS
STATS_WORDS = ("muffled", "thin", "thinner", "tinny", "tinnier", "through a wall", "over a telephone", "telephone-like")


@dataclass(frozen=True)
class Settings:
    probability: float = 0.3
    up: tuple[float, float] = (0.2, 0.4)  # high-pass: share of the event's power kept (above the cut-off)
    down: tuple[float, float] = (0.2, 0.4)  # low-pass: share of the event's power kept (below the cut-off)
    order: int = 8  # Butterworth order, applied forward and backward (twice the slope): steep enough that
    # a class whose energy sits just past the cut-off (the synth drum at 0.25x) still loses >= 10 dB there

    def __post_init__(self) -> None:
        check_probability(NAME, self.probability)
        why = " (share of the event's power kept: at most half, so the timbre is heard to change)"
        check_range("filter.up", self.up, 0.05, 0.5, why)
        check_range("filter.down", self.down, 0.05, 0.5, why)
        if not 1 <= int(self.order) <= 10:
            raise ValueError(f"filter.order must be in [1, 10], got {self.order}")


def sample(rng: np.random.Generator, settings: Settings) -> dict:
    direction = draw_direction(rng)
    return {"direction": direction, "share": uniform(rng, getattr(settings, direction)), "order": int(settings.order)}


def cutoff_for(samples: np.ndarray, sr: int, direction: str, share: float) -> float:
    """Where the cumulative power reaches `share` (from the bottom for "down", the top for "up").

    The spectrum is taken at the next fast FFT length (zero-padded): the same power distribution,
    sampled a little more finely, without the slow transform a prime length costs (a stretched
    event's length often is one: 10 ms against 1 ms for a 3 s event)."""
    x = np.asarray(samples, dtype=np.float64)
    n_fft = scipy.fft.next_fast_len(max(1, len(x)), real=True)
    spectrum = scipy.fft.rfft(x, n_fft)
    power = spectrum.real**2 + spectrum.imag**2
    freqs = scipy.fft.rfftfreq(n_fft, 1.0 / sr)
    total = power.sum()
    if total <= 0:
        return round(float(MAX_CUTOFF_SHARE * sr / 2), 3)
    below = np.cumsum(power) / total
    target = share if direction == "down" else 1.0 - share
    cutoff = freqs[min(len(freqs) - 1, int(np.searchsorted(below, target)))]
    return round(float(np.clip(cutoff, MIN_CUTOFF_HZ, MAX_CUTOFF_SHARE * sr)), 3)


def resolve(samples: np.ndarray, sr: int, params: dict) -> dict:
    """Params with the cut-off measured on the audio that enters the filter (kept when already there)."""
    if "cutoff_hz" in params:
        return params
    return {**params, "cutoff_hz": cutoff_for(samples, sr, params["direction"], params["share"])}


def apply(samples: np.ndarray, sr: int, params: dict) -> np.ndarray:
    from scipy.signal import butter, sosfiltfilt

    params = resolve(samples, sr, params)
    kind = "highpass" if params["direction"] == "up" else "lowpass"
    sos = butter(int(params.get("order", Settings.order)), params["cutoff_hz"], btype=kind, fs=sr, output="sos")
    x = np.asarray(samples, dtype=np.float64)
    if len(x) < 2:
        return x.astype(np.float32)
    out = sosfiltfilt(sos, x, padlen=min(len(x) - 1, 3 * (2 * len(sos) + 1)))
    return (out * makeup_gain(x, out)).astype(np.float32)


def makeup_gain(before: np.ndarray, after: np.ndarray) -> float:
    """The gain that gives `after` the RMS of `before`, capped at MAX_MAKEUP_DB (1 for silence)."""
    rms_before, rms_after = float(np.sqrt(np.mean(before**2))), float(np.sqrt(np.mean(after**2)))
    if rms_before <= 0 or rms_after <= 0:
        return 1.0
    return min(rms_before / rms_after, 10 ** (MAX_MAKEUP_DB / 20))


def flip(params: dict) -> dict:
    """The other filter keeping the same share of the event's power (renderable: the cut-off is measured again)."""
    flipped = {"direction": other_direction(params["direction"]), "share": params["share"]}
    if "order" in params:
        flipped["order"] = params["order"]
    return flipped


def detail(params: dict) -> str:
    kind = "high-pass" if params["direction"] == "up" else "low-pass"
    if "cutoff_hz" in params:
        return f"{kind} {params['cutoff_hz']:.0f} Hz, {params['share']:.0%} of the power kept"
    return f"{kind}, {params['share']:.0%} of the power kept"


def check(before: np.ndarray, after: np.ndarray, sr: int, params: dict) -> Check:
    """Thin / muffled, from the sound: the spectral centroid rose (high-pass) or fell (low-pass) by
    >= CHECK_SEMITONES; the make-up gain leaves the level alone, so the balance of the spectrum is
    what changed."""
    return signed_check(NAME, params, centroid_shift_semitones(before, after, sr), CHECK_SEMITONES, "semitones")


length_factor = same_length
level_db = same_level


def definition(settings: Settings) -> str:
    def kept(bounds):
        return f"{100 * bounds[0]:g}-{100 * bounds[1]:g} %"
    return (f"a low-pass keeping the lowest {kept(settings.down)} of the event's own power (muffled) or a high-pass "
            f"keeping the highest {kept(settings.up)} (thinner), order {settings.order}, brought back to the event's "
            "level (the cut-off in Hz is stored in the recipe)")
