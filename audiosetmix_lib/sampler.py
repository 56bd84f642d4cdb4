"""Seeded recipe sampling and plan fitting.

Example `i` of split `s` draws only from SeedSequence([seed, split_index, i]), so a row does
not depend on the number of processes. The planner keeps the sampled number of events: it
cuts long events to a common time cap, prefers overlap when following would not fit, and
never drops an event.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Callable

import numpy as np

from .activity import frame_seconds, looped_repeats, place_segment
from .config import MixConfig
from .event_density import events_that_fit, padding
from .events import SPLITS, Event
from .recipe import EventSpec, Recipe
from .relations import layout, onsets_for
from .sources.base import EventPool
from .transforms import MATERIAL_STAGES, length_factor_of, length_of, resolve_settings, sample_transforms

Audible = Callable[[Event, dict], dict]  # (event, drawn transforms) -> those its sound would carry


def example_rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), SPLITS.index(split), int(index)]))


def render_settings(config: MixConfig) -> dict:
    return {
        "fade_seconds": config.fade_seconds,
        "reference_dbfs": config.reference_dbfs,
        "active_range_db": config.active_range_db,
        "limiter_threshold_dbfs": config.limiter_threshold_dbfs,
        "max_duration": config.max_duration,
    }


def describe_settings(config: MixConfig) -> dict:
    """What `describe` reads from a recipe (stored in it, so a row describes itself)."""
    return {"background_db": config.background_db}


MIN_TEMPO_SPAN_S = 0.25  # the least sound a speed change is heard on (one tick has no tempo to slow down)
Activity = Callable[[Event], np.ndarray]  # an event's active frames (`Source.activity` at the recipe's rate)


def sample_recipe(pool: EventPool, config: MixConfig, seed: int, split: str, index: int, sample_rate: int, source_spec: dict,
                  transform_settings: dict | None = None, audible: Audible | None = None,
                  activity: Activity | None = None) -> Recipe:
    """Draw one complete recipe for example `index` of `split`.

    `transform_settings`: name -> settings from `resolve_settings(config.transforms)` (resolved
    here when not given; callers that draw many recipes resolve once). `audible(event, transforms)`:
    the drawn transforms less those the event's sound would not carry (`audibility.Audibility.audible`;
    a build always passes it). They are drawn first and dropped after, so the random draws stay in
    their order and only an event that drew such a transform changes. None keeps every drawn
    transform (a plan made without the audio). `activity`: where each event sounds
    (`Source.activity`), so every segment starts and ends on sound; None (a pool without audio)
    takes the segments' bounds as they are.
    """
    settings = transform_settings if transform_settings is not None else resolve_settings(config.transforms)
    rng = example_rng(seed, split, index)
    classes = pool.classes(split)
    if not classes:
        raise ValueError(f"the source has no events in split {split!r}")
    n_sampled = int(rng.integers(config.min_events, config.max_events + 1))
    n = min(n_sampled, len(classes))  # distinct classes keep captions and order negatives unambiguous
    chosen = [classes[i] for i in rng.choice(len(classes), size=n, replace=False)]
    specs = []
    for i, label in enumerate(chosen):
        candidates = pool.by_split[split][label]
        event = candidates[int(rng.integers(len(candidates)))]
        transforms = sample_transforms(rng, settings)
        if audible is not None:
            transforms = audible(event, transforms)
        transforms = heard_transforms(transforms)
        relation, gap, overlap_at = None, 0.0, 0.0
        if i > 0:
            relation = "overlap" if rng.random() < config.overlap_probability else "follow"
            gap = round(float(rng.uniform(*config.follow_gap)), 3)
            overlap_at = round(float(rng.uniform(*config.overlap_onset)), 3)
        specs.append(EventSpec(event=event, segment_start=0.0, segment_duration=event.duration, transforms=transforms,
                               relation=relation, gap=gap, overlap_at=overlap_at))
    specs = fit_plan(events_that_fit(specs, config), config, rng, activity, frame_seconds(sample_rate))
    return Recipe(split=split, index=int(index), seed=int(seed), sample_rate=int(sample_rate), source=source_spec,
                  events=specs, render={**render_settings(config), **padding(specs, config)}, describe=describe_settings(config),
                  caption_seed=int(rng.integers(2**31)))


def heard_transforms(transforms: dict) -> dict:
    """The drawn transforms less a cut or loop ("duration") drawn with a filter: a filter keeps its share of the
    power in another part of a sweep (a siren) in the whole event than in the cut one, so the uncut event can
    sound as short as the cut one and "shorter" is not heard. The draws are the same (rows stay a function of
    the seed); only the duration modifier is left out."""
    if "filter" in transforms and "duration" in transforms:
        return {name: params for name, params in transforms.items() if name != "duration"}
    return transforms


def material_factor(spec: EventSpec) -> float:
    """How the transforms other than the length stage's scale the segment (a faster event: < 1)."""
    return length_factor_of(spec.transforms, MATERIAL_STAGES)


def length_stage_factor(spec: EventSpec) -> float:
    """What the length stage (a cut or a loop) makes of the material's length."""
    return length_factor_of(spec.transforms, ("length",))


def _event_cap(spec: EventSpec, cap: float, factor: float) -> float:
    """The segment that cuts an event's whole pre-length-stage output to `cap` seconds (`factor`: `material_factor`)."""
    natural = spec.event.duration * factor
    return min(spec.event.duration, cap / factor) if natural > cap else spec.event.duration


def _with_cap(specs: list[EventSpec], cap: float) -> list[EventSpec]:
    """Cut every event's pre-duration-transform output length to `cap` seconds (segment start kept)."""
    return layout([replace(spec, segment_duration=_event_cap(spec, cap, material_factor(spec))) for spec in specs])


def _end(specs: list[EventSpec]) -> float:
    """Where the plan ends, exactly (the stored ends are rounded: the fit must not accept 5e-7 s over budget)."""
    return max(s.onset + length_of(s) for s in specs)


def _largest_cap(specs: list[EventSpec], budget: float, segment_at) -> float:
    """The largest common cap (seconds) at which the plan cut by `segment_at(spec, cap, factor)` ends within the budget.

    Each step computes where the cut plan ends from the same lengths and onsets as `layout`
    (each event's length factors looked up once), without building the plan, so the bisection
    takes the same steps, only faster."""
    factors = [(material_factor(s), length_stage_factor(s)) for s in specs]

    def end_at(cap: float) -> float:
        lengths = [segment_at(spec, cap, material) * (material * after) for spec, (material, after) in zip(specs, factors, strict=True)]
        return max(onset + length for onset, length in zip(onsets_for(specs, lengths), lengths, strict=True))

    high = max(s.event.duration * material for s, (material, _) in zip(specs, factors, strict=True))
    if end_at(high) <= budget:
        return high
    low = 0.0
    for _ in range(40):
        mid = (low + high) / 2
        if end_at(mid) <= budget:
            low = mid
        else:
            high = mid
    return low


def fit_plan(specs: list[EventSpec], config: MixConfig, rng: np.random.Generator, activity: Activity | None = None,
             frame_s: float = 0.02) -> list[EventSpec]:
    """Fit the events into max_duration: the largest common cap that fits, converting follows to overlaps if needed;
    each cut segment placed on the event's sound (`choose_segment`)."""
    budget = config.max_duration
    while True:
        cap = _largest_cap(specs, budget, _event_cap)
        follows = [i for i, s in enumerate(specs) if s.relation == "follow"]
        if cap >= config.min_event_share or not follows:
            break
        i = follows[int(rng.integers(len(follows)))]
        specs = [replace(s, relation="overlap") if j == i else s for j, s in enumerate(specs)]
    fitted = _with_cap(specs, cap)
    placed = layout([choose_segment(spec, rng, None if activity is None else activity(spec.event), frame_s)
                     for spec in fitted])
    assert _end(placed) <= budget + 1e-3, "plan fitting failed"
    return placed


def choose_segment(spec: EventSpec, rng: np.random.Generator, mask: np.ndarray | None, frame_s: float) -> EventSpec:
    """Where the (cut) segment lies in its event: a seeded start, then the segment and the part a cut keeps
    snapped onto sound (`activity.place_segment`), so neither starts, ends or consists in silence. Never longer
    than planned (the fitted plan only ends earlier); one draw, as before. A speed change whose heard part has
    no tempo (one tick: less than MIN_TEMPO_SPAN_S of sound) is left out, the segment rescaled so the event
    lasts as long."""
    duration, length = spec.event.duration, spec.segment_duration
    slack = duration - length
    drawn = float(rng.uniform(0.0, slack)) if slack > 1e-6 else 0.0
    start = drawn
    if mask is not None:
        spec, start, length = _on_sound(spec, mask, frame_s, drawn, length)
    start = round(float(start), 3)  # a float, not numpy's, however the placement computed it
    length = min(round(float(length), 4), round(duration - start, 4))
    return replace(spec, segment_start=start, segment_duration=length)


def _on_sound(spec: EventSpec, mask: np.ndarray, frame_s: float, drawn: float, length: float) -> tuple[EventSpec, float, float]:
    """`choose_segment`'s placement on sound: (the spec with a cut's share, a loop's repeats and speed as heard,
    start, length)."""
    duration, transforms = spec.event.duration, dict(spec.transforms)
    cut = transforms.get("duration", {})
    share = cut["keep"] if cut.get("direction") == "down" else 1.0
    start, length, heard = place_segment(mask, frame_s, duration, drawn, length, share)
    if "speed" in transforms and length * heard < MIN_TEMPO_SPAN_S:
        rescaled = min(duration, length * length_factor_of({"speed": transforms.pop("speed")}))
        start, length, heard = place_segment(mask, frame_s, duration, min(start, duration - rescaled), rescaled, share)
    if heard != share:
        transforms["duration"] = {**cut, "keep": heard}
    if cut.get("direction") == "up":
        repeats = looped_repeats(mask, frame_s, duration, start, length, cut["repeats"])
        transforms["duration"] = {**cut, "repeats": repeats} if repeats != cut["repeats"] else cut
    return replace(spec, transforms=transforms), start, length


def _segment_cap(spec: EventSpec, cap: float, factor: float) -> float:
    """The current segment, cut so its pre-length-stage output is <= `cap` s (start kept; `factor`: `material_factor`)."""
    return math.floor(cap / factor * 1e4) / 1e4 if spec.segment_duration * factor > cap else spec.segment_duration


def _with_segment_cap(specs: list[EventSpec], cap: float) -> list[EventSpec]:
    """Cut every event's current segment so its pre-duration-transform output is <= `cap` s (start kept)."""
    return layout([replace(spec, segment_duration=_segment_cap(spec, cap, material_factor(spec))) for spec in specs])


def refit_plan(specs: list[EventSpec], config: MixConfig, budget: float, movable: tuple[int, ...] = ()) -> list[EventSpec]:
    """Fit an edited plan (a negative) into `budget` by the planner's rules, keeping each segment's start.

    The largest common cap on the current segments; below `min_event_share`, a follow among
    `movable` (the events the edit introduced) becomes an overlap before anything is cut
    further. Other relations are never changed: they are part of what the caption says.
    """
    specs = layout(specs)
    while True:
        cap = _largest_cap(specs, budget, _segment_cap)
        follows = [i for i in movable if specs[i].relation == "follow"]
        if cap >= config.min_event_share or not follows:
            break
        specs = [replace(s, relation="overlap") if j == follows[0] else s for j, s in enumerate(specs)]
    return _with_segment_cap(specs, cap)


__all__ = ["example_rng", "sample_recipe", "fit_plan", "refit_plan", "render_settings"]
