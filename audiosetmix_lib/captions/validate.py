"""Check a caption against the description it claims to describe.

An LLM caption is only kept if it is faithful to the recipe: every event named (lexicon noun,
synonyms or the label's own words), every modifier expressed by an allowed word, no word of a
modifier the recipe does not have, no sound class the recipe does not contain, the events in
onset order, the relations stated, and the form of one plain sentence of at most 30 words.
The template captioner's output always passes (tests check it), so the validator can judge
any captioner by the same rules.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from ..describe import Description
from ..events import label_tail
from ..relations import BACKGROUND_WORD, FOLLOW_WORDS, OVERLAP_WORDS
from ..transforms import MODIFIER_KEYS, other_direction, registry_key, words
from .lexicon import LEXICON, phrase_for
from .template import MAX_WORDS, voices, word_count

# Rejection reasons, most specific first: a caption's primary reason is the first that applies.
REASONS = (
    "empty",
    "preamble",
    "markdown",
    "quotes",
    "multiple_sentences",
    "too_long",
    "injected_text",
    "missing_event",
    "invented_class",
    "order",
    "opposite_modifier",
    "invented_modifier",
    "missing_modifier",
    "missing_relation",
)

GENERIC_WORDS = frozenset({"sound", "sounds", "noise", "noises", "audio", "clip", "recording", "something", "background"})

_PREAMBLE = re.compile(
    r"^\W*(here\b|here's|sure\b|certainly\b|of course\b|okay\b|ok\b|alright\b|absolutely\b|caption\b|the caption\b|"
    r"a caption\b|as requested\b|i\b|i'm\b|i'd\b|i've\b|i'll\b|note\b|output\b|answer\b|response\b|description\b)",
    re.IGNORECASE,
)
_MARKDOWN_CHARS = set("*#`[]|<>{}\\")
_QUOTE_CHARS = set('"“”„«»')
_EDGE_QUOTES = set("'‘’`")
_LIST_ITEM = re.compile(r"^([-+]\s|\d+[.)]\s)")
_SENTENCE_BREAK = re.compile(r"[.!?]+[\"')\]]*\s+\S")
_TOKEN = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")


def opposite(key: tuple[str, str]) -> tuple[str, str]:
    return (key[0], other_direction(key[1]))


def tokens(text: str) -> list[str]:
    """Lower-case word tokens; hyphenated words stay whole; a possessive 's is dropped."""
    found = _TOKEN.findall(text.lower().replace("’", "'").replace("‘", "'"))
    return [t[:-2] if t.endswith("'s") else t for t in found]


def term_variants(text: str) -> set[tuple[str, ...]]:
    """Token tuples that spell `text`, with hyphenated words also split ("high pitched")."""
    toks = tokens(text)
    if not toks:
        return set()
    split = tuple(part for t in toks for part in t.split("-") if part)
    return {tuple(toks), split}


def _plural_match(word: str, term_word: str) -> bool:
    if word == term_word:
        return True
    if term_word.endswith("y") and word == term_word[:-1] + "ies":
        return True
    return word in (term_word + "s", term_word + "es")


def _match_at(toks: list[str], used: list[bool], i: int, term: tuple[str, ...], plural: bool) -> bool:
    n = len(term)
    if i + n > len(toks) or any(used[i:i + n]):
        return False
    for j, word in enumerate(term):
        last = j == n - 1
        if not (_plural_match(toks[i + j], word) if plural and last else toks[i + j] == word):
            return False
    return True


def _positions(toks: list[str]) -> dict[str, list[int]]:
    """Where each token occurs, in order: exact-match searches look only where a term can start."""
    where: dict[str, list[int]] = {}
    for i, tok in enumerate(toks):
        where.setdefault(tok, []).append(i)
    return where


def _find(toks: list[str], used: list[bool], terms: list[tuple[str, ...]], start: int) -> tuple[int, int] | None:
    """The earliest unused occurrence at or after `start` of any term (longest first at a position)."""
    for i in range(start, len(toks)):
        tok = toks[i]
        for term in terms:
            # cheap test of the first word first (only a one-word term's word may be a plural)
            if tok != term[0] and (len(term) > 1 or not _plural_match(tok, term[0])):
                continue
            if _match_at(toks, used, i, term, plural=True):
                return i, len(term)
    return None


def _label_parts(label: str) -> list[str]:
    """Comma parts of a display name, with and without parenthesised words ("Motor vehicle (road)")."""
    parts = []
    for part in label.split(","):
        parts.append(part)
        bare = re.sub(r"\([^)]*\)", " ", part)
        if bare != part:
            parts.append(bare)
    return parts


@lru_cache(maxsize=4096)
def name_terms(label: str) -> tuple[tuple[str, ...], ...]:
    """Every token tuple that names `label`: lexicon noun and synonyms, and the label's own words; longest first."""
    phrase = phrase_for(label)
    terms: set[tuple[str, ...]] = set()
    for text in (phrase.noun, *phrase.synonyms, *_label_parts(label)):
        terms |= term_variants(text)
    return tuple(sorted(terms, key=lambda t: (-len(t), t)))


def _word_terms(words) -> list[tuple[str, ...]]:
    terms: set[tuple[str, ...]] = set()
    for word in words:
        terms |= term_variants(word)
    return sorted(terms, key=lambda t: (-len(t), t))


def _modifier_vocabulary() -> list[tuple[tuple[str, ...], tuple[str, str]]]:
    """Every modifier word of the registered transforms as terms, longest first, with its (transform, direction)."""
    vocabulary = []
    owner: dict[tuple[str, ...], tuple[str, str]] = {}
    for key in MODIFIER_KEYS:
        for term in _word_terms(words(key).all):
            if owner.setdefault(term, key) != key:
                raise ValueError(f"modifier word {' '.join(term)!r} is listed for {owner[term]} and {key}")
            vocabulary.append((term, key))
    return sorted(vocabulary, key=lambda item: (-len(item[0]), item[0]))


def _first_word_index(vocabulary) -> dict[str, list[int]]:
    index: dict[str, list[int]] = {}
    for n, (term, _) in enumerate(vocabulary):
        index.setdefault(term[0], []).append(n)
    return index


@lru_cache(maxsize=4)
def _vocabulary_and_index(registry: int) -> tuple[list, dict]:
    """The vocabulary and its first-word index, built once per registry (`registry`: `registry_key()`)."""
    vocabulary = _modifier_vocabulary()
    return vocabulary, _first_word_index(vocabulary)


def modifier_vocabulary() -> list[tuple[tuple[str, ...], tuple[str, str]]]:
    """The vocabulary of the transforms registered now (built once per registry)."""
    return _vocabulary_and_index(registry_key())[0]


_FOLLOW_TERMS = _word_terms(FOLLOW_WORDS)
_OVERLAP_TERMS = _word_terms(OVERLAP_WORDS)


def _vocabulary_at(starts: dict[str, list[int]]) -> list[tuple[tuple[str, ...], tuple[str, str]]]:
    """The modifier terms whose first word occurs in a text (`_positions`), in `modifier_vocabulary` order
    (longest first): no other term can match, and a caption holds a handful of the ~100."""
    vocabulary, by_first = _vocabulary_and_index(registry_key())
    return [vocabulary[n] for n in sorted(n for word in starts for n in by_first.get(word, ()))]


def allowed_words(key: tuple[str, str]) -> list[str]:
    """The words that express one modifier: the template's own first, then the extra ones."""
    return list(words(key).all)


@dataclass(frozen=True)
class Verdict:
    reasons: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.reasons

    @property
    def reason(self) -> str | None:
        """The primary reason (REASONS order), None when accepted."""
        return self.reasons[0] if self.reasons else None


def form_reasons(text: str) -> list[str]:
    """Shape checks that need no recipe: preamble, markdown, quotes, one sentence, length."""
    reasons = []
    head = text.split(":", 1)[0]
    if _PREAMBLE.match(text) or ("caption" in tokens(text)) or (":" in text and len(head.split()) <= 4):
        reasons.append("preamble")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not _MARKDOWN_CHARS.isdisjoint(text) or any(_LIST_ITEM.match(line) for line in lines):
        reasons.append("markdown")
    if not _QUOTE_CHARS.isdisjoint(text) or text[:1] in _EDGE_QUOTES or text[-1:] in _EDGE_QUOTES or \
            text.rstrip(".!?")[-1:] in _EDGE_QUOTES:
        reasons.append("quotes")
    if len(lines) > 1 or _SENTENCE_BREAK.search(text):
        reasons.append("multiple_sentences")
    if word_count(text) > MAX_WORDS:
        reasons.append("too_long")
    return reasons


# Words a label's removed tail may share with an honest caption: they prove nothing.
_TAIL_COMMON = frozenset("""a an the and or of to in on at by for from is are be it its this that these those
your you i we they he she them his her my our their there here as so do does not no""".split())


def tail_words(raw_labels) -> frozenset[str]:
    """Tokens of what label cutting removed from `raw_labels` (e.g. "ignore", "hacked"), minus
    function words and the words captions are made of (modifiers, relations, generic nouns)."""
    words: set[str] = set()
    for raw in raw_labels:
        words |= {part for token in tokens(label_tail(raw)) for part in (token, *token.split("-")) if part}
    vocabulary = {word for term, _ in modifier_vocabulary() for word in term}
    vocabulary |= {word for term in (*_FOLLOW_TERMS, *_OVERLAP_TERMS) for word in term}
    return frozenset(words - _TAIL_COMMON - vocabulary - GENERIC_WORDS)


class Validator:
    """Validates captions for one source: `known_classes` are the classes an invented one may come from;
    `raw_labels` the labels the source cut (`Source.label_changes`): a caption repeating a word of
    their removed tail (an injected instruction) is rejected as "injected_text"."""

    def __init__(self, known_classes=(), raw_labels=()) -> None:
        self.raw_labels = tuple(sorted(set(raw_labels)))
        self._tail_words = tail_words(self.raw_labels)
        self.known_classes = tuple(sorted(set(known_classes) | set(LEXICON)))
        index: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for label in self.known_classes:
            for term in name_terms(label):
                if all(word in GENERIC_WORDS for part in term for word in part.split("-")):
                    continue
                index.setdefault(term[0], []).append((term, label))
        self._index = index

    def __reduce__(self):
        return (Validator, (self.known_classes, self.raw_labels))

    def _other_class(self, toks: list[str], used: list[bool], present: set[str], present_terms: set) -> str | None:
        for i, word in enumerate(toks):
            if used[i]:
                continue
            keys = {word, word[:-1], word[:-2], word[:-3] + "y"} if len(word) > 3 else {word}
            for key in keys:
                for term, label in self._index.get(key, ()):
                    if label in present or term in present_terms:
                        continue
                    if _match_at(toks, used, i, term, plural=True):
                        return label
        return None

    def read(self, caption: str, description: Description) -> Reading:
        """What a caption states about a description, by the validator's rules (see `Reading`)."""
        text = (caption or "").strip()
        toks = tokens(text)
        injected = False
        if self._tail_words:
            present = {word for label in description.labels for term in name_terms(label) for word in term}
            injected = any(t in self._tail_words and t not in present for t in toks)
        used = [False] * len(toks)
        cursor, found, out_of_order = 0, [], False
        for event in description.events:
            terms = list(name_terms(event.label))
            hit = _find(toks, used, terms, cursor)
            if hit is None:
                hit = _find(toks, used, terms, 0)
                out_of_order = out_of_order or hit is not None
            found.append(hit is not None)
            if hit is not None:
                i, n = hit
                used[i:i + n] = [True] * n
                cursor = max(cursor, i + n)
        present = set(description.labels)
        present_terms = {term for label in present for term in name_terms(label)}
        invented = self._other_class(toks, used, present, present_terms)
        modifiers = Counter(key for key, _ in _claim_modifier_words(toks, used))
        return Reading(text=text, form=tuple(form_reasons(text)) if text else (), injected=injected,
                       events=tuple(found), out_of_order=out_of_order, invented_class=invented,
                       modifiers=modifiers, relations=_relations_said(toks, used, description))

    def check(self, caption: str, description: Description) -> Verdict:
        return Verdict(self.read(caption, description).reasons(description))


def _relations_said(toks: list[str], used: list[bool], description: Description) -> dict[str, bool]:
    """For each relation the description has (follow, overlap, background): whether its words are there."""
    free = [t if not u else "" for t, u in zip(toks, used, strict=True)]
    blank = [False] * len(free)
    starts = _positions(free)

    def has(terms) -> bool:
        return any(_match_at(free, blank, i, term, plural=False) for term in terms for i in starts.get(term[0], ()))

    kinds = {event.relation for event in description.events} - {None}
    said = {kind: has(_FOLLOW_TERMS if kind == "follow" else _OVERLAP_TERMS) for kind in sorted(kinds)}
    if any(event.background for event in description.events):
        said["background"] = BACKGROUND_WORD in free
    return said


def modifier_states(needed: Counter, found: Counter) -> dict[tuple[str, str], str]:
    """Per modifier the description needs: "stated", "opposite" (its other direction is said more often
    than needed, e.g. "quiet" for a louder event) or "missing"."""
    states = {}
    for key, n in needed.items():
        if found[key] >= n:
            states[key] = "stated"
        elif found[opposite(key)] > needed[opposite(key)]:
            states[key] = "opposite"
        else:
            states[key] = "missing"
    return states


@dataclass(frozen=True)
class Reading:
    """A caption parsed against its description: which events are named (in order or not), every modifier
    word found (by key), an invented class, and which relations are said. `reasons` lists every
    rejection reason that applies (REASONS order); `check` accepts exactly when there is none."""

    text: str
    form: tuple[str, ...]
    injected: bool
    events: tuple[bool, ...]  # per described event: named
    out_of_order: bool
    invented_class: str | None
    modifiers: Counter  # modifier key -> times said
    relations: dict  # "follow" / "overlap" / "background" -> said

    def reasons(self, description: Description) -> tuple[str, ...]:
        found = set(self.form)
        if not self.text:
            found.add("empty")
        if self.injected:
            found.add("injected_text")
        if not all(self.events):
            found.add("missing_event")
        if self.invented_class is not None:
            found.add("invented_class")
        if self.out_of_order:
            found.add("order")
        needed = Counter(m for event in description.events for m in event.modifiers)
        for key in self.modifiers:
            if needed[key] == 0:
                found.add("opposite_modifier" if needed[opposite(key)] else "invented_modifier")
        if any(self.modifiers[key] < n for key, n in needed.items()):
            found.add("missing_modifier")
        if not all(self.relations.values()):
            found.add("missing_relation")
        return tuple(r for r in REASONS if r in found)


def modifier_terms(text: str) -> Counter:
    """(modifier key, words) of every modifier word in a text, longest match first."""
    toks = tokens(text)
    return Counter((key, " ".join(term)) for key, term in _claim_modifier_words(toks, [False] * len(toks)))


def _claim_modifier_words(toks: list[str], used: list[bool]):
    """(modifier key, term) of every modifier word in `toks`, longest terms first; marks their tokens in `used`."""
    starts = _positions(toks)
    for term, key in _vocabulary_at(starts):
        for i in starts[term[0]]:  # an exact match starts with the term's first word
            if _match_at(toks, used, i, term, plural=False):
                used[i:i + len(term)] = [True] * len(term)
                yield key, term


def reworded(caption: str, caption_description: Description, negative: str, negative_description: Description) -> bool:
    """True when a negative says a modifier it did not change in other words than the caption does.

    For every modifier both descriptions have equally often, the negative must use the
    caption's words ("low-pitched, fast slam" must not become "deep, rapid slam"; a replaced
    class keeps its modifiers' words, `voices`), or a model could tell the negative by its
    wording instead of by the sound.
    """
    before = {e.label: e.modifiers for e in caption_description.events}
    after = {e.label: e.modifiers for e in negative_description.events}
    voice = dict(zip(negative_description.labels, voices(caption_description, negative_description), strict=True))
    same = {label for label in after if before.get(voice[label]) == after[label]}
    kept = {voice[label] for label in same}
    changed = {m for label, mods in after.items() if label not in same for m in mods}
    changed |= {m for label, mods in before.items() if label not in kept for m in mods}
    unchanged = {m for label in same for m in after[label]} - changed
    words_of = lambda text: Counter({k: n for k, n in modifier_terms(text).items() if k[0] in unchanged})  # noqa: E731
    return words_of(caption) != words_of(negative)


def validate(caption: str, description: Description, known_classes=()) -> Verdict:
    """One-off check (builds the class index each call; captioners keep a `Validator`)."""
    return Validator(known_classes).check(caption, description)
