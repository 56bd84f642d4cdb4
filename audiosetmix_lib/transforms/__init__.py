"""The transform registry: every modifier, in a fixed order, each defined in its own module.

Adding a modifier means adding one module (settings, sample, apply, flip, words, names; see
`base.py`) and one line in `TRANSFORMS`. Everything else (sampling, rendering, captions, the
validator, the prompt, statistics, the audit page, negatives, the evaluation) reads from here.
"""

from __future__ import annotations

import numpy as np

from . import duration, filter, pitch, speed, volume
from .base import DIRECTIONS, Words, db_to_gain, fade, other_direction, settings_from

# name -> module, in the order transforms are drawn (changing it changes every recipe)
TRANSFORMS = {module.NAME: module for module in (volume, pitch, speed, duration, filter)}
TRANSFORM_NAMES = tuple(TRANSFORMS)

# (transform, direction) -> the modifier name stored in the `modifiers` column
MODIFIER_NAMES = {(name, d): module.MODIFIERS[d] for name, module in TRANSFORMS.items() for d in DIRECTIONS}
MODIFIER_KEYS = tuple(MODIFIER_NAMES)  # every (transform, direction), registry order


def words(key: tuple[str, str]) -> Words:
    """The words of one (transform, direction)."""
    return TRANSFORMS[key[0]].WORDS[key[1]]


def quality(key: tuple[str, str]) -> str:
    """The one word that names a modifier in a prompt or a description ("loud", "quiet")."""
    return words(key).adj[0]


def is_adverbial(name: str) -> bool:
    """Transforms a caption should express as how the sound is made, not what it is."""
    return bool(TRANSFORMS[name].ADVERBIAL)


def resolve_settings(overrides: dict | None = None) -> dict:
    """name -> validated settings, from MixConfig.transforms plain data (unknown names/keys rejected)."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(TRANSFORMS))
    if unknown:
        raise ValueError(f"unknown transforms in MixConfig.transforms: {unknown} (known: {list(TRANSFORM_NAMES)})")
    out = {}
    for name, module in TRANSFORMS.items():
        value = overrides.get(name) or {}
        if not isinstance(value, dict):
            raise ValueError(f"MixConfig.transforms[{name!r}] must be an object of settings, got {value!r}")
        out[name] = settings_from(module.Settings, name, value)
    return out


def default_settings() -> dict:
    return resolve_settings({})


def sample_transforms(rng: np.random.Generator, settings: dict) -> dict:
    """Each transform with its own probability, in registry order: name -> params."""
    drawn = {}
    for name, module in TRANSFORMS.items():
        if rng.random() < settings[name].probability:
            drawn[name] = module.sample(rng, settings[name])
    return drawn


def flip(name: str, params: dict) -> dict:
    """The opposite direction of one transform (renderable; for modifier negatives)."""
    return TRANSFORMS[name].flip(params)


def detail(name: str, params: dict) -> str:
    """'louder (+9.2 dB)', 'slower (tempo x0.61)': the modifier name and its amount."""
    return f"{MODIFIER_NAMES[(name, params['direction'])]} ({TRANSFORMS[name].detail(params)})"


def tempo_of(transforms: dict) -> float:
    return transforms["speed"]["tempo"] if "speed" in transforms else 1.0


def duration_factor(transforms: dict) -> float:
    """Output length / input length of the duration transform."""
    params = transforms.get("duration")
    return duration.length_factor(params) if params else 1.0


def gain_db_of(transforms: dict) -> float:
    return volume.gain_db(transforms["volume"]) if "volume" in transforms else 0.0


def output_duration(segment_duration: float, transforms: dict) -> float:
    """Seconds an event lasts in the mix: its segment through the speed and duration transforms."""
    return scaled_duration(segment_duration, tempo_of(transforms), duration_factor(transforms))


def scaled_duration(segment_duration: float, tempo: float, factor: float) -> float:
    """`output_duration` with the event's tempo and duration factor already looked up (the planner's cap search
    asks for the same events' lengths at ~40 caps)."""
    return segment_duration / tempo * factor


def length_of(spec) -> float:
    """An event spec's exact length in the mix (its stored `end` is rounded to the microsecond)."""
    return output_duration(spec.segment_duration, spec.transforms)


def modifier_names(transforms: dict) -> list[str]:
    """The modifier names of one event's transforms (each module's MODIFIERS), sorted by transform name."""
    return [MODIFIER_NAMES[(name, params["direction"])] for name, params in sorted(transforms.items())]


def recipe_modifiers(recipe) -> list[str]:
    """Every event's modifier names, in event order (a row's `modifiers` column)."""
    return [m for spec in recipe.events for m in modifier_names(spec.transforms)]


def render_chain(samples: np.ndarray, sr: int, transforms: dict, fade_seconds: float) -> tuple[np.ndarray, dict]:
    """Apply an event's transforms; returns the audio and the params with what was measured.

    Each module names its STAGE. Order: a shortened event is cut first (stretching the discarded
    part is wasted work); the "stretch" transforms (pitch, speed) run in one Signalsmith pass;
    "spectral" transforms (the filter) then run in registry order, each first resolving what it
    measures (`resolve`, stored so a re-render is exact); then the cut is faded or the event
    looped; "gain" comes last. Pure: params in, samples out.
    """
    resolved = dict(transforms)
    dur = transforms.get("duration")
    out = samples
    if dur and dur["direction"] == "down":
        out = duration.cut(out, dur)
    semitones = transforms.get("pitch", {}).get("semitones", 0.0)
    out = pitch.stretch(out, sr, semitones=semitones, tempo=tempo_of(transforms))
    for name, module in TRANSFORMS.items():
        if module.STAGE == "spectral" and name in transforms:
            resolve = getattr(module, "resolve", None)
            resolved[name] = resolve(out, sr, transforms[name]) if resolve else transforms[name]
            out = module.apply(out, sr, resolved[name])
    if dur and dur["direction"] == "down":
        out = fade(out, sr, fade_seconds)
    elif dur:
        out = duration.apply(out, sr, dur, fade_seconds)
    for name, module in TRANSFORMS.items():
        if module.STAGE == "gain" and name in transforms:
            out = module.apply(out, sr, transforms[name])
    return out, resolved


def apply_transforms(samples: np.ndarray, sr: int, transforms: dict, fade_seconds: float) -> np.ndarray:
    return render_chain(samples, sr, transforms, fade_seconds)[0]


def apply_duration(samples: np.ndarray, sr: int, params: dict, fade_seconds: float) -> np.ndarray:
    return duration.apply(samples, sr, params, fade_seconds)


__all__ = ["TRANSFORMS", "TRANSFORM_NAMES", "DIRECTIONS", "MODIFIER_NAMES", "MODIFIER_KEYS", "Words", "words",
           "quality", "is_adverbial", "resolve_settings", "default_settings", "sample_transforms", "flip", "detail",
           "tempo_of", "duration_factor", "gain_db_of", "render_chain", "apply_transforms", "apply_duration",
           "db_to_gain", "fade", "other_direction"]
