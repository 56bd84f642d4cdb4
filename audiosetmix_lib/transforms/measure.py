"""Measurements of a sound that the transforms' checks (and the renderer's level) are made of.

Pure numpy on float samples; nothing here reads a recipe, a caption or a transform's params, so a
check built from these decides from the sound alone.
"""

from __future__ import annotations

from dataclasses import dataclass

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


BANDS_PER_OCTAVE = 48  # quarter-semitone bands: a near-pure tone stays in one or two
LOWEST_BAND_HZ = 20.0  # what lies below falls in the first band


@dataclass(frozen=True)
class EventFeatures:
    """An event's sound as the sampler knows it: the power of each quarter-semitone band and the
    power-weighted mean frequency inside it (so the spectral centroid of the bands is the sound's).
    Measured once per event from its whole audio; a transform's `audible_on` predicts from it
    whether its change could be heard on the event, before anything is rendered."""

    sample_rate: int
    band_power: np.ndarray  # share of the event's power in each band (sums to 1; all 0 for silence)
    band_hz: np.ndarray  # the power-weighted mean frequency of each band (its lower edge when empty)


def event_features(samples: np.ndarray, sr: int) -> EventFeatures:
    """The band spectrum of a whole event (one FFT at the next fast length; pure)."""
    x = np.asarray(samples, dtype=np.float64)
    n_fft = scipy.fft.next_fast_len(max(2, len(x)), real=True)
    spectrum = scipy.fft.rfft(x, n_fft)
    power = spectrum.real**2 + spectrum.imag**2
    freqs = scipy.fft.rfftfreq(n_fft, 1.0 / sr)
    edges = band_edges_hz(sr)
    starts = np.searchsorted(freqs, edges)  # the first bin of each band (bins below the first edge join it)
    starts[0] = 0
    band_power = _band_sums(power, starts)
    weighted = _band_sums(power * freqs, starts)
    band_hz = np.where(band_power > 0, weighted / np.where(band_power > 0, band_power, 1.0), edges)
    total = band_power.sum()
    return EventFeatures(int(sr), band_power / total if total > 0 else band_power, band_hz)


def band_edges_hz(sr: int) -> np.ndarray:
    """The lower edge of each band, from LOWEST_BAND_HZ up to the Nyquist frequency."""
    n_bands = int(np.ceil(BANDS_PER_OCTAVE * np.log2(sr / 2 / LOWEST_BAND_HZ)))
    return LOWEST_BAND_HZ * 2 ** (np.arange(n_bands) / BANDS_PER_OCTAVE)


def _band_sums(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The sum of `values` from each start to the next (0 for a band without a bin)."""
    ends = np.append(starts[1:], len(values))
    sums = np.add.reduceat(values, np.minimum(starts, len(values) - 1))
    return np.where(ends > starts, sums, 0.0)


def band_centroid_hz(power: np.ndarray, band_hz: np.ndarray) -> float:
    """The spectral centroid of a band spectrum (nan when it holds no power)."""
    total = float(power.sum())
    return float(np.sum(power * band_hz) / total) if total > 0 else float("nan")


SHIFT_LOW_HZ = 50.0  # the log-frequency axis starts here (a recording's rumble below is not its pitch)
SHIFT_HIGH_SHARE = 0.45  # ... and ends at this share of the sample rate (below Nyquist)
SHIFT_STEP_SEMITONES = 1 / 8  # the axis' resolution (the peak is then refined between steps)
SHIFT_MAX_SEMITONES = 12.0  # the largest shift searched, either way
SHIFT_RANGE_DB = 40.0  # spectrum levels within this many dB of the peak count (the noise floor, and a noise
# shape's far skirts that a shift pushes past the axis' ends, do not)
SHIFT_FRAME_S = 0.25  # Welch frames: 4 Hz resolution, a quarter semitone at 280 Hz


def log_spectrum(samples: np.ndarray, sr: int) -> np.ndarray:
    """The sound's average power spectrum (Hann frames, half overlapping, over the part between its first and
    last non-zero sample: the silence it is placed in adds nothing) on a log-frequency axis
    (SHIFT_STEP_SEMITONES apart, from SHIFT_LOW_HZ), in dB above a floor SHIFT_RANGE_DB under its peak (0 = at
    or under the floor)."""
    x = np.asarray(samples, dtype=np.float64)
    sounding = np.flatnonzero(x)
    x = x[sounding[0] : sounding[-1] + 1]
    frame = max(16, min(len(x), int(round(SHIFT_FRAME_S * sr))))
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(x, (0, max(0, frame - len(x)))), frame)[:: frame // 2]
    power = np.mean(np.abs(scipy.fft.rfft(frames * np.hanning(frame), axis=1)) ** 2, axis=0)
    steps = int(np.floor(12 * np.log2(SHIFT_HIGH_SHARE * sr / SHIFT_LOW_HZ) / SHIFT_STEP_SEMITONES)) + 1
    grid = SHIFT_LOW_HZ * 2 ** (np.arange(steps) * SHIFT_STEP_SEMITONES / 12)
    level = 10 * np.log10(np.interp(grid, scipy.fft.rfftfreq(frame, 1.0 / sr), power) + 1e-30)
    return np.maximum(0.0, level - (level.max() - SHIFT_RANGE_DB))


def spectral_shift_semitones(before: np.ndarray, after: np.ndarray, sr: int) -> float:
    """The transposition, in semitones, that best lays `before`'s log-frequency spectrum on `after`'s (nan
    for silence or a spectrum with nothing above its floor).

    A transposition moves every component of the spectrum the same number of semitones, so on a log-
    frequency axis it is a translation: the lag of the best cross-correlation (cosine similarity over the
    part of the axis both cover) measures it for a tone, a harmonic sound or a noise with a spectral shape
    alike, and a stretch engine that thins a broadband tail changes the match's quality, not its lag (a
    spectral centroid, a power-weighted mean, moves with the tail)."""
    if not (np.any(before) and np.any(after)):
        return float("nan")
    a, b = log_spectrum(before, sr), log_spectrum(after, sr)
    if not (a.any() and b.any()):
        return float("nan")
    lags, score = overlap_cosines(a, b, int(round(SHIFT_MAX_SEMITONES / SHIFT_STEP_SEMITONES)))
    best = int(np.argmax(score))
    offset = 0.0
    if 0 < best < len(lags) - 1:  # a parabola through the peak and its neighbours: between the steps
        left, mid, right = score[best - 1 : best + 2]
        curve = left - 2 * mid + right
        offset = 0.5 * (left - right) / curve if curve < 0 else 0.0
    return float((lags[best] + offset) * SHIFT_STEP_SEMITONES)


def overlap_cosines(a: np.ndarray, b: np.ndarray, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """(lags, cosine similarity of a[i] and b[i + lag] over the i where both exist) for |lag| <= max_lag
    (0 where either side is all zeros there)."""
    n = len(a)
    lags = np.arange(-max_lag, max_lag + 1)
    dots = np.correlate(b, a, mode="full")[n - 1 + lags]  # sum over i of a[i] b[i + lag]
    a_head = np.concatenate(([0.0], np.cumsum(a * a)))  # a_head[k]: sum of a[:k]**2
    b_head = np.concatenate(([0.0], np.cumsum(b * b)))
    shift = np.abs(lags)
    a_part = np.where(lags >= 0, a_head[n - shift], a_head[n] - a_head[shift])
    b_part = np.where(lags >= 0, b_head[n] - b_head[shift], b_head[n - shift])
    norm = np.sqrt(a_part * b_part)
    return lags, np.divide(dots, norm, out=np.zeros(len(lags)), where=norm > 0)
