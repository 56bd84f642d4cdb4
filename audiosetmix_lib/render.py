"""Recipe -> waveform. Pure and single-threaded: the same recipe gives the same samples.

Each event is cut to its segment, brought to one absolute reference level (RMS of its active
frames at `reference_dbfs`), transformed, and placed at its onset. The mix is never
normalised; a peak limiter at `limiter_threshold_dbfs` (no make-up gain) only catches peaks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import numpy as np
from scipy.ndimage import minimum_filter1d, uniform_filter1d

from .recipe import RENDER_VERSION, EventSpec, Recipe
from .sources.base import Source
from .transforms import db_to_gain, fade, render_chain
from .transforms.measure import active_rms_db

__all__ = ["RENDER_VERSION", "Rendered", "active_rms_db", "to_reference_level", "limit", "render_event", "render"]


@dataclass(frozen=True)
class Rendered:
    samples: np.ndarray  # float32 mono at recipe.sample_rate
    limiter_gain_reduction_db: float
    event_spans: list[tuple[int, int]]  # sample [onset, end) of each event in the mix
    events: list[EventSpec]  # the recipe's events with what rendering measured (e.g. a filter's cut-off)


def to_reference_level(samples: np.ndarray, sr: int, reference_dbfs: float, active_range_db: float) -> np.ndarray:
    level = active_rms_db(samples, sr, active_range_db)
    if not np.isfinite(level):
        return samples
    return (samples * db_to_gain(reference_dbfs - level)).astype(np.float32)


def limit(samples: np.ndarray, sr: int, threshold_dbfs: float, window_s: float = 0.005) -> tuple[np.ndarray, float]:
    """Look-ahead peak limiter: smooth gain <= the gain each sample needs. Returns (out, max reduction dB)."""
    threshold = db_to_gain(threshold_dbfs)
    peak = float(np.max(np.abs(samples))) if len(samples) else 0.0
    if peak <= threshold:
        return samples, 0.0
    needed = np.minimum(1.0, threshold / np.maximum(np.abs(samples.astype(np.float64)), 1e-12))
    w = max(1, int(round(window_s * sr)))
    gain = uniform_filter1d(minimum_filter1d(needed, size=2 * w + 1, mode="nearest"), size=w, mode="nearest")
    gain = np.minimum(gain, needed)
    out = (samples * gain).astype(np.float32)
    return out, float(-20 * np.log10(gain.min()))


def render_event(spec: EventSpec, source: Source, recipe: Recipe) -> tuple[np.ndarray, EventSpec]:
    """One event's contribution, before placement, and the spec with its measured params."""
    sr = recipe.sample_rate
    settings = recipe.render
    raw = source.load(spec.event, sr)
    begin, end = spec.segment_bounds(sr)
    segment = raw[begin:end]
    cut = begin > 0 or end < len(raw)
    if cut:
        segment = fade(segment, sr, settings["fade_seconds"])
    segment = to_reference_level(segment, sr, settings["reference_dbfs"], settings["active_range_db"])
    audio, transforms = render_chain(segment, sr, spec.transforms, settings["fade_seconds"])
    return audio, replace(spec, transforms=transforms)


def _event_key(spec: EventSpec, recipe: Recipe) -> tuple:
    """Everything `render_event` reads: the event, its segment, its transforms, the rate and render settings."""
    return (spec.event, spec.segment_start, spec.segment_duration, json.dumps(spec.transforms, sort_keys=True),
            recipe.sample_rate, json.dumps(recipe.render, sort_keys=True))


def render(recipe: Recipe, source: Source, memo: dict | None = None) -> Rendered:
    """Mix the recipe's events at their onsets, then limit peaks.

    `memo` (one dict per dataset row) keeps each rendered event, so a row's counterfactual clips,
    which share all but the changed event with the row, render only what differs. `render_event`
    is pure, so a remembered event is the same samples it would render again.
    """
    sr = recipe.sample_rate
    max_len = int(round(recipe.render["max_duration"] * sr))
    parts, spans, events = [], [], []
    for spec in recipe.events:
        key = _event_key(spec, recipe) if memo is not None else None
        if key is not None and key in memo:
            audio, transforms = memo[key]
            resolved = replace(spec, transforms=transforms)
        else:
            audio, resolved = render_event(spec, source, recipe)
            if key is not None:
                memo[key] = (audio, resolved.transforms)
        events.append(resolved)
        onset = int(round(spec.onset * sr))
        parts.append((onset, audio))
        spans.append((onset, min(max_len, onset + len(audio))))
    # a clip planned shorter than min_clip_seconds carries its pad (event_density.padding): trailing silence
    length = min(max_len, max(max(end for _, end in spans), int(round(recipe.render.get("min_duration", 0.0) * sr))))
    mix = np.zeros(length, dtype=np.float32)
    for onset, audio in parts:
        stop = min(length, onset + len(audio))
        if stop > onset:
            mix[onset:stop] += audio[: stop - onset]
    mix, reduction = limit(mix, sr, recipe.render["limiter_threshold_dbfs"])
    return Rendered(samples=mix, limiter_gain_reduction_db=round(reduction, 4), event_spans=spans, events=events)
