"""Template captions and hard negatives: one sentence, every event and modifier named, negatives contradict."""

import re
from collections import Counter
from functools import partial

import numpy as np
import pytest

from audiosetmix_lib.audibility import Audibility
from audiosetmix_lib.captions.lexicon import phrase_for
from audiosetmix_lib.captions.template import _styles, template_caption, voices, word_count
from audiosetmix_lib.captions.template_captioner import TemplateCaptioner
from audiosetmix_lib.config import MixConfig
from audiosetmix_lib.describe import describe
from audiosetmix_lib.negatives import candidates, contradicts
from audiosetmix_lib.rows import RowMaker
from audiosetmix_lib.sampler import sample_recipe
from audiosetmix_lib.sources import EventPool, make_source
from audiosetmix_lib.transforms import MODIFIER_KEYS, recipe_modifiers
from audiosetmix_lib.transforms import words as modifier_words


@pytest.fixture(scope="module")
def recipes():
    source = make_source("synth")
    pool = EventPool(source.events())
    audible = Audibility(source, 16000).audible  # as a build draws them: transforms that are heard,
    where = partial(source.activity, sample_rate=16000)  # segments on sound
    return pool, [sample_recipe(pool, MixConfig(), 3, "train", i, 16000, source.spec(), audible=audible, activity=where)
                  for i in range(300)]


def words_of(text):
    return set(re.findall(r"[a-z][a-z\-]*", text.lower()))


def check_caption(recipe, caption):
    assert word_count(caption) <= 30, caption  # the design's limit: one sentence of at most 30 words
    assert caption[0].isupper() and caption.endswith(".") and caption.count(".") == 1, caption
    words = words_of(caption)
    for spec in recipe.events:
        assert phrase_for(spec.label).noun.split()[-1] in words, (spec.label, caption)
        for name, params in spec.transforms.items():
            allowed = modifier_words((name, params["direction"]))
            options = {w for w in allowed.adj + allowed.adv}
            # whole words only: "long" must not be found in "along"
            assert any(re.search(rf"(?<![a-z-]){re.escape(w)}(?![a-z-])", caption.lower()) for w in options), \
                (name, params["direction"], caption)


def test_captions_are_one_sentence_naming_every_event_and_modifier(recipes):
    _, rs = recipes
    for recipe in rs:
        check_caption(recipe, template_caption(describe(recipe), recipe.caption_seed))


def test_captions_vary_with_the_seed_and_read_like_sentences(recipes):
    _, rs = recipes
    two = [r for r in rs if len(r.events) == 2][:40]
    joiners = Counter()
    for r in two:
        text = template_caption(describe(r), r.caption_seed)
        joiners.update(j for j in ("followed by", "then", "after which", "while", "as", "along with", "in the background") if f" {j} " in text)
    assert len(joiners) >= 4  # several phrasings per relation
    r = two[0]
    assert len({template_caption(describe(r), s) for s in range(20)}) > 1


def test_unknown_classes_get_a_sensible_phrase():
    p = phrase_for("Vehicle horn, car horn, honking")
    assert p.noun == "car horn"
    odd = phrase_for('Weird "label",\nwith stuff')  # (sources cut labels at a line break before this)
    assert odd.noun == "weird label sound" and odd.verb == "is heard"
    assert phrase_for("Footsteps").verb == "are heard"


def test_negatives_contradict_their_recipes_and_have_the_declared_kind(recipes):
    pool, rs = recipes
    kinds = Counter()
    for i, recipe in enumerate(rs[:150]):
        for kind, negative in candidates(recipe, pool, np.random.default_rng(i)).items():
            kinds[kind] += 1
            assert negative.kind == kind
            assert contradicts(recipe, negative.recipe), (kind, negative.detail)
            a, b = recipe.events, negative.recipe.events
            if kind == "order":
                assert sorted(e.label for e in a) == sorted(e.label for e in b) and [e.label for e in a] != [e.label for e in b]
            elif kind == "missing":
                assert len(b) == len(a) - 1
            elif kind == "extra":
                assert len(b) == len(a) + 1 and b[-1].label not in recipe.labels
            elif kind == "event":
                assert len(set(e.label for e in b) - set(recipe.labels)) == 1
            elif kind == "modifier":
                assert recipe_modifiers(recipe) != recipe_modifiers(negative.recipe)
            elif kind == "relation":
                assert [e.relation for e in a] != [e.relation for e in b]
    assert set(kinds) == {"order", "modifier", "relation", "event", "missing", "extra"}


def test_negatives_are_offered_only_where_the_recipe_allows_them(recipes):
    pool, rs = recipes
    single = next(r for r in rs if len(r.events) == 1 and not r.events[0].transforms)
    kinds = set(candidates(single, pool, np.random.default_rng(0)))
    assert kinds == {"event", "extra"}
    overlap_only = [r for r in rs if len(r.events) >= 2 and all(e.relation == "overlap" for e in r.events[1:])]
    for r in overlap_only:
        assert "order" not in candidates(r, pool, np.random.default_rng(0))


def test_caption_and_negatives_share_a_style_and_are_distinct(recipes):
    pool, rs = recipes
    maker = RowMaker(make_source("synth"), pool, MixConfig(), 3, 16000, num_negatives=3)
    for i in range(120):
        recipe, chosen, caption_set = maker.plan("train", i)  # what a build writes for train-i
        assert recipe == rs[i]
        texts = caption_set.fallback
        assert len(set(texts)) == len(texts)
        check_caption(recipe, texts[0])
        for text, negative in zip(texts[1:], chosen, strict=True):
            check_caption(negative.recipe, text)
        said = [describe(r) for r in [recipe] + [n.recipe for n in chosen]]
        styles = [_styles(d, recipe.caption_seed, voices(said[0], d)) for d in said]
        levels = {next(level for level, s in enumerate(style) if s == text) for style, text in zip(styles, texts, strict=True)}
        assert len(levels) == 1  # one style for the whole set


def test_a_negative_keeps_the_wording_of_everything_it_did_not_change(recipes):
    """Hard negatives differ from the caption only where the recipe was perturbed."""
    pool, rs = recipes
    captioner = TemplateCaptioner()
    checked = Counter()
    for i, recipe in enumerate(rs[:200]):
        caption = captioner.caption(recipe)
        for kind, negative in candidates(recipe, pool, np.random.default_rng(i)).items():
            text = captioner.caption(negative.recipe)
            if word_count(caption) > 24 or word_count(text) > 24:
                continue  # near the limit the whole set may switch to the compact style
            backgrounds = lambda r: [e.background for e in describe(r).events]  # noqa: E731
            if kind == "modifier" and backgrounds(recipe) == backgrounds(negative.recipe):
                words = {w for key in MODIFIER_KEYS for w in modifier_words(key).adj + modifier_words(key).adv}
                strip = lambda t, words=words: re.sub("|".join(sorted(map(re.escape, words), key=len, reverse=True)), "_", t.lower())  # noqa: E731
                assert strip(caption) == strip(text) and caption != text, (caption, text)
                checked[kind] += 1
            if kind == "extra" and negative.recipe.events[-1].relation == "follow":
                assert text.startswith(caption[:-1]), (caption, text)
                checked[kind] += 1
    assert checked["modifier"] > 20 and checked["extra"] > 10


def test_a_caption_too_long_for_30_words_is_never_cut_an_event_is_dropped_instead():
    """Five events, every transform on: the drawn recipes cannot be said in 30 words; each row says all it has."""
    from audiosetmix_lib.captions.validate import Validator
    from audiosetmix_lib.recipe import Recipe

    source = make_source("synth")
    pool = EventPool(source.events())
    mix = MixConfig(min_events=6, max_events=6, transforms={n: {"probability": 1.0}
                                                             for n in ("volume", "pitch", "speed", "duration", "filter")})
    maker = RowMaker(source, pool, mix, 0, 16000, 2)
    validator = Validator(pool.all_classes())
    dropped = 0
    for i in range(12):
        drawn = sample_recipe(pool, mix, 0, "train", i, 16000, source.spec(), activity=partial(source.activity, sample_rate=16000))
        recipe, chosen, caption_set = maker.plan("train", i)
        assert [e.event for e in recipe.events] == [e.event for e in drawn.events[:len(recipe.events)]]  # a prefix
        dropped += len(drawn.events) - len(recipe.events)
        for text, r in zip(caption_set.fallback, caption_set.recipes, strict=True):
            assert word_count(text) <= 30
            verdict = validator.check(text, describe(r))  # every event and modifier of its recipe is said
            assert verdict.ok, (text, verdict.reasons)
        assert Recipe.from_json(recipe.to_json()).events == recipe.events  # stored as it is said
    assert dropped > 0  # the case happened: the drawn recipes did not fit
