"""A hard negative says what it did not change in the caption's own words (issue 23 item 4, issue 28 item 8).

The oracle reads the words straight from the transform modules' word lists with a plain regex,
not through the template or the validator: every modifier word of the caption must be in each
negative, except the words of what the negative's kind changed (the flipped modifier, the
dropped event's modifiers).
"""

import re
from collections import Counter

import numpy as np
import pytest
from helpers import ArraySource, tone

from audiosetmix_lib.config import MixConfig
from audiosetmix_lib.rows import RowMaker
from audiosetmix_lib.sources import EventPool, make_source
from audiosetmix_lib.transforms import MODIFIER_KEYS
from audiosetmix_lib.transforms import words as modifier_words

WORD_KEYS = {w: key for key in MODIFIER_KEYS for w in modifier_words(key).all}
LONGEST_FIRST = sorted(WORD_KEYS, key=len, reverse=True)


def said_words(text: str) -> Counter:
    """Modifier words in a text, longest first, each span counted once ("for a long time" is not also "long")."""
    text, found = text.lower(), Counter()
    for word in LONGEST_FIRST:
        pattern = rf"(?<![a-z-]){re.escape(word)}(?![a-z-])"
        found[word] += len(re.findall(pattern, text))
        text = re.sub(pattern, " _ ", text)
    return +found


def allowed_changes(recipe, negative) -> Counter:
    """Modifier keys whose words the negative may lose: the flipped one, or the dropped event's."""
    keys = lambda spec: [(name, p["direction"]) for name, p in spec.transforms.items()]  # noqa: E731
    if negative.kind == "modifier":
        before = Counter(k for spec in recipe.events for k in keys(spec))
        after = Counter(k for spec in negative.recipe.events for k in keys(spec))
        return before - after
    if negative.kind == "missing":
        kept = Counter(spec.label for spec in negative.recipe.events)
        dropped = [spec for spec in recipe.events if not kept[spec.label] or kept.subtract([spec.label])]
        return Counter(k for spec in dropped for k in keys(spec))
    return Counter()


def lost_words_explained(caption: str, negative_text: str, allowed: Counter) -> bool:
    lost = said_words(caption) - said_words(negative_text)
    budget = Counter(allowed)
    for word, n in lost.items():
        for _ in range(n):
            key = WORD_KEYS[word]
            if budget[key] <= 0:
                return False
            budget[key] -= 1
    return True


def mixed_source():
    """Known classes with and without a gerund and labels no table knows ("is heard" phrases)."""
    labels = ["Dog", "Knock", "Siren", "Sneeze", "Applause", "Rain", "drawer slam", "kettle whistle"]
    return ArraySource({label: tone(200.0 + 90 * i, 1.5) for i, label in enumerate(labels)})


@pytest.mark.parametrize("make", [lambda: make_source("synth"), mixed_source], ids=["synth", "mixed-labels"])
def test_every_negative_keeps_the_captions_words_for_what_it_did_not_change(make):
    source = make()
    pool = EventPool(source.events())
    maker = RowMaker(source, pool, MixConfig(), 11, 16000, num_negatives=3)
    checked, failures = Counter(), []
    for i in range(300):
        recipe, chosen, caption_set = maker.plan("train", i)
        caption, *negatives = caption_set.fallback
        for negative, text in zip(chosen, negatives, strict=True):
            checked[negative.kind] += 1
            if not lost_words_explained(caption, text, allowed_changes(recipe, negative)):
                failures.append((negative.kind, caption, text))
    assert not failures, f"{len(failures)} negatives re-word what they kept, e.g. {failures[:3]}"
    assert checked["event"] >= 50 and checked["modifier"] >= 50, checked


def test_the_oracle_catches_a_reworded_modifier():
    """The check itself: "as if through a wall" -> "muffled" is caught, a flipped modifier's words are allowed."""
    assert not lost_words_explained("A dog barks, as if through a wall.", "A muffled cat meows.", Counter())
    assert not lost_words_explained("A quiet dog barks continuously.", "A soft cat meows for a long time.", Counter())
    assert lost_words_explained("A quiet dog barks continuously.", "A loud dog barks continuously.",
                                Counter({("volume", "down"): 1}))
    assert said_words("rain falls for a long time, long") == Counter({"for a long time": 1, "long": 1})


def test_negative_words_are_deterministic():
    source = make_source("synth")
    pool = EventPool(source.events())
    plans = [[RowMaker(source, pool, MixConfig(), 5, 16000).plan("train", i)[2].fallback for i in range(40)]
             for _ in range(2)]
    assert plans[0] == plans[1]
    assert np.mean([len(set(texts)) == len(texts) for texts in plans[0]]) == 1.0
