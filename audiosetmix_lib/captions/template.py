"""The offline template captioner: a seeded grammar over the recipe's description.

Captions read like AudioCaps ("A loud siren wails, followed by a bell ringing briefly."):
every event is named, every modifier expressed, events in onset order, one sentence of at
most 30 words. Phrasing choices come from the recipe's caption seed only.
"""

from __future__ import annotations

import zlib

import numpy as np

from ..describe import DescribedEvent, Description
from .lexicon import MODIFIER_WORDS, phrase_for, with_article

MAX_WORDS = 30
TEMPLATE_VERSION = "template-v1"

FOLLOW_JOINERS = (", followed by {ing}", ", then {clause}", ", and then {clause}", ", after which {clause}")
OVERLAP_JOINERS = (" while {clause}", " as {clause}", ", along with {ing}")
BACKGROUND_JOINERS = (" with {ing} in the background", " while {clause} in the background")
COMPACT_JOINERS = {"follow": ", then {np}", "overlap": " with {np}", "background": " with {np} in the background"}


class _Choices:
    """Seeded choices; every call consumes exactly one draw, whatever the number of options.

    Each event draws from its own stream keyed by (caption seed, class name), and the joiners
    from another, so a negative that swaps, drops, adds or flips something keeps the wording
    of everything it did not change.
    """

    def __init__(self, seed: int, key: str = "") -> None:
        self.rng = np.random.default_rng([int(seed), zlib.crc32(key.encode("utf-8"))])

    def pick(self, options):
        return options[min(len(options) - 1, int(self.rng.random() * len(options)))]

    def coin(self, p: float = 0.5) -> bool:
        return bool(self.rng.random() < p)


def _modifier_forms(event: DescribedEvent, choices: _Choices, adjectives_only: bool) -> tuple[list[str], list[str]]:
    adjectives, adverbs = [], []
    for modifier in event.modifiers:
        words = MODIFIER_WORDS[modifier]
        as_adverb, which = choices.coin(), choices.rng.random()  # two draws per modifier, always
        options = words["adv"] if words["adv"] and not adjectives_only and as_adverb else words["adj"]
        (adverbs if options is words["adv"] else adjectives).append(options[min(len(options) - 1, int(which * len(options)))])
    return adjectives, adverbs


def _noun_phrase(event: DescribedEvent, adjectives: list[str]) -> str:
    phrase = phrase_for(event.label)
    adj = ", ".join(adjectives)
    words = ([adj] if adj else []) + [phrase.noun]
    return " ".join(with_article(phrase.article, words))


def _adverbs(adverbs: list[str]) -> str:
    if not adverbs:
        return ""
    return " " + (" and ".join(adverbs) if len(adverbs) <= 2 else ", ".join(adverbs[:-1]) + " and " + adverbs[-1])


def realise_event(event: DescribedEvent, choices: _Choices) -> dict[str, str]:
    """The event as a clause, a gerund phrase and a compact noun phrase."""
    phrase = phrase_for(event.label)
    passive = phrase.gerund is None  # "knocking is heard rapidly" reads badly: use adjectives
    adjectives, adverbs = _modifier_forms(event, choices, adjectives_only=passive)
    np_ = _noun_phrase(event, adjectives)
    clause = f"{np_} {phrase.verb}{_adverbs(adverbs)}"
    if phrase.gerund:
        ing = f"{np_} {phrase.gerund}{_adverbs(adverbs)}"
    else:  # no gerund: fold the adverbs back into adjectives
        all_adj, _ = _modifier_forms(event, _Choices(0), adjectives_only=True)
        ing = _noun_phrase(event, all_adj)
    compact_adj, _ = _modifier_forms(event, _Choices(0), adjectives_only=True)
    return {"clause": clause, "ing": ing, "np": _noun_phrase(event, compact_adj)}


def _finish(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + "."


def word_count(text: str) -> int:
    return len(text.replace(",", " ").split())


def _styles(description: Description, seed: int) -> list[str]:
    """The caption in each style, most fluent first: full clauses, compact noun phrases, no articles."""
    forms = [realise_event(e, _Choices(seed, "event:" + e.label)) for e in description.events]
    choices = _Choices(seed, "joiners")
    parts = [forms[0]["clause"]]
    for event, form in zip(description.events[1:], forms[1:]):
        if event.relation == "overlap":
            joiner = choices.pick(BACKGROUND_JOINERS if event.background else OVERLAP_JOINERS)
        else:
            joiner = choices.pick(FOLLOW_JOINERS)
        parts.append(joiner.format(**form))
    compact = [forms[0]["np"]]
    for event, form in zip(description.events[1:], forms[1:]):
        kind = "background" if event.background else (event.relation or "follow")
        compact.append(COMPACT_JOINERS[kind].format(np=form["np"]))
    bare = " ".join(w for w in "".join(compact).split(" ") if w not in ("a", "an"))
    return [_finish("".join(parts)), _finish("".join(compact)), _finish(bare)]


def template_captions(descriptions: list[Description], seed: int) -> list[str]:
    """Captions for a caption and its negatives in one shared style.

    If any of them needs the compact style to stay within MAX_WORDS, all use it, so the style
    of a text never tells a model which one is the negative.
    """
    styles = [_styles(d, seed) for d in descriptions]
    for level in range(3):
        if all(word_count(s[level]) <= MAX_WORDS for s in styles):
            return [s[level] for s in styles]
    return [s[2] for s in styles]


def template_caption(description: Description, seed: int) -> str:
    """One AudioCaps-like sentence of at most MAX_WORDS words."""
    return template_captions([description], seed)[0]
