"""The (clip, hard negative) pairs of a split, and each pair's counterfactual clip where the row holds one.

A pair is (row i: clip x, caption c; negative k: caption c'); when the row's `negative_audio`
holds the rendering of negative k's recipe (`negative_audio_index`), that clip is x', and the
pair is a Winoground-style quadruple (x, c, x', c').
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..negatives import flipped_direction
from ..recipe import Recipe
from .errors import EvaluationError


def negative_detail(row_recipe: str | None, negative: dict) -> str:
    """The negative's kind, refined by the true direction (`modifier:louder`: the clip is louder, the
    negative says quieter; `relation:follow`): the negative's `direction` field, else derived from the
    two recipes by `negatives.flipped_direction` (the builder's own function)."""
    kind = str(negative["kind"])
    if negative.get("direction"):
        return f"{kind}:{negative['direction']}"
    if kind not in ("modifier", "relation") or not row_recipe or not negative.get("recipe"):
        return kind
    try:
        direction = flipped_direction(kind, Recipe.from_json(row_recipe), Recipe.from_json(negative["recipe"]))
    except (ValueError, KeyError, TypeError):
        return kind
    return f"{kind}:{direction}" if direction else kind


@dataclass
class NegativePairs:
    """One entry per (row, negative) pair, in row order; `clips[j]` is the pair's counterfactual clip
    (an Audio cell) or None."""

    rows: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    clips: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def with_clip(self) -> list[int]:
        """Indices of the pairs that have a counterfactual clip (the quadruples)."""
        return [j for j, clip in enumerate(self.clips) if clip is not None]


def counterfactual_clips(ds) -> list[dict[int, object]]:
    """Per row: negative index -> its counterfactual clip cell (empty without the columns)."""
    if "negative_audio" not in ds.column_names or "negative_audio_index" not in ds.column_names:
        return [{} for _ in range(len(ds))]
    import datasets

    table = ds.select_columns(["negative_audio", "negative_audio_index"])
    table = table.cast_column("negative_audio", datasets.List(datasets.Audio(decode=False)))  # bytes, decoded later
    clips = []
    for i, row in enumerate(table):
        index, audio = row["negative_audio_index"] or [], row["negative_audio"] or []
        if len(index) != len(audio) or not all(0 <= k for k in index):
            raise EvaluationError(f"row {i}: negative_audio holds {len(audio)} clip(s) but negative_audio_index names "
                                  f"{index}; the two columns must pair one index with each clip")
        clips.append(dict(zip(index, audio, strict=True)))
    return clips


def negative_pairs(ds) -> NegativePairs:
    """Every negative with a caption, with its kind, detail and counterfactual clip (if any)."""
    pairs = NegativePairs()
    recipes = ds["recipe"] if "recipe" in ds.column_names else [None] * len(ds)
    clips = counterfactual_clips(ds)
    for i, (negatives, recipe) in enumerate(zip(ds["negatives"], recipes, strict=True)):
        for k, negative in enumerate(negatives or []):
            if not negative or not negative.get("caption"):
                continue
            pairs.rows.append(i)
            pairs.texts.append(negative["caption"])
            pairs.kinds.append(str(negative["kind"]))
            pairs.details.append(negative_detail(recipe, negative))
            pairs.clips.append(clips[i].get(k))
    return pairs
