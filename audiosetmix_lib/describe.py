"""Recipe -> structured description: what a captioner (template or LLM) must say, and nothing else."""

from __future__ import annotations

from dataclasses import dataclass

from .recipe import Recipe
from .transforms import length_of, level_db_of


@dataclass(frozen=True)
class DescribedEvent:
    label: str
    modifiers: tuple[tuple[str, str], ...]  # (transform, direction), sorted
    relation: str | None  # None (first), "follow", "overlap"
    background: bool  # overlapping and >= background_db below the event it overlaps
    onset: float
    duration: float


@dataclass(frozen=True)
class Description:
    events: tuple[DescribedEvent, ...]

    @property
    def labels(self) -> list[str]:
        return [e.label for e in self.events]

    def to_dict(self) -> dict:
        return {
            "events": [
                {
                    "label": e.label,
                    "modifiers": [f"{t}:{d}" for t, d in e.modifiers],
                    "relation": e.relation,
                    "background": e.background,
                    "onset": round(e.onset, 2),
                    "duration": round(e.duration, 2),
                }
                for e in self.events
            ]
        }


def describe(recipe: Recipe) -> Description:
    """Events in onset order with their modifiers and their relation to the previous event.

    Every parameter comes from the recipe (`recipe.describe`), so a stored row describes itself.
    """
    background_db = recipe.describe["background_db"]
    described = []
    for i, spec in enumerate(recipe.events):
        modifiers = tuple(sorted((name, params["direction"]) for name, params in spec.transforms.items()))
        background = False
        if spec.relation == "overlap":
            background = level_db_of(spec.transforms) <= level_db_of(recipe.events[i - 1].transforms) - background_db
        described.append(DescribedEvent(spec.label, modifiers, spec.relation, background, spec.onset, length_of(spec)))
    return Description(tuple(described))
