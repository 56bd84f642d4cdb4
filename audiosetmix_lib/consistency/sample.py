"""The recipes a consistency check asks about: a seeded sample of a built dataset, stratified.

Strata are the number of events, the transforms present and the relations present, so a small
sample still covers every shape of recipe in proportion (largest-remainder allocation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..describe import describe
from ..recipe import Recipe


@dataclass(frozen=True)
class Item:
    """One row: its id and recipes (the row's own, then its negatives')."""

    row_id: str
    recipes: tuple[Recipe, ...]


def labels_of(items: list[Item]) -> list[str]:
    """Every class the items' recipes hold (negatives included): the classes a caption may not invent."""
    return sorted({label for item in items for recipe in item.recipes for label in recipe.labels})


def stratum(recipe: Recipe) -> tuple:
    """(events, transforms present, relations present): what a recipe asks a captioner to say."""
    said = describe(recipe)
    transforms = sorted({name for e in said.events for name, _ in e.modifiers})
    relations = sorted({"background" if e.background else e.relation for e in said.events if e.relation})
    return len(said.events), tuple(transforms), tuple(relations)


def allocate(sizes: list[int], n: int) -> list[int]:
    """n split over strata in proportion to their sizes (largest remainders first, ties by position)."""
    total = sum(sizes)
    if n >= total:
        return list(sizes)
    exact = [size * n / total for size in sizes]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(sizes)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in by_remainder[: n - sum(counts)]:
        counts[i] += 1
    return counts


def stratified_sample(items: list[Item], n: int, seed: int) -> list[Item]:
    """n items drawn with `seed`, stratified by `stratum`, in dataset order."""
    groups: dict[tuple, list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(stratum(item.recipes[0]), []).append(i)
    keys = sorted(groups, key=repr)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 24]))
    chosen = []
    for key, count in zip(keys, allocate([len(groups[k]) for k in keys], n), strict=True):
        members = groups[key]
        chosen += [members[int(j)] for j in rng.choice(len(members), size=count, replace=False)]
    return [items[i] for i in sorted(chosen)]
