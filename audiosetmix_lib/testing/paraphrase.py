"""Answers that vary like a sampled model's: a rewording per request seed, and seeded slips.

`paraphrase(data, rng)` words the prompt's data block its own way each time (adjective order,
the transform modules' synonyms, adjective or adverb, joiners, verbs), keeping every fact. A
`Slips(drop, opposite)` policy then, in a seeded share of the answers to prompts with at least
one modifier, leaves one modifier out (`drop`) or says one in the other direction (`opposite`):
the rates `consistency` must measure back.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from ..transforms import MODIFIER_KEYS, other_direction, quality, words

KEY_OF_QUALITY = {quality(key): key for key in MODIFIER_KEYS}
FOLLOW = (", then {s}", ", followed by {s}", ", and then {s}", "; after that {s}", ", and later {s}")
OVERLAP = (" while {s}", " as {s}", " and meanwhile {s}")
BACKGROUND = (" with {s} in the background", " while {s} in the background")
VERBS = ("is heard", "sounds", "")


@dataclass(frozen=True)
class Slips:
    """Shares of answers (to prompts with a modifier) that leave one out / state one the other way round."""

    drop: float = 0.0
    opposite: float = 0.0

    def __post_init__(self) -> None:
        if not (0 <= self.drop <= 1 and 0 <= self.opposite <= 1 and self.drop + self.opposite <= 1):
            raise ValueError(f"drop ({self.drop}) and opposite ({self.opposite}) must be shares adding up to at most 1")


def request_rng(seed, prompt: str) -> np.random.Generator:
    """One stream per (request seed, prompt): the same request gets the same answer, another seed another one."""
    return np.random.default_rng([int(seed or 0) % 2**32, zlib.crc32(prompt.encode("utf-8"))])


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _sound(sound: dict, keys: list, rng: np.random.Generator) -> str:
    """Each modifier as one of its transform's adjectives or (when it has one) adverbs, around the sound's phrase."""
    before, after = [], []
    for key in keys:
        forms = words(key)
        if forms.adv and rng.random() < 0.5:
            after.append(_pick(rng, forms.adv))
        else:
            before.append(_pick(rng, forms.adj + tuple(w for w in forms.extra if " " not in w and not w.endswith("ly"))))
    order = rng.permutation(len(before))
    noun = " ".join([", ".join(before[i] for i in order)] * bool(before) + [sound["name"]])
    article = "" if sound["name"].endswith("s") else ("an " if noun[:1] in "aeiou" else "a ")
    simple = [a for a in after if not a.startswith("as if")]
    verb = _pick(rng, VERBS[:2] if simple else VERBS)  # an adverb needs a verb
    text = " ".join(part for part in (f"{article}{noun}", verb, " and ".join(simple)) if part)
    return text + "".join(f", {a}" for a in after if a.startswith("as if"))


def slip_keys(data: dict, rng: np.random.Generator, slips: Slips) -> tuple[list[list], str]:
    """Each sound's modifier keys after the seeded slip: ("none" | "drop" | "opposite")."""
    keys = [[KEY_OF_QUALITY[q] for q in sound["qualities"]] for sound in data["sounds"]]
    draw = rng.random()
    slots = [(i, j) for i, ks in enumerate(keys) for j in range(len(ks))]
    if not slots or draw >= slips.drop + slips.opposite:
        return keys, "none"
    i, j = slots[int(rng.integers(len(slots)))]
    if draw < slips.drop:
        del keys[i][j]
        return keys, "drop"
    keys[i][j] = (keys[i][j][0], other_direction(keys[i][j][1]))
    return keys, "opposite"


def paraphrase(data: dict, rng: np.random.Generator, slips: Slips = Slips()) -> tuple[str, str]:
    """(answer, slip) for a prompt's data block; every sound named in order with its relation."""
    keys, slip = slip_keys(data, rng, slips)
    text = ""
    for sound, ks in zip(data["sounds"], keys, strict=True):
        said = _sound(sound, ks, rng)
        if not text:
            text = said
        elif sound["background"]:
            text += _pick(rng, BACKGROUND).format(s=said)
        elif sound["starts"].startswith("while"):
            text += _pick(rng, OVERLAP).format(s=said)
        else:
            text += _pick(rng, FOLLOW).format(s=said)
    return text[:1].upper() + text[1:] + ".", slip
