"""Recipe -> one dataset row (audio bytes, caption, negatives, labels, modifiers, recipe)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .audio_io import encode_flac, quantize
from .captions.template import TEMPLATE_VERSION, template_caption
from .config import MixConfig
from .describe import describe
from .events import SPLITS
from .negatives import iter_negatives
from .recipe import Recipe
from .render import render
from .sampler import sample_recipe
from .sources.base import EventPool, Source


class TemplateCaptioner:
    """The default offline captioner: deterministic given the recipe's caption seed."""

    source_name = "template"
    prompt_version = TEMPLATE_VERSION

    def __init__(self, background_db: float = 6.0) -> None:
        self.background_db = background_db

    def caption(self, recipe: Recipe) -> str:
        return template_caption(describe(recipe, self.background_db), recipe.caption_seed)


@dataclass
class RowMaker:
    """Everything a worker needs to turn (split, index) into a row; picklable for num_proc."""

    source: Source
    pool: EventPool
    mix: MixConfig
    seed: int
    sample_rate: int
    num_negatives: int = 3
    captioner: TemplateCaptioner | None = None

    def __post_init__(self) -> None:
        if self.captioner is None:
            self.captioner = TemplateCaptioner(self.mix.background_db)

    def recipe(self, split: str, index: int) -> Recipe:
        return sample_recipe(self.pool, self.mix, self.seed, split, index, self.sample_rate, self.source.spec())

    def negatives_rng(self, split: str, index: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.seed, SPLITS.index(split), index, 1]))

    def row(self, split: str, index: int) -> dict:
        recipe = self.recipe(split, index)
        rendered = render(recipe, self.source)
        recipe = replace(recipe, limiter_gain_reduction_db=rendered.limiter_gain_reduction_db)
        pcm = quantize(rendered.samples)
        caption = self.captioner.caption(recipe)
        negatives, seen = [], {caption}
        for negative in iter_negatives(recipe, self.pool, self.negatives_rng(split, index)):
            if len(negatives) >= self.num_negatives:
                break
            text = self.captioner.caption(negative.recipe)
            if text not in seen:
                seen.add(text)
                negatives.append({"caption": text, "kind": negative.kind, "recipe": negative.recipe.to_json()})
        return {
            "id": recipe.id,
            "audio": {"bytes": encode_flac(pcm, recipe.sample_rate), "path": f"{recipe.id}.flac"},
            "caption": caption,
            "caption_source": self.captioner.source_name,
            "prompt_version": self.captioner.prompt_version,
            "negatives": negatives,
            "labels": recipe.labels,
            "modifiers": recipe.modifiers(),
            "recipe": recipe.to_json(),
            "duration": round(len(pcm) / recipe.sample_rate, 6),
        }


def rerender_pcm(recipe_json: str, source: Source | None = None) -> tuple[np.ndarray, int]:
    """Re-render a stored recipe to the stored PCM integers (what `render` CLI writes)."""
    from .sources import from_spec

    recipe = Recipe.from_json(recipe_json)
    source = source or from_spec(recipe.source)
    return quantize(render(recipe, source).samples), recipe.sample_rate
