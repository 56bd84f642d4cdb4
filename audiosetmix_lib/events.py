"""Labelled sound events, the unit every source yields, and how they are assigned to splits."""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, replace

SPLITS = ("train", "validation", "test")
MAX_LABEL_WORDS = 6  # AudioSet's longest display names have 6; a longer label is a sentence, not a class
_LABEL_END = re.compile(r"[.!?<>:\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


@dataclass(frozen=True, order=True)
class Event:
    """One labelled sound event: a span [start, end) of an audio reference.

    `audio` is a reference the owning source knows how to load (a path relative to the
    source root, a synth spec, a dataset row); it is plain data so recipes stay JSON.
    """

    event_id: str
    recording_id: str
    label: str
    audio: str
    start: float
    end: float
    split: str

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Event":
        return cls(**data)


@dataclass(frozen=True)
class Skip:
    """An input the source could not use, with the reason (reported in the build summary).

    `item` is relative to the source (a file name, a row): reports never show build-machine
    paths. `kind` is the short reason the summary counts; `label` the class the input would
    have fed ("" when unknown), so a class that lost every event can be named.
    """

    item: str
    reason: str
    kind: str = "other"
    label: str = ""


def cut_label(text: str) -> str:
    """A label as the captions may use it: cut at its first `.`, `!`, `?`, `<`, `>`, `:` or line
    break (what follows is another sentence or markup, e.g. an injected instruction), then reduced
    to words (`label_words`)."""
    head = _LABEL_END.split(str(text), maxsplit=1)[0]
    return label_words(_CONTROL.sub(" ", head))


_NOT_WORD = re.compile(r"[^\w\s,'()&-]")  # \w: letters and digits of any script (and "_": "crying_baby")
_LOOSE_MARK = re.compile(r"(?<!\w)['-]+|['-]+(?!\w)")  # an apostrophe or hyphen not inside a word
_BALANCED = re.compile(r"[^()]*(?:\([^()]*\)[^()]*)*")
_COMMAS = re.compile(r"\s*,[\s,]*")


def label_words(text: str) -> str:
    """Words only, as AudioSet's display names are written: letters and digits, spaces, commas between
    names ("Vehicle horn, car horn"), hyphens and apostrophes inside words ("Hi-hat", "dentist's"), `&`,
    and balanced parentheses ("Chopping (food)"). Quotes, brackets, braces and any other markup become
    spaces, so `Bell" } ]` reads "Bell" in a caption and an honest answer is not taken for markdown."""
    text = _NOT_WORD.sub(" ", str(text).replace("\u2019", "'"))
    text = _LOOSE_MARK.sub(" ", text)
    if not _BALANCED.fullmatch(text):
        text = text.replace("(", " ").replace(")", " ")
    text = re.sub(r"\(\s*\)", " ", text)
    text = _COMMAS.sub(", ", " ".join(text.split()))
    return text.strip(" ,")


def label_tail(text: str) -> str:
    """What `cut_label` removed from a label ("" when nothing): text a caption must never repeat."""
    parts = _LABEL_END.split(str(text), maxsplit=1)
    return parts[1] if len(parts) > 1 else ""


def label_problem(label: str) -> str | None:
    """Why a cut label cannot name a class (None when it can)."""
    if not label:
        return "empty label"
    if len(label.replace(",", " ").split()) > MAX_LABEL_WORDS:
        return "long label"
    return None


def hash_split(recording_id: str, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> str:
    """Assign a recording to a split by hashing its id: stable, and no recording feeds two splits."""
    digest = hashlib.sha1(recording_id.encode("utf-8")).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    total = sum(fractions)
    edge = 0.0
    for split, fraction in zip(SPLITS, fractions, strict=True):
        edge += fraction / total
        if u < edge:
            return split
    return SPLITS[-1]


def _order_key(recording_id: str) -> bytes:
    return hashlib.sha1(recording_id.encode("utf-8")).digest()


def stratified_splits(recording_class: dict[str, str], fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> dict[str, str]:
    """Recording id -> split, per class: every class with >= 3 recordings puts >= 1 into
    validation and >= 1 into test (then rounds the fractions); smaller classes stay in train.

    Within a class recordings are ordered by a hash of their id, so the result depends on the
    set of recordings only (not on file order) and a recording lands in exactly one split.
    """
    by_class: dict[str, list[str]] = {}
    for recording_id, label in recording_class.items():
        by_class.setdefault(label, []).append(recording_id)
    total = sum(fractions)
    out: dict[str, str] = {}
    for label in sorted(by_class):
        ids = sorted(by_class[label], key=lambda r: (_order_key(r), r))
        n = len(ids)
        n_val = n_test = 0
        if n >= 3:
            n_val = min(n - 2, max(1, round(n * fractions[1] / total))) if fractions[1] > 0 else 0
            n_test = min(n - 1 - n_val, max(1, round(n * fractions[2] / total))) if fractions[2] > 0 else 0
        for i, recording_id in enumerate(ids):
            out[recording_id] = "validation" if i < n_val else "test" if i < n_val + n_test else "train"
    return out


STRATIFY_MAX_RECORDINGS = 2000  # "auto": per-class splits up to this many recordings, hashing above
SPLIT_STRATEGIES = ("auto", "stratified", "hash")


def assign_splits(events: list[Event], fractions: tuple[float, float, float], strategy: str = "auto") -> list[Event]:
    """Give every event without a split (split == "") one, per recording.

    "stratified" splits per class (a recording counts for the class of its first event, so it
    stays in one split); "hash" hashes the recording id (a recording keeps its split when
    others are added: the choice for large, growing collections); "auto" stratifies up to
    STRATIFY_MAX_RECORDINGS recordings, where hashing leaves small classes out of a split.
    """
    unassigned = [event for event in events if not event.split]
    if not unassigned:
        return events
    recordings = sorted({event.recording_id for event in unassigned})
    if strategy == "auto":
        strategy = "stratified" if len(recordings) <= STRATIFY_MAX_RECORDINGS else "hash"
    if strategy == "hash":
        split_of = {r: hash_split(r, fractions) for r in recordings}
    else:
        recording_class: dict[str, str] = {}
        for event in sorted(unassigned):
            recording_class.setdefault(event.recording_id, event.label)
        split_of = stratified_splits(recording_class, fractions)
    return [event if event.split else replace(event, split=split_of[event.recording_id]) for event in events]


def normalise_split_name(value: str) -> str:
    """Map common spellings ('val', 'dev', 'valid', 'eval') to the three split names."""
    text = str(value).strip().lower()
    aliases = {"val": "validation", "valid": "validation", "dev": "validation", "eval": "test"}
    text = aliases.get(text, text)
    if text not in SPLITS:
        raise ValueError(f"unknown split name {value!r}: expected one of {', '.join(SPLITS)}")
    return text
