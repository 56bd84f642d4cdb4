"""The renders `verify` measures: the clip, and each event alone in it, with and without each transform.

Everything goes through the renderer's own functions (`render.render`, `render.place_events`), so
what is measured is what a build writes; one memo per row lets the clip, its events alone and its
counterfactual clips share every event they have in common.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..audio_io import quantize
from ..recipe import Recipe
from ..render import event_key, place_events, render
from ..sources.base import Source
from ..transforms import TRANSFORMS, without


@dataclass(frozen=True)
class ClipRenders:
    """One clip (a row's or a counterfactual's) and each of its events placed alone in a silent clip."""

    recipe: Recipe  # with what rendering measured (e.g. a filter's cut-off)
    pcm: np.ndarray  # the clip as the dataset stores it (16-bit integers)
    alone: list[np.ndarray]  # event i alone, at its place, padded to the clip's length (float, no limiter)


def pad(samples: np.ndarray, length: int) -> np.ndarray:
    out = np.zeros(max(length, len(samples)), dtype=np.float32)
    out[: len(samples)] = samples
    return out


def event_alone(recipe: Recipe, index: int, source: Source, memo: dict, transforms: dict | None = None) -> np.ndarray:
    """Event `index` alone and whole (not cut at the clip's end), placed where the recipe places it (with other
    `transforms`, if given), before any limiter."""
    spec = recipe.events[index]
    if transforms is not None:
        spec = replace(spec, transforms=transforms)
    mix, _, _ = place_events(replace(recipe, events=[spec]), source, memo, cut_at_max=False)
    return mix


def clip_renders(recipe: Recipe, source: Source, memo: dict) -> ClipRenders:
    rendered = render(recipe, source, memo)
    recipe = replace(recipe, events=rendered.events)
    length = len(rendered.samples)
    alone = [pad(event_alone(recipe, i, source, memo), length)[:length] for i in range(len(recipe.events))]
    return ClipRenders(recipe, quantize(rendered.samples), alone)


def other_transforms(transforms: dict, name: str) -> dict:
    """An event's transforms but `name`, as the check's `before` renders them. Without a stretch-stage transform
    (pitch, speed), which moves the spectrum a spectral transform measured, that one measures again
    (`transforms.without`: a filter defined as "keep 30 % of the power" follows the pitch); without any other (a
    cut, a gain) it keeps what it measured: the same filter, so the two renders differ by the removed transform
    only (re-measured on a whole siren sweep instead of its first 40 %, a low-pass keeps another part of the
    sweep, and the cut measured as no change)."""
    if getattr(TRANSFORMS.get(name), "STAGE", None) == "stretch":
        return without(transforms, name)
    return {k: v for k, v in transforms.items() if k != name}


def without_transform(recipe: Recipe, index: int, name: str, source: Source, memo: dict) -> tuple[np.ndarray, np.ndarray]:
    """(before, after) of one transform of event `index`: the event alone with all its transforms except `name`,
    and with all of them, both whole and padded to one length (at least the clip's)."""
    spec = recipe.events[index]
    before = event_alone(recipe, index, source, memo, other_transforms(spec.transforms, name))
    after = event_alone(recipe, index, source, memo)
    length = max(len(before), len(after), int(round(recipe.duration * recipe.sample_rate)))
    return pad(before, length), pad(after, length)


def placement_key(recipe: Recipe, index: int) -> tuple:
    """What event `index` alone, with or without a transform, depends on (`without_transform`): the event as
    rendered, its onset, and the clip's length and render settings. A counterfactual clip that keeps the event
    where it was measures it as the row's clip did."""
    spec = recipe.events[index]
    return event_key(spec, recipe), spec.onset, recipe.duration


def remembered(memo: dict, key: tuple, compute):
    """compute(), or its result for `key` earlier in this row (what is remembered is pure: same inputs, same
    value)."""
    if key not in memo:
        memo[key] = compute()
    return memo[key]
