"""The caption validator: the template always passes, and each kind of unfaithful caption is caught."""

from __future__ import annotations

from itertools import islice

import numpy as np
import pytest

from audiosetmix_lib.captions.lexicon import LEXICON
from audiosetmix_lib.captions.prompt import EXAMPLES
from audiosetmix_lib.captions.template import template_caption, template_captions
from audiosetmix_lib.captions.validate import REASONS, Validator, form_reasons, reworded, validate
from audiosetmix_lib.config import MixConfig
from audiosetmix_lib.describe import DescribedEvent, Description, describe
from audiosetmix_lib.negatives import iter_negatives
from audiosetmix_lib.sampler import sample_recipe
from audiosetmix_lib.sources import EventPool, make_source
from audiosetmix_lib.transforms import MODIFIER_KEYS, TRANSFORM_NAMES


def desc(*events) -> Description:
    """events: (label, modifiers, relation, background)."""
    return Description(tuple(DescribedEvent(label, tuple(sorted(mods)), rel, bg, 0.0, 1.0) for label, mods, rel, bg in events))


LOUD = (("volume", "up"),)
DOG_THEN_SIREN = desc(("Dog", LOUD, None, False), ("Siren", (), "follow", False))


@pytest.fixture(scope="module")
def synth():
    source = make_source("synth")
    return source, EventPool(source.events())


def test_template_captions_of_sampled_recipes_and_negatives_all_pass(synth):
    source, pool = synth
    validator = Validator(pool.all_classes())
    mix = MixConfig(transforms={name: {"probability": 0.4} for name in TRANSFORM_NAMES}, overlap_probability=0.4)  # 2 modifiers per event
    checked = 0
    for index in range(150):
        recipe = sample_recipe(pool, mix, 11, "train", index, 16000, source.spec())
        negatives = [n.recipe for n in islice(iter_negatives(recipe, pool, np.random.default_rng(index)), 3)]
        recipes = [recipe] + negatives
        descriptions = [describe(r) for r in recipes]
        # the single captions and the shared-style set (compact and bare styles included)
        texts = [template_caption(d, recipe.caption_seed) for d in descriptions]
        texts_set = template_captions(descriptions, recipe.caption_seed)
        for d, a, b in zip(descriptions, texts, texts_set, strict=True):
            assert validator.check(a, d).ok, (a, validator.check(a, d), d.to_dict())
            assert validator.check(b, d).ok, (b, validator.check(b, d), d.to_dict())
            checked += 2
    assert checked >= 600


def test_template_bare_style_passes_for_many_modifiers():
    many = tuple(sorted(MODIFIER_KEYS))[::2]  # one direction of each transform
    d = desc(*[(label, many, None if i == 0 else "follow", False) for i, label in enumerate(["Dog", "Siren", "Bell", "Rain"])])  # 4 x (5 + 1) + 3 words
    for seed in range(5):
        text = template_caption(d, seed)
        assert Validator().check(text, d).ok, text


def test_few_shot_examples_pass():
    for description, answer in EXAMPLES:
        assert validate(answer, description).ok, answer


@pytest.mark.parametrize("caption, reason", [
    ("A dog barks loudly and a siren wails.", "missing_relation"),
    ("A dog barks loudly, then a siren wails.", None),
    ("Loud barking, followed by sirens.", None),  # synonyms and plurals name the events
    ("A dog's loud bark, then a siren.", None),  # possessive
    ("A siren wails, then a dog barks loudly.", "order"),
    ("A dog barks loudly, then a bell rings.", "missing_event"),
    ("A dog barks quietly, then a siren wails.", "opposite_modifier"),
    ("A dog barks loudly, then a high-pitched siren wails.", "invented_modifier"),
    ("A dog barks, then a siren wails.", "missing_modifier"),
    ("A dog barks loudly, then a siren wails while a cat meows.", "invented_class"),
    ("A dog barks loudly, then a siren wails as rain falls.", "invented_class"),
    ("Here is a caption: a dog barks loudly, then a siren wails.", "preamble"),
    ("Sure! A dog barks loudly, then a siren wails.", "preamble"),
    ("Caption: A dog barks loudly, then a siren wails.", "preamble"),
    ("\"A dog barks loudly, then a siren wails.\"", "quotes"),
    ("'A dog barks loudly, then a siren wails.'", "quotes"),
    ("**A dog barks loudly, then a siren wails.**", "markdown"),
    ("- A dog barks loudly, then a siren wails.", "markdown"),
    ("A dog barks loudly. Then a siren wails.", "multiple_sentences"),
    ("A dog barks loudly, then a siren wails.\nBoth sounds are named", "multiple_sentences"),
    ("A dog barks loudly, then after a long long long long long long long long long long long long long "
     "long long long long long while a siren wails on and on.", "too_long"),
    ("", "empty"),
])
def test_reasons(caption, reason):
    verdict = validate(caption, DOG_THEN_SIREN)
    assert verdict.reason == reason, verdict


def test_modifier_counts_and_opposites_with_two_events():
    d = desc(("Dog", LOUD, None, False), ("Siren", (("volume", "down"),), "overlap", False))
    assert validate("A loud dog barks while a quiet siren wails.", d).ok
    assert validate("A loud dog barks while a loud siren wails.", d).reason == "missing_modifier"
    both_loud = desc(("Dog", LOUD, None, False), ("Siren", LOUD, "overlap", False))
    assert validate("A loud dog barks while a siren wails.", both_loud).reason == "missing_modifier"
    assert validate("A dog barks loudly while a siren wails loudly.", both_loud).ok


def test_background_and_extra_words():
    d = desc(("Engine", (("pitch", "down"),), None, False), ("Rain", (), "overlap", True))
    assert validate("A deep engine rumbles with rain falling in the background.", d).ok
    assert validate("A low pitched engine rumbles while rain falls.", d).reason == "missing_relation"
    assert validate("A lower-pitched engine rumbles with faint rain in the background.", d).reason == "invented_modifier"
    long_ = desc(("Bell", (("duration", "up"),), None, False))
    assert validate("A bell rings for a long time.", long_).ok
    assert validate("A sustained bell rings.", long_).ok
    assert validate("A bell rings briefly.", long_).reason == "opposite_modifier"


def test_unknown_labels_are_named_by_their_own_words_and_not_mistaken_for_modifiers():
    d = desc(("Motor vehicle (road)", (), None, False), ("Fast car alarm", (("volume", "down"),), "follow", False))
    assert validate("A motor vehicle passes, then a fast car alarm sounds quietly.", d).ok
    assert validate("A motor vehicle (road) is heard, then a quiet fast car alarm is heard.", d).ok
    assert validate("A vehicle passes, then a fast car alarm sounds quietly.", d).reason == "missing_event"


def test_known_classes_of_the_source_count_as_inventions():
    d = desc(("Dog", (), None, False))
    assert validate("A dog barks near a fountain.", d).ok
    assert validate("A dog barks near a fountain.", d, known_classes=["Fountain"]).reason == "invented_class"
    # a class whose name is part of a present event's name is not an invention
    horn = desc(("Vehicle horn, car horn, honking", (), None, False))
    assert validate("A car horn honks.", horn).ok


def test_a_word_listed_for_two_modifiers_is_refused(monkeypatch):
    """Two transform modules claiming one word ("loud" for quieter too) would make the verdict ambiguous:
    building the vocabulary refuses it, naming the word and both owners."""
    from dataclasses import replace

    from audiosetmix_lib.captions import validate as module

    real = module.words

    def clashing(key):
        found = real(key)
        return replace(found, extra=(*found.extra, "loud")) if key == ("volume", "down") else found

    assert module._modifier_vocabulary()  # the real lists: no clash
    monkeypatch.setattr(module, "words", clashing)
    with pytest.raises(ValueError, match="'loud' is listed for \\('volume', 'up'\\) and \\('volume', 'down'\\)"):
        module._modifier_vocabulary()


# What an English reader takes each word to say, written here and not read from the code: the
# validator must accept it for that modifier and reject it as the opposite of the other direction.
READER = {
    ("volume", "up"): ("A loud dog barks.", "A dog barks loudly."),
    ("volume", "down"): ("A quiet dog barks.", "A dog barks faintly."),
    ("pitch", "up"): ("A high-pitched dog barks.",),
    ("pitch", "down"): ("A low-pitched dog barks.", "A deep dog barks."),
    ("speed", "up"): ("A fast dog barks.", "A dog barks quickly."),
    ("speed", "down"): ("A slow dog barks.", "A dog barks slowly."),
    ("duration", "up"): ("A prolonged dog barks.", "A dog barks continuously."),
    ("duration", "down"): ("A brief dog barks.", "A dog barks briefly."),
    ("filter", "down"): ("A muffled dog barks.", "A dog barks as if through a wall."),
    ("filter", "up"): ("A thin dog barks.", "A tinny dog barks."),
}


@pytest.mark.parametrize("key", sorted(READER))
def test_each_modifier_word_is_accepted_for_its_direction_and_rejected_for_the_other(key):
    name, direction = key
    opposite = (name, "down" if direction == "up" else "up")
    for text in READER[key]:
        assert validate(text, desc(("Dog", (key,), None, False))).ok, text
        assert validate(text, desc(("Dog", (opposite,), None, False))).reason == "opposite_modifier", text
        assert not validate(text, desc(("Dog", (), None, False))).ok, text  # a modifier the clip does not have


def test_the_validator_knows_every_lexicon_class_and_its_reasons():
    assert set(REASONS) >= {"missing_event", "opposite_modifier", "invented_class", "preamble"}
    assert all(label in Validator().known_classes for label in LEXICON)


def test_form_reasons_accept_plain_sentences():
    assert form_reasons("A dog barks loudly, then a siren wails.") == []
    assert form_reasons("A baby's cry is heard as 2.5 seconds of rain fall") == []


def test_an_event_negative_that_rewords_the_replaced_events_modifiers_is_caught():
    """A negative replacing the dog by a cat keeps the dog's modifiers: it must say them in the caption's words."""
    caption = desc(("Dog", (("volume", "down"), ("filter", "down")), None, False), ("Siren", LOUD, "follow", False))
    negative = desc(("Cat", (("volume", "down"), ("filter", "down")), None, False), ("Siren", LOUD, "follow", False))
    text = "A quiet dog barks, as if through a wall, then a loud siren wails."
    assert not reworded(text, caption, "A quiet cat meows, as if through a wall, then a loud siren wails.", negative)
    assert reworded(text, caption, "A quiet, muffled cat meows, then a loud siren wails.", negative)
    assert reworded(text, caption, "A soft cat meows, as if through a wall, then a loud siren wails.", negative)
    # an extra event brings new words of its own; the caption's stay
    extra = desc(("Dog", (("volume", "down"), ("filter", "down")), None, False), ("Siren", LOUD, "follow", False),
                 ("Cat", LOUD, "follow", False))
    assert not reworded(text, caption, "A quiet dog barks, as if through a wall, then a loud siren wails, then a loud cat meows.",
                        extra)


def test_every_reason_that_applies_is_listed_and_the_verdict_keeps_the_first():
    """A caption that misses an event, flips a modifier and says no relation reports all three (issue 24 item 2)."""
    d = desc(("Dog", LOUD, None, False), ("Siren", (), "follow", False), ("Rain", (), "overlap", True))
    verdict = validate("A quiet dog barks and a siren wails.", d)
    assert verdict.reasons == ("missing_event", "opposite_modifier", "missing_modifier", "missing_relation")
    assert verdict.reason == "missing_event" and not verdict.ok
    reading = Validator().read("A quiet dog barks and a siren wails.", d)
    assert reading.events == (True, True, False) and reading.relations == {"follow": False, "overlap": False,
                                                                            "background": False}
    assert validate("", d).reasons[0] == "empty"
