"""Hard negatives: the recipe perturbed in one controlled way, captioned by the same captioner.

Each kind is offered only where the recipe allows it, and each perturbed recipe contradicts
the original (`contradicts` checks it), so a negative caption is never accidentally true.
Every perturbed plan is fitted to the clip's budget by the planner's rules (`refit_plan`)
and kept only if the perturbation survives the fit, so each negative is also a valid clip:
its counterfactual audio says exactly what its caption says.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .config import MixConfig
from .describe import describe
from .event_density import PAD_KEY, padding
from .recipe import EventSpec, Recipe
from .relations import with_events
from .sampler import Audible, refit_plan
from .sources.base import EventPool
from .transforms import MODIFIER_NAMES, flip, length_of

NEGATIVE_KINDS = ("order", "modifier", "relation", "event", "missing", "extra")


@dataclass(frozen=True)
class Negative:
    kind: str
    recipe: Recipe
    detail: str  # what was changed, for people reading the row


def _order(recipe: Recipe, rng: np.random.Generator) -> Negative | None:
    pairs = [i for i in range(len(recipe.events) - 1) if recipe.events[i + 1].relation == "follow"]
    if not pairs:
        return None
    i = pairs[int(rng.integers(len(pairs)))]
    events = list(recipe.events)
    a, b = events[i], events[i + 1]
    timing = ("relation", "gap", "overlap_at")
    events[i] = replace(b, **{k: getattr(a, k) for k in timing})
    events[i + 1] = replace(a, **{k: getattr(b, k) for k in timing})
    return Negative("order", with_events(recipe, events), f"swapped {a.label!r} and {b.label!r}")


def _modifier(recipe: Recipe, rng: np.random.Generator) -> Negative | None:
    options = [(i, name) for i, e in enumerate(recipe.events) for name in sorted(e.transforms)]
    if not options:
        return None
    i, name = options[int(rng.integers(len(options)))]
    spec = recipe.events[i]
    transforms = dict(spec.transforms)
    transforms[name] = flip(name, transforms[name])
    events = list(recipe.events)
    events[i] = replace(spec, transforms=transforms)
    return Negative("modifier", with_events(recipe, events), f"flipped {name} of {spec.label!r} to {transforms[name]['direction']}")


def _relation(recipe: Recipe, rng: np.random.Generator, config: MixConfig) -> Negative | None:
    options = list(range(1, len(recipe.events)))
    if not options:
        return None
    i = options[int(rng.integers(len(options)))]
    spec = recipe.events[i]
    new = "follow" if spec.relation == "overlap" else "overlap"
    events = list(recipe.events)
    overlap_at = spec.overlap_at or round(float(rng.uniform(*config.overlap_onset)), 3)
    events[i] = replace(spec, relation=new, overlap_at=overlap_at, gap=spec.gap)
    return Negative("relation", with_events(recipe, events), f"{spec.label!r}: {spec.relation} -> {new}")


def _other_event(recipe: Recipe, pool: EventPool, rng: np.random.Generator):
    present = set(recipe.labels)
    others = [label for label in pool.classes(recipe.split) if label not in present]
    if not others:
        return None
    label = others[int(rng.integers(len(others)))]
    candidates = pool.by_split[recipe.split][label]
    return candidates[int(rng.integers(len(candidates)))]


def _event(recipe: Recipe, pool: EventPool, rng: np.random.Generator, audible: Audible | None = None) -> Negative | None:
    """Another class's event in one event's place, with its transforms: offered only when the new
    event's sound carries them all (its counterfactual clip must be what its caption says)."""
    other = _other_event(recipe, pool, rng)
    if other is None:
        return None
    i = int(rng.integers(len(recipe.events)))
    spec = recipe.events[i]
    if audible is not None and audible(other, spec.transforms) != spec.transforms:
        return None
    events = list(recipe.events)
    length = min(spec.segment_duration, other.duration)
    events[i] = replace(spec, event=other, segment_start=0.0, segment_duration=length)
    return Negative("event", with_events(recipe, events), f"replaced {spec.label!r} by {other.label!r}")


def _missing(recipe: Recipe, rng: np.random.Generator) -> Negative | None:
    if len(recipe.events) < 2:
        return None
    i = int(rng.integers(len(recipe.events)))
    events = [e for j, e in enumerate(recipe.events) if j != i]
    events[0] = replace(events[0], relation=None)
    return Negative("missing", with_events(recipe, events), f"dropped {recipe.events[i].label!r}")


def _extra(recipe: Recipe, pool: EventPool, rng: np.random.Generator, config: MixConfig) -> Negative | None:
    other = _other_event(recipe, pool, rng)
    if other is None:
        return None
    relation = "overlap" if rng.random() < 0.5 else "follow"
    gap = round(float(rng.uniform(*config.follow_gap)), 3)
    overlap_at = round(float(rng.uniform(*config.overlap_onset)), 3)
    spec = EventSpec(event=other, segment_start=0.0, segment_duration=other.duration, relation=relation, gap=gap, overlap_at=overlap_at)
    return Negative("extra", with_events(recipe, list(recipe.events) + [spec]), f"added {other.label!r}")


def fit_negative(original: Recipe, negative: Negative, config: MixConfig, said: list | None = None) -> Negative | None:
    """The negative fitted to the clip's budget, or None when the fit would undo or hide its change.

    Only the event an `extra` adds may turn from follow to overlap (its relation is the
    change); every other relation is what the caption says, so a plan that needs more is
    rejected. Rejected too: an event cut below the minimum event length (`min_event_share`,
    or its length in the original when that was already shorter), an event ending past the
    budget, and a plan that no longer contradicts the original. `said`: `what_is_said(original)`, when
    the caller fits several negatives of one recipe.
    """
    budget = float(original.render["max_duration"])
    events = list(negative.recipe.events)
    movable = (len(events) - 1,) if negative.kind == "extra" else ()
    fitted = with_events(negative.recipe, refit_plan(events, config, budget, movable))
    before = {e.label: length_of(e) for e in original.events}
    for edited, spec in zip(events, fitted.events, strict=True):
        natural = min(before.get(spec.label, length_of(edited)), length_of(edited))
        if length_of(spec) < min(config.min_event_share, natural) - 1e-6 or spec.onset + length_of(spec) > budget + 1e-6:
            return None
    if what_is_said(fitted) == (what_is_said(original) if said is None else said):
        return None
    # the same minimum clip length as a row: its own pad, not the original's
    settings = {k: v for k, v in fitted.render.items() if k != PAD_KEY}
    return replace(negative, recipe=replace(fitted, render={**settings, **padding(fitted.events, config)}))


def candidates(recipe: Recipe, pool: EventPool, rng: np.random.Generator, config: MixConfig | None = None,
               audible: Audible | None = None) -> dict[str, Negative]:
    """One perturbation of every kind the recipe allows, each fitted to the budget (kinds whose fit fails are left out).

    `audible`: as `sampler.sample_recipe` takes it (an event negative must not move a transform onto
    an event that would not carry it; a modifier flip is judged with the drawn one by `audible_on`)."""
    config = config or MixConfig()
    made = {
        "order": _order(recipe, rng),
        "modifier": _modifier(recipe, rng),
        "relation": _relation(recipe, rng, config),
        "event": _event(recipe, pool, rng, audible),
        "missing": _missing(recipe, rng),
        "extra": _extra(recipe, pool, rng, config),
    }
    said = what_is_said(recipe)
    fitted = {kind: fit_negative(recipe, neg, config, said) for kind, neg in made.items() if neg is not None}
    return {kind: neg for kind, neg in fitted.items() if neg is not None}


def iter_negatives(recipe: Recipe, pool: EventPool, rng: np.random.Generator, rounds: int = 3, config: MixConfig | None = None,
                   audible: Audible | None = None):
    """Negatives in a seeded order: every allowed kind once per round, in a shuffled order.

    Later rounds draw new perturbations, so a clip with few allowed kinds still gets K
    negatives (the caller drops any whose caption repeats an earlier one).
    """
    for _ in range(rounds):
        available = candidates(recipe, pool, rng, config, audible)
        kinds = list(available)
        for i in rng.permutation(len(kinds)):
            yield available[kinds[i]]


def contradicts(original: Recipe, negative: Recipe) -> bool:
    """True when the negative's description differs from the original's (labels, order, modifiers, relations)."""
    return what_is_said(original) != what_is_said(negative)


def what_is_said(recipe: Recipe) -> list:
    """What a caption of the recipe says, per event: label, modifiers, relation, background."""
    return [(e.label, e.modifiers, e.relation, e.background) for e in describe(recipe).events]


def flipped_direction(kind: str, recipe: Recipe, perturbed: Recipe) -> str:
    """What the true clip has where the perturbed recipe says otherwise: the modifier (`louder`) or the
    relation (`follow`) that was flipped; empty for kinds without a direction (or recipes that do not
    line up). The builder writes it into each negative, and evaluation derives it for rows without it,
    so accuracy splits by direction the same way on both paths."""
    if len(recipe.events) != len(perturbed.events):
        return ""
    for before, after in zip(recipe.events, perturbed.events, strict=True):
        if kind == "modifier":
            for name, params in sorted(before.transforms.items()):
                flipped_to = after.transforms.get(name, {}).get("direction")
                if flipped_to is not None and flipped_to != params["direction"]:
                    return MODIFIER_NAMES.get((name, params["direction"]), f"{name}-{params['direction']}")
        elif kind == "relation" and before.relation != after.relation:
            return before.relation or ""
    return ""
