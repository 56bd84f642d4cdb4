"""Test helpers: an in-memory source of known signals, and measurements on rendered audio."""

from __future__ import annotations

import numpy as np

from audiosetmix_lib.config import MixConfig
from audiosetmix_lib.events import Event
from audiosetmix_lib.recipe import EventSpec, Recipe
from audiosetmix_lib.relations import layout
from audiosetmix_lib.sampler import describe_settings, render_settings
from audiosetmix_lib.sources.base import Source

SR = 16000


def tone(freq: float, seconds: float, sr: int = SR, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def pulses(period: float, seconds: float, freq: float = 1000.0, sr: int = SR, width: float = 0.05) -> np.ndarray:
    """Tone bursts every `period` seconds: onsets are easy to find."""
    out = np.zeros(int(seconds * sr), dtype=np.float32)
    burst = tone(freq, width, sr, 0.5)
    for at in np.arange(0.0, seconds - width, period):
        i = int(round(at * sr))
        out[i : i + len(burst)] = burst
    return out


class ArraySource(Source):
    """Events backed by arrays given in the test (always at SR; resampled on load if asked)."""

    name = "array"

    def __init__(self, signals: dict[str, np.ndarray]):
        super().__init__()
        self.signals = signals

    def spec(self) -> dict:
        return {"name": "array"}

    def _scan(self):
        events = [Event(label, label, label, label, 0.0, len(x) / SR, "train") for label, x in sorted(self.signals.items())]
        return events, []

    def _load_raw(self, event, sample_rate):
        from audiosetmix_lib.audio_io import resample

        return resample(self.signals[event.audio], SR, sample_rate)


def recipe_of(source: ArraySource, specs: list[tuple[str, dict, str | None]], config: MixConfig | None = None, gap: float = 0.2,
              overlap_at: float = 0.4) -> Recipe:
    """A hand-made recipe: (label, transforms, relation) per event, whole events, laid out."""
    config = config or MixConfig()
    events = {e.label: e for e in source.events()}
    built = [EventSpec(event=events[label], segment_start=0.0, segment_duration=events[label].duration, transforms=t,
                       relation=r, gap=gap, overlap_at=overlap_at) for label, t, r in specs]
    return Recipe(split="train", index=0, seed=0, sample_rate=SR, source=source.spec(), events=layout(built),
                  render=render_settings(config), describe=describe_settings(config))


def dominant_frequency(x: np.ndarray, sr: int = SR) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    k = int(np.argmax(spectrum))
    if 0 < k < len(spectrum) - 1:  # parabolic interpolation
        a, b, c = np.log(spectrum[k - 1 : k + 2] + 1e-12)
        k = k + 0.5 * (a - c) / (a - 2 * b + c)
    return k * sr / len(x)


def onsets(x: np.ndarray, sr: int = SR, threshold: float = 0.05, hop: float = 0.005) -> np.ndarray:
    """Times where the frame envelope rises through `threshold` of its max."""
    h = int(hop * sr)
    env = np.array([np.abs(x[i : i + h]).max() for i in range(0, len(x) - h, h)])
    above = env >= threshold * env.max()
    rises = np.nonzero(above[1:] & ~above[:-1])[0] + 1
    if above[0]:
        rises = np.r_[0, rises]
    return rises * hop


def active_span(x: np.ndarray, sr: int = SR, threshold: float = 1e-3) -> tuple[float, float]:
    idx = np.nonzero(np.abs(x) > threshold)[0]
    return idx[0] / sr, (idx[-1] + 1) / sr


def undecoded_rows(out, splits=("train",)) -> list[dict]:
    """Rows of a built dataset with every audio column left as its stored bytes (comparable with ==)."""
    import datasets

    rows = []
    for split in splits:
        ds = datasets.load_dataset(str(out), split=split).cast_column("audio", datasets.Audio(decode=False))
        if "negative_audio" in ds.column_names:
            ds = ds.cast_column("negative_audio", datasets.List(datasets.Audio(decode=False)))
        rows.extend(dict(r) for r in ds)
    return rows


def alive_pids(pids: list[int]) -> list[int]:
    """Those of `pids` that still run (a zombie waiting for its parent does not)."""
    import psutil

    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive
