"""Measurements of a sound that the transforms' checks (and the renderer's level) are made of.

Pure numpy on float samples; nothing here reads a recipe, a caption or a transform's params, so a
check built from these decides from the sound alone.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

ACTIVE_RANGE_DB = 30.0  # a frame is active within this many dB of the loudest frame
ENVELOPE_FRAME_S = 0.02


def frame_power(samples: np.ndarray, sr: int, frame_s: float) -> np.ndarray:
    """Mean square of consecutive frames (one frame when the sound is shorter than a frame)."""
    frame = max(1, int(round(frame_s * sr)))
    x = np.asarray(samples, dtype=np.float64)
    if len(x) < frame:
        return np.array([np.mean(x**2)]) if len(x) else np.zeros(1)
    n_frames = len(x) // frame
    return np.mean(x[: n_frames * frame].reshape(n_frames, frame) ** 2, axis=1)


def active_frames(power: np.ndarray, active_range_db: float = ACTIVE_RANGE_DB) -> np.ndarray:
    """A mask of the frames within `active_range_db` of the loudest (all False for silence)."""
    top = power.max() if len(power) else 0.0
    if top <= 0:
        return np.zeros(len(power), dtype=bool)
    return power >= top * 10 ** (-active_range_db / 10)


def active_rms_db(samples: np.ndarray, sr: int, active_range_db: float = ACTIVE_RANGE_DB, frame_s: float = 0.05) -> float:
    """RMS (dBFS) over frames within `active_range_db` of the loudest frame: silence does not count."""
    power = frame_power(samples, sr, frame_s)
    active = active_frames(power, active_range_db)
    if not active.any():
        return -np.inf
    return float(10 * np.log10(np.mean(power[active])))


def active_span_s(samples: np.ndarray, sr: int, active_range_db: float = ACTIVE_RANGE_DB,
                  frame_s: float = ENVELOPE_FRAME_S) -> float:
    """Seconds from the first to the end of the last active frame (0 for silence)."""
    active = np.flatnonzero(active_frames(frame_power(samples, sr, frame_s), active_range_db))
    if not len(active):
        return 0.0
    return float((active[-1] + 1 - active[0]) * max(1, int(round(frame_s * sr))) / sr)


def spectral_centroid_hz(samples: np.ndarray, sr: int) -> float:
    """The power-weighted mean frequency of the whole sound (nan for silence)."""
    x = np.asarray(samples, dtype=np.float64)
    n_fft = scipy.fft.next_fast_len(max(2, len(x)), real=True)
    spectrum = scipy.fft.rfft(x, n_fft)
    power = spectrum.real**2 + spectrum.imag**2
    total = power.sum()
    if total <= 0:
        return float("nan")
    return float(np.sum(scipy.fft.rfftfreq(n_fft, 1.0 / sr) * power) / total)


def semitones_between(before_hz: float, after_hz: float) -> float:
    """12 log2(after / before): how far a frequency moved (nan when either is not positive)."""
    if not (before_hz > 0 and after_hz > 0):
        return float("nan")
    return float(12 * np.log2(after_hz / before_hz))


def centroid_shift_semitones(before: np.ndarray, after: np.ndarray, sr: int) -> float:
    """How far the spectral centroid moved from `before` to `after`, in semitones."""
    return semitones_between(spectral_centroid_hz(before, sr), spectral_centroid_hz(after, sr))


def ratio(before: float, after: float) -> float:
    """after / before (nan when before is not positive)."""
    return float(after / before) if before > 0 else float("nan")
