"""Hard negatives: the recipe perturbed in one controlled way, captioned by the same captioner.

Each kind is offered only where the recipe allows it, and each perturbed recipe contradicts
the original (`contradicts` checks it), so a negative caption is never accidentally true.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .describe import describe
from .recipe import EventSpec, Recipe
from .sources.base import EventPool
from .transforms import flip

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
    return Negative("order", recipe.with_events(events), f"swapped {a.label!r} and {b.label!r}")


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
    return Negative("modifier", recipe.with_events(events), f"flipped {name} of {spec.label!r} to {transforms[name]['direction']}")


def _relation(recipe: Recipe, rng: np.random.Generator) -> Negative | None:
    options = list(range(1, len(recipe.events)))
    if not options:
        return None
    i = options[int(rng.integers(len(options)))]
    spec = recipe.events[i]
    new = "follow" if spec.relation == "overlap" else "overlap"
    events = list(recipe.events)
    events[i] = replace(spec, relation=new, overlap_at=spec.overlap_at or 0.4, gap=spec.gap)
    return Negative("relation", recipe.with_events(events), f"{spec.label!r}: {spec.relation} -> {new}")


def _other_event(recipe: Recipe, pool: EventPool, rng: np.random.Generator):
    present = set(recipe.labels)
    others = [label for label in pool.classes(recipe.split) if label not in present]
    if not others:
        return None
    label = others[int(rng.integers(len(others)))]
    candidates = pool.by_split[recipe.split][label]
    return candidates[int(rng.integers(len(candidates)))]


def _event(recipe: Recipe, pool: EventPool, rng: np.random.Generator) -> Negative | None:
    other = _other_event(recipe, pool, rng)
    if other is None:
        return None
    i = int(rng.integers(len(recipe.events)))
    spec = recipe.events[i]
    events = list(recipe.events)
    length = min(spec.segment_duration, other.duration)
    events[i] = replace(spec, event=other, segment_start=0.0, segment_duration=length)
    return Negative("event", recipe.with_events(events), f"replaced {spec.label!r} by {other.label!r}")


def _missing(recipe: Recipe, rng: np.random.Generator) -> Negative | None:
    if len(recipe.events) < 2:
        return None
    i = int(rng.integers(len(recipe.events)))
    events = [e for j, e in enumerate(recipe.events) if j != i]
    events[0] = replace(events[0], relation=None)
    return Negative("missing", recipe.with_events(events), f"dropped {recipe.events[i].label!r}")


def _extra(recipe: Recipe, pool: EventPool, rng: np.random.Generator) -> Negative | None:
    other = _other_event(recipe, pool, rng)
    if other is None:
        return None
    relation = "overlap" if rng.random() < 0.5 else "follow"
    spec = EventSpec(event=other, segment_start=0.0, segment_duration=min(other.duration, 2.0), relation=relation, gap=0.2, overlap_at=0.4)
    return Negative("extra", recipe.with_events(list(recipe.events) + [spec]), f"added {other.label!r}")


def candidates(recipe: Recipe, pool: EventPool, rng: np.random.Generator) -> dict[str, Negative]:
    """One perturbation of every kind the recipe allows."""
    made = {
        "order": _order(recipe, rng),
        "modifier": _modifier(recipe, rng),
        "relation": _relation(recipe, rng),
        "event": _event(recipe, pool, rng),
        "missing": _missing(recipe, rng),
        "extra": _extra(recipe, pool, rng),
    }
    return {kind: neg for kind, neg in made.items() if neg is not None}


def iter_negatives(recipe: Recipe, pool: EventPool, rng: np.random.Generator, rounds: int = 3):
    """Negatives in a seeded order: every allowed kind once per round, in a shuffled order.

    Later rounds draw new perturbations, so a clip with few allowed kinds still gets K
    negatives (the caller drops any whose caption repeats an earlier one).
    """
    for _ in range(rounds):
        available = candidates(recipe, pool, rng)
        kinds = list(available)
        for i in rng.permutation(len(kinds)):
            yield available[kinds[i]]


def contradicts(original: Recipe, negative: Recipe) -> bool:
    """True when the negative's description differs from the original's (labels, order, modifiers, relations)."""
    a, b = describe(original), describe(negative)
    key = lambda d: [(e.label, e.modifiers, e.relation, e.background) for e in d.events]  # noqa: E731
    return key(a) != key(b)
