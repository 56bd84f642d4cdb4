"""A negative changes one thing: the words of every modifier it did not change are the caption's words.

Which modifiers changed is read from the two recipes (each event's transforms, compared as data);
which words say a modifier is read from the transform registry's word lists. A negative whose
caption re-words an unchanged modifier (a filter's adverb phrase turned into its adjective) gives itself away to a
model by wording alone, so it fails here.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import lru_cache

from ..recipe import Recipe
from ..transforms import TRANSFORMS
from .claims import Claim


@lru_cache(maxsize=None)
def _pattern(phrase: str) -> re.Pattern:
    return re.compile(rf"(?<![\w-]){re.escape(phrase.lower())}(?![\w-])")


def said(caption: str, candidates) -> set[str]:
    """The candidate phrases that occur in a caption as whole words."""
    text = caption.lower()
    return {p for p in candidates if _pattern(p).search(text)}


def phrases(caption: str, key: tuple[str, str]) -> set[str]:
    """The phrases of one modifier (transform, direction) that occur in a caption."""
    return said(caption, TRANSFORMS[key[0]].WORDS[key[1]].all)


def _transform_items(recipe: Recipe) -> Counter:
    """Every event's transforms as comparable items (label left out: an `event` negative keeps the modifiers)."""
    return Counter((name, json.dumps(params, sort_keys=True)) for spec in recipe.events
                   for name, params in spec.transforms.items())


def changed_keys(original: Recipe, negative: Recipe) -> set[tuple[str, str]]:
    """(transform, direction) of every modifier the negative added, removed or changed."""
    a, b = _transform_items(original), _transform_items(negative)
    return {(name, json.loads(params)["direction"]) for name, params in (a - b) + (b - a)}


def wording_claims(clip: str, caption: str, recipe: Recipe, negative_caption: str, negative: Recipe) -> list[Claim]:
    """One claim per modifier the negative left alone: its phrases in the negative caption = those in the caption."""
    untouched = {(name, params["direction"]) for spec in recipe.events for name, params in spec.transforms.items()}
    untouched -= changed_keys(recipe, negative)
    out = []
    for key in sorted(untouched):
        said, unsaid = phrases(caption, key), phrases(negative_caption, key)
        lost, added = sorted(said - unsaid), sorted(unsaid - said)
        detail = "same words" if said == unsaid else f"caption {sorted(said)}, negative {sorted(unsaid)}"
        out.append(Claim(clip, "wording", f"{key[0]}:{key[1]}", f"an unchanged modifier keeps its words ({detail})",
                         float(len(lost) + len(added)), 0.0, "phrases differing", not lost and not added,
                         f"{key[0]}:{key[1]}"))
    return out
