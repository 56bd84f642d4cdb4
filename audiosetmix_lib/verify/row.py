"""One stored row checked whole: its clip and counterfactual clips re-rendered and measured, its negatives read.

`source` None means the source audio cannot be reached here: the checks that need sound are left
out (the caller says so once) and only the negatives' wording is checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..provenance import mismatches_here
from ..recipe import Recipe
from ..sources.base import Source
from .caption import caption_claims
from .claims import Claim, clip_claims
from .negatives import wording_claims
from .renders import clip_renders
from .rerender import rerender_claim


@dataclass
class RowResult:
    id: str
    claims: list[Claim] = field(default_factory=list)
    measured_sound: bool = True

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.claims)

    @property
    def failed(self) -> list[Claim]:
        return [c for c in self.claims if not c.passed]

    def to_dict(self) -> dict:
        return {"id": self.id, "passed": self.passed, "measured_sound": self.measured_sound,
                "claims": [c.to_dict() for c in self.claims]}


def negative_clip_name(k: int, kind: str) -> str:
    return f"negative {k} ({kind})"


def sound_claims(clip: str, recipe: Recipe, flac: bytes, source: Source, memo: dict) -> list[Claim]:
    """The clip against its re-render, then every claim measured on the re-render."""
    renders = clip_renders(recipe, source, memo)
    mismatches = mismatches_here(recipe, source)
    note = "; " + "; ".join(mismatches) if mismatches else ""
    return [rerender_claim(clip, flac, renders.pcm, recipe.sample_rate, note), *clip_claims(clip, renders, source, memo)]


def verify_row(row: dict, source: Source | None) -> RowResult:
    recipe = Recipe.from_json(row["recipe"])
    result = RowResult(row["id"], measured_sound=source is not None)
    negatives = row.get("negatives") or []
    result.claims += caption_claims("row", row["caption"], recipe)
    for k, negative in enumerate(negatives):
        name, negative_recipe = negative_clip_name(k, negative["kind"]), Recipe.from_json(negative["recipe"])
        result.claims += caption_claims(name, negative["caption"], negative_recipe)
        result.claims += wording_claims(name, row["caption"], recipe, negative["caption"], negative_recipe)
    if source is None:
        return result
    memo: dict = {}  # events shared by the clip, its events alone and its counterfactual clips render once
    result.claims += sound_claims("row", recipe, row["audio"]["bytes"], source, memo)
    for k, audio in zip(row.get("negative_audio_index") or [], row.get("negative_audio") or [], strict=True):
        negative = negatives[k]
        result.claims += sound_claims(negative_clip_name(k, negative["kind"]), Recipe.from_json(negative["recipe"]),
                                      audio["bytes"], source, memo)
    return result
