"""Class names -> natural phrases (the modifiers' words live in their transform modules).

A phrase is (article, noun, verb, gerund): "a" + adjectives + "siren" + "wails" / "wailing".
Classes without an entry get a phrase from their display name (see `phrase_for`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


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
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", label)
    text = text.split(",")[0].strip().lower()
    text = re.sub(r"\s+", " ", text)
    return text or "sound"


def phrase_for(label: str) -> Phrase:
    """The lexicon entry, or a rule: the first comma part of the display name, 'is heard'."""
    if label in LEXICON:
        return LEXICON[label]
    noun = _clean_name(label)
    plural = noun.endswith("s") and not noun.endswith("ss")
    mass = noun.endswith("ing")
    article = "" if plural or mass else "a"
    return Phrase(article, noun, "are heard" if plural else "is heard", None, (noun,))


def with_article(article: str, words: list[str]) -> list[str]:
    """'a' -> 'an' before a vowel sound; '' adds nothing."""
    if article in ("a", "an") and words:
        first = words[0].lower()
        return ["an" if first[:1] in "aeiou" and not first.startswith(("uni", "use", "one")) else "a"] + words
    return ([article] if article else []) + words
