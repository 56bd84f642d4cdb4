"""Recipe -> one dataset row (audio bytes, caption, negatives, labels, modifiers, recipe)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .audio_io import encode_flac, quantize
from .captions.template import TEMPLATE_VERSION, template_caption, template_captions
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

    def caption_set(self, recipes: list[Recipe]) -> list[str]:
        """A caption and its negatives in one shared style (see `template_captions`)."""
        return template_captions([describe(r, self.background_db) for r in recipes], recipes[0].caption_seed)


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
        chosen, seen = [], {self.captioner.caption(recipe)}
        for negative in iter_negatives(recipe, self.pool, self.negatives_rng(split, index)):
            if len(chosen) >= self.num_negatives:
                break
            text = self.captioner.caption(negative.recipe)
            if text not in seen:  # a perturbation that reads the same is no negative
                seen.add(text)
                chosen.append(negative)
        caption, *texts = self.captioner.caption_set([recipe] + [n.recipe for n in chosen])
        negatives = [{"caption": t, "kind": n.kind, "recipe": n.recipe.to_json()} for t, n in zip(texts, chosen)]
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
