"""Recipe -> one dataset row (audio bytes, caption, negatives, labels, modifiers, recipe)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from .audibility import Audibility
from .audio_io import encode_flac, quantize
from .captions.protocol import CaptionedSet, Captioner, CaptionSet
from .captions.template_captioner import TemplateCaptioner
from .config import MixConfig
from .events import SPLITS
from .negatives import flipped_direction, iter_negatives
from .provenance import fingerprinted
from .recipe import Recipe
from .relations import with_events
from .render import render
from .sampler import sample_recipe
from .sources import from_spec
from .sources.base import EventPool, Source
from .transforms import recipe_modifiers, resolve_settings


@dataclass
class RowMaker:
    """Everything a worker needs to turn (split, index) into a row; picklable for num_proc."""

    source: Source
    pool: EventPool
    mix: MixConfig
    seed: int
    sample_rate: int
    num_negatives: int = 3
    captioner: Captioner | None = None
    audio_negatives: int = 1  # counterfactual clips rendered per row

    def __post_init__(self) -> None:
        self.transform_settings = resolve_settings(self.mix.transforms)  # validates the overrides before any rendering
        self.audibility = Audibility(self.source, self.sample_rate)  # which drawn transforms an event's sound carries
        self._template = TemplateCaptioner()
        if self.captioner is None:
            self.captioner = self._template

    def recipe(self, split: str, index: int) -> Recipe:
        """The drawn recipe, less its last events while its caption cannot be said whole in 30 words.

        A caption is never cut (a cut one would leave events unsaid): an event the words cannot
        carry is not in the clip either. Deterministic: a pure function of the drawn recipe."""
        recipe = sample_recipe(self.pool, self.mix, self.seed, split, index, self.sample_rate, self.source.spec(),
                               self.transform_settings, audible=self.audibility.audible,
                               activity=partial(self.source.activity, sample_rate=self.sample_rate))
        while len(recipe.events) > 1 and not self._template.fits([recipe]):
            recipe = with_events(recipe, list(recipe.events[:-1]))
        return recipe

    def negatives_rng(self, split: str, index: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.seed, SPLITS.index(split), index, 1]))

    def plan(self, split: str, index: int) -> tuple[Recipe, list, CaptionSet]:
        """The recipe, its chosen negatives and the texts to write (template texts as the fallback).

        Negatives are chosen by their template captions whatever the captioner, so an LLM build
        and a template build of the same config pick the same perturbations.
        """
        template = self._template
        recipe = self.recipe(split, index)
        chosen, seen = [], {template.caption(recipe)}
        whole = template.fits([recipe])  # the caption alone can be said whole
        for negative in iter_negatives(recipe, self.pool, self.negatives_rng(split, index), config=self.mix,
                                       audible=self.audibility.audible):
            if len(chosen) >= self.num_negatives:
                break
            text = template.caption(negative.recipe)
            if text in seen:  # a perturbation that reads the same is no negative
                continue
            if whole and not template.fits([recipe] + [n.recipe for n in chosen] + [negative.recipe]):
                continue  # it would force every text of the row to be cut short: try the next one
            seen.add(text)
            chosen.append(negative)
        recipes = [recipe] + [n.recipe for n in chosen]
        return recipe, chosen, CaptionSet(recipe.id, recipes, template.caption_set(recipes))

    def rows(self, split: str, indices, unit: str | None = None):
        """Rows for a batch of indices: every text of the batch is captioned in one call, then audio is rendered.

        `unit` names the work unit whose answer file keeps the LLM answers (see captions.answer_files).
        """
        plans = [self.plan(split, index) for index in indices]
        captioned = self.captioner.caption_sets([caption_set for _, _, caption_set in plans], unit=unit)
        for (recipe, chosen, _), texts in zip(plans, captioned, strict=True):
            yield self._row(recipe, chosen, texts)

    def row(self, split: str, index: int) -> dict:
        return next(iter(self.rows(split, [index])))

    def _row(self, recipe: Recipe, chosen: list, texts: CaptionedSet) -> dict:
        memo: dict = {}  # the row's rendered events, reused by its counterfactual clips
        rendered = render(recipe, self.source, memo)
        recipe = fingerprinted(replace(recipe, events=rendered.events,
                                       render_output={"limiter_gain_reduction_db": rendered.limiter_gain_reduction_db}), self.source)
        pcm = quantize(rendered.samples)
        caption, *others = texts.captions
        chosen, clips = render_negative_clips(chosen, self.source, self.audio_negatives, memo)
        negatives = [{"caption": t, "kind": n.kind, "recipe": fingerprinted(n.recipe, self.source).to_json(),
                      "direction": flipped_direction(n.kind, recipe, n.recipe)}
                     for t, n in zip(others, chosen, strict=True)]
        return {
            "id": recipe.id,
            "audio": {"bytes": encode_flac(pcm, recipe.sample_rate), "path": f"{recipe.id}.flac"},
            "caption": caption,
            "caption_source": texts.source,
            "prompt_version": texts.prompt_version,
            "negatives": negatives,
            "labels": recipe.labels,
            "modifiers": recipe_modifiers(recipe),
            "recipe": recipe.to_json(),
            "duration": round(len(pcm) / recipe.sample_rate, 6),
            "negative_audio": [{"bytes": clip, "path": f"{recipe.id}-negative-{k}.flac"} for k, clip in clips],
            "negative_audio_index": [k for k, _ in clips],
        }


AUDIO_NEGATIVE_PREFERENCE = ("order", "modifier", "relation")  # the kinds only the audio's structure tells apart


def audio_negative_choice(kinds: list[str], n: int) -> list[int]:
    """Indices of up to `n` negatives to render: kinds order, modifier, relation first, then the rest, each by index."""
    rank = lambda k: AUDIO_NEGATIVE_PREFERENCE.index(kinds[k]) if kinds[k] in AUDIO_NEGATIVE_PREFERENCE else len(AUDIO_NEGATIVE_PREFERENCE)  # noqa: E731
    return sorted(range(len(kinds)), key=lambda k: (rank(k), k))[: max(0, n)]


def render_negative_clips(chosen: list, source: Source, n: int, memo: dict | None = None) -> tuple[list, list[tuple[int, bytes]]]:
    """FLAC bytes of up to `n` negatives' counterfactual clips, by the row's renderer, as [(index, bytes)].

    Rendered negatives get what rendering measured written into their recipe, as the row does.
    `memo`: the row's rendered events (`render.render`), so only what a negative changed is rendered again.
    """
    chosen, clips = list(chosen), []
    for k in audio_negative_choice([c.kind for c in chosen], n):
        rendered = render(chosen[k].recipe, source, memo)
        chosen[k] = replace(chosen[k], recipe=replace(chosen[k].recipe, events=rendered.events,
                                                      render_output={"limiter_gain_reduction_db": rendered.limiter_gain_reduction_db}))
        clips.append((k, encode_flac(quantize(rendered.samples), chosen[k].recipe.sample_rate)))
    return chosen, clips


def rerender_pcm(recipe_json: str, source: Source | None = None, source_root=None) -> tuple[np.ndarray, int]:
    """Re-render a stored recipe to the stored PCM integers (what `render` CLI writes).

    `source_root`: where the source's files are on this machine (the recipe names them relative
    to `<source_root>`).
    """
    recipe = Recipe.from_json(recipe_json)
    source = source or from_spec(recipe.source, source_root)
    return quantize(render(recipe, source).samples), recipe.sample_rate
