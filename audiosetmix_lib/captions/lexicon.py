"""Class names -> natural phrases (the modifiers' words live in their transform modules).

A phrase is (article, noun, verb, gerund): "a" + adjectives + "siren" + "wails" / "wailing".
`LEXICON` holds the core classes the caption validator always knows; `class_phrases.tsv`
(package data, keyed by AudioSet display name) holds a phrase for every AudioSet class;
other labels get a grammatical phrase from their own words (see `phrase_for`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from ..events import cut_label

PHRASES_FILE = "class_phrases.tsv"


@dataclass(frozen=True)
class Phrase:
    article: str  # "a", or "" for mass/plural nouns; "a" becomes "an" as needed
    noun: str
    verb: str  # agrees with the noun: "wails", "beat", "is heard"
    gerund: str | None  # "wailing"; None: the noun phrase stands alone after "followed by"
    synonyms: tuple[str, ...] = ()  # other words that name this class (used by validators)


LEXICON: dict[str, Phrase] = {
    "Beep, bleep": Phrase("a", "device", "beeps", "beeping", ("beep", "beeps", "beeping", "bleep", "bleeps", "bleeping")),
    "Bell": Phrase("a", "bell", "rings", "ringing", ("bell", "bells", "chime", "chimes", "rings", "ringing")),
    "Bird vocalization, bird call, bird song": Phrase("a", "bird", "chirps", "chirping", ("bird", "birds", "chirp", "chirps", "chirping", "tweet", "tweets", "birdsong")),
    "Buzzer": Phrase("a", "buzzer", "buzzes", "buzzing", ("buzzer", "buzz", "buzzes", "buzzing")),
    "Drum": Phrase("", "drums", "beat", "beating", ("drum", "drums", "drumming", "drumbeat")),
    "Engine": Phrase("an", "engine", "rumbles", "rumbling", ("engine", "motor", "idles", "idling")),
    "Knock": Phrase("", "knocking", "is heard", None, ("knock", "knocks", "knocking")),
    "Rain": Phrase("", "rain", "falls", "falling", ("rain", "raining", "rainfall", "drizzle")),
    "Siren": Phrase("a", "siren", "wails", "wailing", ("siren", "sirens", "wail", "wails", "wailing")),
    "Tick-tock": Phrase("a", "clock", "ticks", "ticking", ("clock", "tick", "ticks", "ticking", "tick-tock", "tock")),
    "Whistle": Phrase("a", "whistle", "blows", "blowing", ("whistle", "whistles", "whistling")),
    "Wind": Phrase("", "wind", "blows", "blowing", ("wind", "gust", "gusts", "breeze")),
    # common real-audio classes (ESC-10 and frequent AudioSet labels)
    "Dog": Phrase("a", "dog", "barks", "barking", ("dog", "dogs", "bark", "barks", "barking")),
    "Chicken, rooster": Phrase("a", "rooster", "crows", "crowing", ("rooster", "chicken", "crows", "crowing", "cock-a-doodle-doo")),
    "Baby cry, infant cry": Phrase("a", "baby", "cries", "crying", ("baby", "infant", "cries", "crying")),
    "Sneeze": Phrase("a", "sneeze", "is heard", None, ("sneeze", "sneezes", "sneezing")),
    "Helicopter": Phrase("a", "helicopter", "flies overhead", "flying overhead", ("helicopter", "chopper")),
    "Chainsaw": Phrase("a", "chainsaw", "whirs", "whirring", ("chainsaw", "saw")),
    "Fire": Phrase("a", "fire", "crackles", "crackling", ("fire", "crackle", "crackles", "crackling")),
    "Waves, surf": Phrase("", "waves", "crash", "crashing", ("waves", "wave", "surf")),
    "Speech": Phrase("a", "person", "speaks", "speaking", ("speech", "speaks", "speaking", "talks", "talking", "voice")),
    "Music": Phrase("", "music", "plays", "playing", ("music",)),
    "Cat": Phrase("a", "cat", "meows", "meowing", ("cat", "meow", "meows", "meowing")),
    "Car": Phrase("a", "car", "drives by", "driving by", ("car", "cars", "vehicle")),
    "Thunder": Phrase("", "thunder", "rumbles", "rumbling", ("thunder",)),
    "Water": Phrase("", "water", "flows", "flowing", ("water",)),
    "Applause": Phrase("", "applause", "is heard", None, ("applause", "clapping", "applaud")),
    "Vehicle horn, car horn, honking": Phrase("a", "car horn", "honks", "honking", ("horn", "honk", "honks", "honking")),
}


def _clean_name(label: str) -> str:
    """The first comma part of a label, lower-case, control characters as spaces (zero-shot prompts use it)."""
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", label)
    text = text.split(",")[0].strip().lower()
    text = re.sub(r"\s+", " ", text)
    return text or "sound"


def _key(label: str) -> str:
    """Lookup key: the label as sources cut it, case-folded, underscores as spaces ("crying_baby")."""
    return " ".join(cut_label(label).replace("_", " ").split()).casefold()


def parse_phrases(text: str) -> dict[str, Phrase]:
    """`class_phrases.tsv` text -> {display name: Phrase}; '#' lines are comments."""
    phrases = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 6:
            raise ValueError(f"{PHRASES_FILE}, line {number}: {len(fields)} fields, expected 6")
        name, article, noun, verb, gerund, synonyms = fields
        phrases[name] = Phrase(article, noun, verb, None if gerund == "-" else gerund,
                               tuple(s for s in synonyms.split(";") if s))
    return phrases


@lru_cache(maxsize=1)
def class_phrases() -> dict[str, Phrase]:
    """Every AudioSet class's phrase, by display name (read once from the package data)."""
    return parse_phrases(resources.files(__package__).joinpath(PHRASES_FILE).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _index() -> dict[str, Phrase]:
    index = {_key(name): phrase for name, phrase in class_phrases().items()}
    index.update({_key(name): phrase for name, phrase in LEXICON.items()})
    return index


_PLURAL_END = re.compile(r"[^su]s$")  # "footsteps", "waves"; not "glass", "bus", "chorus"


def fallback_phrase(label: str) -> Phrase:
    """A grammatical phrase for a label no table knows, from its first comma part.

    One plural word ("footsteps", "sea waves") -> "footsteps are heard"; a single "-ing" word
    ("sneezing") is a mass noun -> "sneezing is heard"; words ending in "-ing" after a noun
    ("person speaking") -> "a person speaking is heard"; anything else names the sound by its
    source: "a drawer slam sound is heard" (no "a laughter", no bare count noun).
    """
    words = re.sub(r"[\"“”„«»`*#]", "", cut_label(label).replace("_", " ")).split(",")[0].split()
    name = " ".join(words).lower() or "unknown"
    last = name.split()[-1]
    if _PLURAL_END.search(last) and len(last) > 3:
        return Phrase("", name, "are heard", None, (name,))
    if last.endswith("ing") and len(last) > 4:
        return Phrase("" if name == last else "a", name, "is heard", None, (name,))
    if last in ("sound", "noise"):
        return Phrase("a", name, "is heard", None, (name,))
    return Phrase("a", f"{name} sound", "is heard", None, (name,))


def has_phrase(label: str) -> bool:
    """Whether the core lexicon or the class table knows `label` (else `phrase_for` falls back)."""
    return label in LEXICON or _key(label) in _index()


def phrase_for(label: str) -> Phrase:
    """The core lexicon's entry, the class table's (by display name, case-insensitive), or `fallback_phrase`."""
    if label in LEXICON:
        return LEXICON[label]
    found = _index().get(_key(label))
    return found if found is not None else fallback_phrase(label)


def with_article(article: str, words: list[str]) -> list[str]:
    """'a' -> 'an' before a vowel sound; '' adds nothing."""
    if article in ("a", "an") and words:
        first = words[0].lower()
        return ["an" if first[:1] in "aeiou" and not first.startswith(("uni", "use", "one")) else "a"] + words
    return ([article] if article else []) + words
