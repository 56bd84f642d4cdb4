"""The embedded `synth` source: procedurally synthesised events with AudioSet display names.

Each class is a recognisably different sound. Instances vary in timing, timbre, pitch
(within +/-1 semitone) and length (within +/-20 % of the class-typical 2-6 s), well below
the smallest modifier step (3 semitones, 6 dB, tempo x1.3), so a modifier stays audible.
Instance `k` of a class is a pure function of (class, k): no downloads, no global state.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Callable

import numpy as np

from ..events import Event, hash_split
from .base import Source

Generator = Callable[[np.random.Generator, int, float, float], np.ndarray]


def _seconds(n: int, sr: int) -> np.ndarray:
    return np.arange(n, dtype=np.float64) / sr


def _env(n: int, sr: int, attack: float, release: float) -> np.ndarray:
    """Linear attack and release ramps so events start and end without clicks."""
    env = np.ones(n)
    a = min(n // 2, max(1, int(attack * sr)))
    r = min(n // 2, max(1, int(release * sr)))
    env[:a] = np.linspace(0, 1, a)
    env[-r:] = np.minimum(env[-r:], np.linspace(1, 0, r))
    return env


@lru_cache(maxsize=256)
def _butter_sos(order: int, cutoff, btype: str, sr: int) -> np.ndarray:
    """A Butterworth design, made once per (order, cutoff, type, rate): a drum designed the same filter
    for every hit, and the designs were most of the synth source's time. Same coefficients, same bytes."""
    from scipy.signal import butter

    sos = butter(order, list(cutoff) if isinstance(cutoff, tuple) else cutoff, btype=btype, fs=sr, output="sos")
    sos.setflags(write=False)  # shared by every caller: they filter with a copy (sosfilt wants a writable one)
    return sos


def _lowpass_noise(rng: np.random.Generator, n: int, sr: int, cutoff: float) -> np.ndarray:
    from scipy.signal import sosfilt

    return sosfilt(_butter_sos(4, min(cutoff, 0.45 * sr), "low", sr).copy(), rng.standard_normal(n))


def _bandpass_noise(rng: np.random.Generator, n: int, sr: int, low: float, high: float) -> np.ndarray:
    from scipy.signal import sosfilt

    high = min(high, 0.45 * sr)
    return sosfilt(_butter_sos(2, (low, high), "band", sr).copy(), rng.standard_normal(n))


def _place(out: np.ndarray, burst: np.ndarray, at: int) -> None:
    end = min(len(out), at + len(burst))
    if at < end:
        out[at:end] += burst[: end - at]


def beep(rng, sr, length, pitch):
    n = int(length * sr)
    out = np.zeros(n)
    f0 = 1000.0 * pitch
    on, period = rng.uniform(0.18, 0.25), rng.uniform(0.45, 0.55)
    burst_n = int(on * sr)
    burst = np.sin(2 * np.pi * f0 * _seconds(burst_n, sr)) * _env(burst_n, sr, 0.005, 0.005)
    at = 0.0
    while at < length - on:
        _place(out, burst, int(at * sr))
        at += period
    return out


def siren(rng, sr, length, pitch):
    n = int(length * sr)
    t = _seconds(n, sr)
    rate = rng.uniform(0.45, 0.55)
    f = (650.0 + 350.0 * np.sin(2 * np.pi * rate * t + rng.uniform(0, np.pi))) * pitch
    phase = 2 * np.pi * np.cumsum(f) / sr
    return (np.sin(phase) + 0.25 * np.sin(2 * phase)) * _env(n, sr, 0.05, 0.1)


def whistle(rng, sr, length, pitch):
    n = int(length * sr)
    t = _seconds(n, sr)
    f = 1800.0 * pitch * (1 + 0.01 * np.sin(2 * np.pi * rng.uniform(4.5, 6.0) * t))
    tone = np.sin(2 * np.pi * np.cumsum(f) / sr)
    breath = 0.05 * _bandpass_noise(rng, n, sr, 1500, 2500)
    return (tone + breath) * _env(n, sr, 0.08, 0.15)


def tick_tock(rng, sr, length, pitch):
    n = int(length * sr)
    out = np.zeros(n)
    period = rng.uniform(0.48, 0.52)
    click_n = int(0.03 * sr)
    decay = np.exp(-_seconds(click_n, sr) / 0.004)
    for k, at in enumerate(np.arange(0.02, length - 0.05, period)):
        f = (3000.0 if k % 2 == 0 else 2200.0) * pitch
        _place(out, np.sin(2 * np.pi * f * _seconds(click_n, sr)) * decay, int(at * sr))
    return out


def bell(rng, sr, length, pitch):
    n = int(length * sr)
    out = np.zeros(n)
    f0 = 520.0 * pitch
    ratios = np.array([1.0, 2.0, 2.4, 3.0, 4.2]) * (1 + rng.uniform(-0.01, 0.01, 5))
    weights = np.array([1.0, 0.6, 0.5, 0.3, 0.2]) * rng.uniform(0.8, 1.2, 5)
    strike_every = rng.uniform(1.1, 1.4)
    for at in np.arange(0.0, length - 0.3, strike_every):
        m = n - int(at * sr)
        tt = _seconds(m, sr)
        strike = sum(w * np.sin(2 * np.pi * f0 * r * tt) * np.exp(-tt * (1.2 + r)) for r, w in zip(ratios, weights, strict=True))
        _place(out, strike * _env(m, sr, 0.002, 0.05), int(at * sr))
    return out


def drum(rng, sr, length, pitch):
    n = int(length * sr)
    out = np.zeros(n)
    period = rng.uniform(0.38, 0.45)
    hit_n = int(0.3 * sr)
    tt = _seconds(hit_n, sr)
    for at in np.arange(0.0, length - 0.3, period):
        f = 110.0 * pitch * (1 + 0.8 * np.exp(-tt / 0.03))
        body = np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-tt / 0.12)
        slap = 0.3 * _lowpass_noise(rng, hit_n, sr, 3000) * np.exp(-tt / 0.01)
        _place(out, (body + slap) * rng.uniform(0.85, 1.0), int(at * sr))
    return out


def rain(rng, sr, length, pitch):
    n = int(length * sr)
    hiss = 0.4 * _bandpass_noise(rng, n, sr, 1500 * pitch, 6000)
    drops = np.zeros(n)
    drop_n = int(0.01 * sr)
    drop = np.sin(2 * np.pi * 2500 * pitch * _seconds(drop_n, sr)) * np.exp(-_seconds(drop_n, sr) / 0.002)
    for at in np.sort(rng.uniform(0, length - 0.02, int(length * rng.uniform(35, 45)))):
        _place(drops, drop * rng.uniform(0.3, 1.0), int(at * sr))
    return (hiss + drops) * _env(n, sr, 0.3, 0.3)


def wind(rng, sr, length, pitch):
    n = int(length * sr)
    t = _seconds(n, sr)
    gust = 0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.25, 0.4) * t + rng.uniform(0, 2 * np.pi))
    return _lowpass_noise(rng, n, sr, 500 * pitch) * gust * _env(n, sr, 0.5, 0.5)


def engine(rng, sr, length, pitch):
    n = int(length * sr)
    t = _seconds(n, sr)
    f0 = 55.0 * pitch
    harmonics = sum((0.8**k) * rng.uniform(0.8, 1.2) * np.sin(2 * np.pi * f0 * k * t) for k in range(1, 12))
    firing = 0.75 + 0.25 * np.sin(2 * np.pi * f0 / 2 * t)
    return (harmonics * firing + 0.2 * _lowpass_noise(rng, n, sr, 800)) * _env(n, sr, 0.2, 0.2)


def bird(rng, sr, length, pitch):
    n = int(length * sr)
    out = np.zeros(n)
    at = rng.uniform(0.0, 0.1)
    while at < length - 0.2:
        chirp_len = rng.uniform(0.07, 0.1)
        m = int(chirp_len * sr)
        tt = _seconds(m, sr)
        f = (3800.0 - 1400.0 * tt / chirp_len) * pitch
        chirp = np.sin(2 * np.pi * np.cumsum(f) / sr) * np.sin(np.pi * tt / chirp_len) ** 2
        _place(out, chirp, int(at * sr))
        at += chirp_len + rng.uniform(0.05, 0.09)
        if rng.random() < 0.2:
            at += rng.uniform(0.2, 0.35)
    return out


def knock(rng, sr, length, pitch):
    n = int(length * sr)
    out = np.zeros(n)
    hit_n = int(0.08 * sr)
    tt = _seconds(hit_n, sr)
    hit = (np.sin(2 * np.pi * 180 * pitch * tt) + 0.5 * np.sin(2 * np.pi * 420 * pitch * tt)) * np.exp(-tt / 0.015)
    at = 0.05
    while at < length - 0.1:
        for _ in range(3):
            _place(out, hit * rng.uniform(0.8, 1.0), int(at * sr))
            at += rng.uniform(0.17, 0.2)
        at += rng.uniform(0.5, 0.7)
    return out


def buzzer(rng, sr, length, pitch):
    n = int(length * sr)
    t = _seconds(n, sr)
    f0 = 210.0 * pitch
    square = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 30, 2) if f0 * k < 0.45 * sr)
    return square * _env(n, sr, 0.01, 0.02)


# display name -> (generator, class-typical length in seconds)
SYNTH_CLASSES: dict[str, tuple[Generator, float]] = {
    "Beep, bleep": (beep, 2.5),
    "Bell": (bell, 4.0),
    "Bird vocalization, bird call, bird song": (bird, 3.5),
    "Buzzer": (buzzer, 2.0),
    "Drum": (drum, 3.0),
    "Engine": (engine, 5.0),
    "Knock": (knock, 2.5),
    "Rain": (rain, 6.0),
    "Siren": (siren, 5.0),
    "Tick-tock": (tick_tock, 4.0),
    "Whistle": (whistle, 3.0),
    "Wind": (wind, 5.0),
}


def _instance_seed(label: str, k: int) -> int:
    return int.from_bytes(hashlib.sha1(f"synth|{label}|{k}".encode()).digest()[:8], "big")


def instance_variation(label: str, k: int) -> tuple[float, float]:
    """(length seconds, pitch factor) of instance k: length +/-20 %, pitch +/-1 semitone."""
    rng = np.random.default_rng(_instance_seed(label, k))
    typical = SYNTH_CLASSES[label][1]
    return typical * rng.uniform(0.8, 1.2), 2 ** (rng.uniform(-1.0, 1.0) / 12)


def synthesize(label: str, k: int, sample_rate: int) -> np.ndarray:
    """Instance k of a class at sample_rate, peak-normalised to 0.5 (levels are set later)."""
    generator, _ = SYNTH_CLASSES[label]
    length, pitch = instance_variation(label, k)
    rng = np.random.default_rng(_instance_seed(label, k))
    rng.random(2)  # the two draws instance_variation made
    samples = np.asarray(generator(rng, sample_rate, length, pitch), dtype=np.float64)
    peak = np.max(np.abs(samples))
    return (0.5 * samples / peak).astype(np.float32) if peak > 0 else samples.astype(np.float32)


class SynthSource(Source):
    """`instances_per_class` synthesised recordings per class, split by hashing their ids."""

    name = "synth"

    def __init__(self, instances_per_class: int = 40, fractions=(0.8, 0.1, 0.1), min_event_seconds: float = 0.5):
        super().__init__()
        self.instances_per_class = int(instances_per_class)
        self.fractions = tuple(float(f) for f in fractions)
        self.min_event_seconds = float(min_event_seconds)

    def spec(self) -> dict:
        return {
            "name": self.name,
            "instances_per_class": self.instances_per_class,
            "fractions": list(self.fractions),
            "min_event_seconds": self.min_event_seconds,
        }

    def _scan(self):
        events = []
        for label in sorted(SYNTH_CLASSES):
            for k in range(self.instances_per_class):
                length, _ = instance_variation(label, k)
                recording = f"synth:{label}:{k}"
                events.append(
                    Event(
                        event_id=recording,
                        recording_id=recording,
                        label=label,
                        audio=recording,
                        start=0.0,
                        end=round(int(length * 1000) / 1000, 3),
                        split=hash_split(recording, self.fractions),
                    )
                )
        return events, []

    def _load_raw(self, event: Event, sample_rate: int) -> np.ndarray:
        _, rest = event.audio.split(":", 1)
        label, k = rest.rsplit(":", 1)
        samples = synthesize(label, int(k), sample_rate)
        begin, end = int(round(event.start * sample_rate)), int(round(event.end * sample_rate))
        return samples[begin:end]

    def license_note(self) -> str:
        return "Synthesised by AudioSetMix (no third-party audio); class names from the AudioSet ontology (CC BY-SA 4.0, Google)."
