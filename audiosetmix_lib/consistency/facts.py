"""A raw answer as facts about its recipe, read with the caption validator's own rules.

Each fact the description holds gets a state in the answer: an event is "named" or "missing",
a modifier "stated", "opposite" or "missing" (`validate.modifier_states`), the order "right" or
"wrong", a relation "said" or "missing". Words the description does not call for are facts too
(an invented class or modifier), so two answers agree only when they say the same things.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..captions.validate import Reading, modifier_states, opposite
from ..describe import Description

FACT_KINDS = ("event", "modifier", "order", "relation")
CATEGORIES = {"event": ("named", "missing"), "modifier": ("stated", "opposite", "missing"),
              "order": ("right", "wrong"), "relation": ("said", "missing")}


@dataclass(frozen=True)
class Facts:
    """What one answer says: (kind, subject) -> state for every fact of the description, and the extras."""

    states: tuple[tuple[tuple[str, str], str], ...]
    extras: tuple[str, ...]  # invented classes and modifiers ("class:Cat", "modifier:pitch:up")
    reasons: tuple[str, ...]  # every validator reason that applies

    @property
    def said(self) -> frozenset:
        """The set two answers are compared by."""
        return frozenset(self.states) | frozenset(("extra", e) for e in self.extras)

    def of_kind(self, kind: str) -> dict[str, str]:
        return {subject: state for (k, subject), state in self.states if k == kind}


def facts_of(reading: Reading, description: Description) -> Facts:
    """The answer's facts; `reading` is `Validator.read(answer, description)`."""
    states: list[tuple[tuple[str, str], str]] = []
    for n, (event, named) in enumerate(zip(description.events, reading.events, strict=True)):
        states.append((("event", f"{n}:{event.label}"), "named" if named else "missing"))
    needed = Counter(m for event in description.events for m in event.modifiers)
    for key, state in sorted(modifier_states(needed, reading.modifiers).items()):
        states.append((("modifier", f"{key[0]}:{key[1]}"), state))
    if len(description.events) > 1:
        states.append((("order", "onsets"), "wrong" if reading.out_of_order else "right"))
    for kind, said in sorted(reading.relations.items()):
        states.append((("relation", kind), "said" if said else "missing"))
    extras = [f"modifier:{key[0]}:{key[1]}" for key in sorted(reading.modifiers)
              if needed[key] == 0 and needed[opposite(key)] == 0]
    if reading.invented_class is not None:
        extras.append(f"class:{reading.invented_class}")
    return Facts(tuple(states), tuple(extras), reading.reasons(description))


def has_modifier(description: Description) -> bool:
    return any(event.modifiers for event in description.events)


def slip_rates(facts: list[Facts], descriptions: list[Description]) -> dict[str, float | None]:
    """Per run: shares of answers that leave a modifier out / state one the other way round (of the
    answers to prompts with at least one modifier), miss an event (of all), get the order wrong
    (of the answers to prompts with two events or more)."""
    with_modifier = [f for f, d in zip(facts, descriptions, strict=True) if has_modifier(d)]
    several = [f for f, d in zip(facts, descriptions, strict=True) if len(d.events) > 1]

    def share(items, test) -> float | None:
        return sum(1 for f in items if test(f)) / len(items) if items else None

    return {
        "missing_modifier_rate": share(with_modifier, lambda f: "missing" in f.of_kind("modifier").values()),
        "opposite_modifier_rate": share(with_modifier, lambda f: "opposite" in f.of_kind("modifier").values()),
        "missing_event_rate": share(facts, lambda f: "missing" in f.of_kind("event").values()),
        "order_rate": share(several, lambda f: f.of_kind("order").get("onsets") == "wrong"),
    }


def rating_table(per_run: list[list[Facts]], kind: str) -> list[list[int]]:
    """Subjects x categories counts for Fleiss' kappa: every fact of `kind` of every recipe, rated by the K runs."""
    categories = CATEGORIES[kind]
    table = []
    for recipe_facts in zip(*per_run, strict=True):
        for subject in recipe_facts[0].of_kind(kind):
            counts = Counter(f.of_kind(kind)[subject] for f in recipe_facts)
            table.append([counts[c] for c in categories])
    return table
