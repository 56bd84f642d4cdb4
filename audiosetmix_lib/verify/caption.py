"""The caption against the recipe its sound was measured from: it says each modifier and each relation the
clip has, and no modifier's opposite that no event has.

The sound's claims are measured from the recipe's events (claims.py); this is the link from those
claims to the words a user reads. Words come from the transform registry and relations.py, never
from the template, so a caption the template mis-wrote, or one edited after the build ("loud" ->
"quiet"), fails here.
"""

from __future__ import annotations

from ..recipe import Recipe
from ..relations import FOLLOW_WORDS, OVERLAP_WORDS
from ..transforms import TRANSFORMS, other_direction
from .claims import Claim
from .negatives import phrases, said


def caption_claims(clip: str, caption: str, recipe: Recipe) -> list[Claim]:
    keys = {(name, params["direction"]) for spec in recipe.events for name, params in spec.transforms.items()}
    out = []
    for name, direction in sorted(keys):
        found = phrases(caption, (name, direction))
        out.append(Claim(clip, "caption", f"{name}:{direction}", f"the caption says it ({sorted(found) or 'no word'})",
                         float(len(found)), 1.0, "phrases", bool(found), f"{name}:{direction}"))
        opposite = (name, other_direction(direction))
        if opposite not in keys and opposite[0] in TRANSFORMS:
            wrong = phrases(caption, opposite)
            out.append(Claim(clip, "caption", f"{name}:{direction}",
                             f"the caption does not say the opposite ({sorted(wrong) or 'no word'})", float(len(wrong)),
                             0.0, "phrases", not wrong, f"{name}:{direction}"))
    for relation, words in (("overlap", OVERLAP_WORDS), ("follow", FOLLOW_WORDS)):
        if any(spec.relation == relation for spec in recipe.events[1:]):
            found = said(caption, words)
            out.append(Claim(clip, "caption", relation, f"the caption says {relation} ({sorted(found) or 'no word'})",
                             float(len(found)), 1.0, "phrases", bool(found)))
    return out
