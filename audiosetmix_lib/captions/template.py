"""The offline template captioner: a seeded grammar over the recipe's description.

Captions read like AudioCaps ("A siren wails, followed by a bell ringing", each modifier said
with its transform module's words): every event is named, every modifier expressed, events in
onset order, one sentence of at most 30 words, at most one "with" per clause. Phrasing choices
come from the recipe's caption seed only.
"""

from __future__ import annotations

import zlib
from collections import Counter
from functools import lru_cache
from types import MappingProxyType

import numpy as np

from ..describe import DescribedEvent, Description
from ..transforms import is_adverbial, words
from .lexicon import has_phrase, phrase_for, with_article

MAX_WORDS = 30
TEMPLATE_VERSION = "template-v1"

FOLLOW_JOINERS = (", followed by {ing}", ", then {clause}", ", and then {clause}", ", after which {clause}")
OVERLAP_JOINERS = (" while {clause}", " as {clause}", ", along with {ing}")
BACKGROUND_JOINERS = (" with {ing} in the background", " while {clause} in the background")
# A joiner that opens a new clause resets the "with" count; one that says "with" uses it up.
NEW_CLAUSE = frozenset({", then {clause}", ", and then {clause}", ", after which {clause}", " while {clause}", " as {clause}",
                        " while {clause} in the background"})
WITHOUT_WITH = {", along with {ing}": " while {clause}", " with {ing} in the background": " while {clause} in the background"}
COMPACT_JOINERS = {"follow": ", then {np}", "overlap": " with {np}", "background": " with {np} in the background"}
COMPACT_AND = {"overlap": " and {np}", "background": " and {np} in the background"}  # after this clause's "with"


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


def _modifier_forms(event: DescribedEvent, choices: _Choices) -> tuple[list[str], list[str], list[str]]:
    """Words for the event's modifiers, from one pair of draws per modifier.

    Returns (adjectives, adverbs) for a clause with a gerund (adverbial transforms such as
    speed and duration as adverbs when they have them, the others either way, a coin per
    modifier) and every modifier as an adjective (passive and compact forms). All come from the
    same draws, so an event says "deep" in every form and position, and a negative that moves
    it keeps its words.
    """
    adjectives, adverbs, all_adjectives = [], [], []
    for modifier in event.modifiers:
        forms = words(modifier)
        as_adverb, which = choices.coin(), choices.rng.random()  # two draws per modifier, always
        adverbial = bool(forms.adv) and (is_adverbial(modifier[0]) or as_adverb)
        adjective = forms.adj[min(len(forms.adj) - 1, int(which * len(forms.adj)))]
        all_adjectives.append(adjective)
        if adverbial:
            adverbs.append(forms.adv[min(len(forms.adv) - 1, int(which * len(forms.adv)))])
        else:
            adjectives.append(adjective)
    return adjectives, adverbs, all_adjectives


def _noun_phrase(event: DescribedEvent, adjectives: list[str]) -> str:
    phrase = phrase_for(event.label)
    adj = ", ".join(adjectives)
    words = ([adj] if adj else []) + [phrase.noun]
    return " ".join(with_article(phrase.article, words))


def _sound_phrase(event: DescribedEvent, adjectives: list[str], with_gerund: bool = True, article: bool = True,
                  short: bool = False) -> str:
    """Compact: the sound itself as a noun phrase, e.g. "brief, loud dog barking", "rapid knocking".

    A known class reads as a headline ("dog barking"); a label the tables do not know keeps its
    article ("a person speaking"), since its words alone may not read as a noun phrase. Without
    `article` or `short` (the noun's last word: "horn" for "car horn"): the last resorts when many
    events and modifiers would not fit in MAX_WORDS otherwise.
    """
    phrase = phrase_for(event.label)
    noun = phrase.noun.split()[-1] if short else phrase.noun
    words = ([", ".join(adjectives)] if adjectives else []) + [noun]
    if with_gerund and phrase.gerund:
        words.append(phrase.gerund)
    return " ".join(with_article(phrase.article, words) if article and not has_phrase(event.label) else words)


def _adverbs(adverbs: list[str]) -> str:
    """'quickly and softly'; a comparison (an adverb starting "as if ") goes last, after a comma."""
    simple = [a for a in adverbs if not a.startswith("as if ")]
    similes = [a for a in adverbs if a.startswith("as if ")]
    text = " and ".join(simple) if len(simple) <= 2 else ", ".join(simple[:-1]) + " and " + simple[-1]
    for simile in similes:
        text = f"{text}, {simile}" if text else simile
    return " " + text if text else ""


def realise_event(event: DescribedEvent, choices: _Choices, voice: str | None = None) -> dict[str, str]:
    """The event as a clause, a gerund phrase, a compact sound phrase and a bare noun phrase.

    `voice`: the label whose phrase decides how the modifiers are worded (adjectives only, or
    adverbs too); its own by default. A negative that replaces an event keeps the replaced
    event's voice and draws, so "quiet ... continuously" stays "quiet ... continuously".
    """
    phrase = phrase_for(event.label)
    passive = phrase_for(voice or event.label).gerund is None  # "knocking is heard rapidly" reads badly: "rapid knocking is heard"
    adjectives, adverbs, all_adjectives = _modifier_forms(event, choices)
    if passive:
        adjectives, adverbs = all_adjectives, []
    if passive and phrase.gerund:  # adjective words on an active class: "quiet, long dog barking is heard"
        sound = _sound_phrase(event, all_adjectives)
        clause, ing = f"{sound} is heard", sound
    else:
        np_ = _noun_phrase(event, adjectives)
        clause = f"{np_} {phrase.verb}{_adverbs(adverbs)}"
        ing = f"{np_} {phrase.gerund or ''}".rstrip() + _adverbs(adverbs)
    return {"clause": clause, "ing": ing, "np": _sound_phrase(event, all_adjectives),
            "bare": _sound_phrase(event, all_adjectives, with_gerund=False),
            "headline": _sound_phrase(event, all_adjectives, with_gerund=False, article=False),
            "short": _sound_phrase(event, all_adjectives, with_gerund=False, article=False, short=True)}


def voices(caption: Description, description: Description) -> tuple[str, ...]:
    """Per event of `description` (a negative of `caption`), the label whose wording it takes.

    Its own label, except where exactly one class of the caption was replaced by exactly one new
    class (an `event` negative): the newcomer takes the replaced event's wording, so only the
    class name changes.
    """
    gone = Counter(caption.labels) - Counter(description.labels)
    new = Counter(description.labels) - Counter(caption.labels)
    if sum(gone.values()) != 1 or sum(new.values()) != 1:
        return tuple(description.labels)
    (old,), (added,) = gone, new
    return tuple(old if label == added else label for label in description.labels)


@lru_cache(maxsize=8192)
def _event_forms(label: str, modifiers: tuple, seed: int, voice: str) -> MappingProxyType:
    """`realise_event`'s forms of an event, from its voice's stream (caption seed, class name). They read only
    the label, the modifiers and the voice, so a recipe's negatives, which keep most of its events, share them."""
    event = DescribedEvent(label, modifiers, None, False, 0.0, 0.0)
    return MappingProxyType(realise_event(event, _Choices(seed, "event:" + voice), voice))


def _finish(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + "."


def word_count(text: str) -> int:
    return len(text.replace(",", " ").split())


@lru_cache(maxsize=4096)
def _styles(description: Description, seed: int, voiced: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The caption in each style, most fluent first: full clauses, compact sound phrases, bare nouns, head nouns.

    Cached (a pure function of hashable arguments): choosing a row's negatives asks for the same
    recipe's styles many times (its caption, whether the set fits, the set's captions). `voiced`: `voices`
    of a negative (default: each event its own)."""
    voiced = voiced or tuple(description.labels)
    forms = [_event_forms(e.label, e.modifiers, seed, v) for e, v in zip(description.events, voiced, strict=True)]
    choices = _Choices(seed, "joiners")
    parts = [forms[0]["clause"]]
    with_used = False
    for event, form in zip(description.events[1:], forms[1:], strict=True):
        if event.relation == "overlap":
            joiner = choices.pick(BACKGROUND_JOINERS if event.background else OVERLAP_JOINERS)
        else:
            joiner = choices.pick(FOLLOW_JOINERS)
        if with_used and joiner in WITHOUT_WITH:
            joiner = WITHOUT_WITH[joiner]
        if joiner in NEW_CLAUSE:
            with_used = False
        with_used = with_used or " with " in joiner
        parts.append(joiner.format(**form))

    def joined(key: str) -> str:
        out, with_used = [forms[0][key]], False
        for event, form in zip(description.events[1:], forms[1:], strict=True):
            kind = "background" if event.background else (event.relation or "follow")
            if kind == "follow":
                with_used = False
            joiner = COMPACT_AND[kind] if with_used and kind in COMPACT_AND else COMPACT_JOINERS[kind]
            with_used = with_used or " with " in joiner
            out.append(joiner.format(np=form[key]))
        return _finish("".join(out))

    return (_finish("".join(parts)), joined("np"), joined("bare"), joined("headline"), joined("short"))


def _cut_to_limit(text: str) -> str:
    """Safety net no row reaches (`rows.RowMaker.recipe` drops events until the caption fits, `plan` skips a
    negative that would not): the first MAX_WORDS words, one sentence."""
    words = text.rstrip(".").split()
    kept, count = [], 0
    for word in words:
        count += word_count(word)
        if count > MAX_WORDS:
            break
        kept.append(word)
    return _finish(" ".join(kept).rstrip(","))


def _set_styles(descriptions: list[Description], seed: int) -> list[tuple[str, ...]]:
    """Each text's styles; descriptions[0] is the caption, the rest its negatives (worded in its `voices`)."""
    return [_styles(d, seed, voices(descriptions[0], d) if n else None) for n, d in enumerate(descriptions)]


def fit_in_one_style(descriptions: list[Description], seed: int) -> bool:
    """True when some style says all of them in MAX_WORDS (no text has to be cut)."""
    styles = _set_styles(descriptions, seed)
    return any(all(word_count(s[level]) <= MAX_WORDS for s in styles) for level in range(len(styles[0])))


def template_captions(descriptions: list[Description], seed: int) -> list[str]:
    """Captions for a caption and its negatives in one shared style.

    If any of them needs the compact style to stay within MAX_WORDS, all use it, so the style
    of a text never tells a model which one is the negative. descriptions[0] is the caption:
    a negative that replaces a class words it as the caption worded the replaced one (`voices`).
    """
    styles = _set_styles(descriptions, seed)
    for level in range(len(styles[0])):
        if all(word_count(s[level]) <= MAX_WORDS for s in styles):
            return [s[level] for s in styles]
    return [_cut_to_limit(s[-1]) for s in styles]


def template_caption(description: Description, seed: int) -> str:
    """One AudioCaps-like sentence of at most MAX_WORDS words."""
    return template_captions([description], seed)[0]
