"""The default offline captioner: the template grammar over a recipe's description."""

from __future__ import annotations

from ..describe import describe
from ..recipe import Recipe
from .protocol import CaptionedSet, CaptionSet
from .template import TEMPLATE_VERSION, fit_in_one_style, template_caption, template_captions


class TemplateCaptioner:
    """Deterministic given the recipe's caption seed; RowMaker also uses it to choose negatives."""

    source_name = "template"
    prompt_version = TEMPLATE_VERSION

    def caption(self, recipe: Recipe) -> str:
        return template_caption(describe(recipe), recipe.caption_seed)

    def caption_set(self, recipes: list[Recipe]) -> list[str]:
        """A caption and its negatives in one shared style (see `template_captions`)."""
        return template_captions([describe(r) for r in recipes], recipes[0].caption_seed)

    def fits(self, recipes: list[Recipe]) -> bool:
        """Whether a caption and its negatives can all be said whole, in one style, in 30 words."""
        return fit_in_one_style([describe(r) for r in recipes], recipes[0].caption_seed)

    def caption_sets(self, sets: list[CaptionSet], unit: str | None = None) -> list[CaptionedSet]:
        """The batch interface LLM captioners share: the template texts are the sets' own fallback texts."""
        return [CaptionedSet(list(s.fallback), self.source_name, self.prompt_version) for s in sets]
