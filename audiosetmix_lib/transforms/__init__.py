"""The transform registry: every modifier, in a fixed order, each defined in its own module.

Adding a modifier means adding one module that implements the interface (`interface.py`; see
`volume.py` for a short example) and naming it in `BUILT_IN`. Everything else (sampling,
rendering, captions, the validator, the prompt, statistics, the audit page, the dataset card,
negatives, verify, the evaluation) reads from here. `register` refuses a module that lacks a
hook, so a modifier cannot be rendered without being described, checked and documented.
"""

from __future__ import annotations

from contextlib import contextmanager
from types import ModuleType

import numpy as np

from . import duration, filter, pitch, speed, volume
from .base import DIRECTIONS, Check, Words, db_to_gain, fade, other_direction, settings_from
from .interface import STAGES, Transform, TransformInterfaceError, require_interface

BUILT_IN = (volume, pitch, speed, duration, filter)  # the order transforms are drawn (changing it changes every recipe)

# name -> module, registry order. The views below follow it: a transform registered later (a
# test's throw-away one) is seen by every module that imported them.
TRANSFORMS: dict[str, ModuleType] = {}
TRANSFORM_NAMES = TRANSFORMS.keys()
# (transform, direction) -> the modifier name stored in the `modifiers` column
MODIFIER_NAMES: dict[tuple[str, str], str] = {}
MODIFIER_KEYS = MODIFIER_NAMES.keys()  # every (transform, direction), registry order
_changes = [0]  # registrations so far: what caches built from the registry are keyed on


def registry_key() -> int:
    """Changes whenever the registry does (caches of prompts and vocabularies are keyed on it)."""
    return _changes[0]


def register(module: ModuleType) -> None:
    """Add a transform module at the end of the registry, after checking it implements the interface."""
    require_interface(module)
    if module.NAME in TRANSFORMS:
        raise TransformInterfaceError(f"a transform named {module.NAME!r} is already registered")
    taken = set(MODIFIER_NAMES.values()) & set(module.MODIFIERS.values())
    if taken:
        raise TransformInterfaceError(f"transform module {module.__name__}: modifier names {sorted(taken)} are taken")
    TRANSFORMS[module.NAME] = module
    MODIFIER_NAMES.update({(module.NAME, d): module.MODIFIERS[d] for d in DIRECTIONS})
    _changes[0] += 1


def unregister(name: str) -> None:
    TRANSFORMS.pop(name)
    for direction in DIRECTIONS:
        MODIFIER_NAMES.pop((name, direction))
    _changes[0] += 1


@contextmanager
def registered(module: ModuleType):
    """`module` in the registry for the duration of a `with` block (tests, experiments)."""
    register(module)
    try:
        yield module
    finally:
        unregister(module.NAME)


for _module in BUILT_IN:
    register(_module)


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


def length_factor_of(transforms: dict, stages=None) -> float:
    """Output length / input length of an event's transforms (only those of `stages`, when given)."""
    factor = 1.0
    for name, module in TRANSFORMS.items():  # registry order, whatever the dict's: the same float every time
        if name in transforms and (stages is None or module.STAGE in stages):
            factor *= module.length_factor(transforms[name])
    return factor


def level_db_of(transforms: dict) -> float:
    """The level change an event's transforms make, in dB (describe's background rule reads it)."""
    return float(sum(module.level_db(transforms[name]) for name, module in TRANSFORMS.items() if name in transforms))


# The stages whose length change applies to the segment's material (the planner caps the segment so
# this part fits); the "length" stage's factor (a cut or a loop) applies after.
MATERIAL_STAGES = tuple(stage for stage in STAGES if stage != "length")


def output_duration(segment_duration: float, transforms: dict) -> float:
    """Seconds an event lasts in the mix: its segment through every transform's `length_factor`."""
    return segment_duration * length_factor_of(transforms)


def length_of(spec) -> float:
    """An event spec's exact length in the mix (its stored `end` is rounded to the microsecond)."""
    return output_duration(spec.segment_duration, spec.transforms)


def modifier_names(transforms: dict) -> list[str]:
    """The modifier names of one event's transforms (each module's MODIFIERS), sorted by transform name."""
    return [MODIFIER_NAMES[(name, params["direction"])] for name, params in sorted(transforms.items())]


def recipe_modifiers(recipe) -> list[str]:
    """Every event's modifier names, in event order (a row's `modifiers` column)."""
    return [m for spec in recipe.events for m in modifier_names(spec.transforms)]


def staged(transforms: dict) -> dict:
    """stage -> [(name, module, params)] in registry order; refuses an unknown transform or stage."""
    unknown = sorted(set(transforms) - set(TRANSFORMS))
    if unknown:
        raise ValueError(f"unknown transforms {unknown} (known: {list(TRANSFORMS)})")
    out: dict[str, list] = {stage: [] for stage in STAGES}
    for name, module in TRANSFORMS.items():
        if name in transforms:
            if module.STAGE not in out:
                raise TransformInterfaceError(f"transform {name!r} has STAGE {module.STAGE!r}, which render_chain does not run")
            out[module.STAGE].append((name, module, transforms[name]))
    return out


def stretch_args(stretchers: list) -> dict:
    """The keyword arguments of the one Signalsmith pass, merged from the stretch stage's transforms."""
    merged: dict = {}
    for name, module, params in stretchers:
        args = module.stretch_args(params)
        clash = set(args) & set(merged)
        if clash:
            raise TransformInterfaceError(f"transform {name!r} sets stretch arguments {sorted(clash)} another one sets")
        merged.update(args)
    return merged


def render_chain(samples: np.ndarray, sr: int, transforms: dict, fade_seconds: float) -> tuple[np.ndarray, dict]:
    """Apply an event's transforms by stage; returns the audio and the params with what was measured.

    Order (interface.STAGES): the "length" stage cuts first (stretching the discarded part is
    wasted work); the "stretch" transforms run in one Signalsmith pass; "spectral" transforms run
    in registry order, each first resolving what it measures (`resolve`, stored so a re-render is
    exact); the "length" stage then fades its cut or loops; "gain" comes last. Pure.
    """
    stages = staged(transforms)
    resolved = dict(transforms)
    out = samples
    for _, module, params in stages["length"]:
        out = module.cut(out, params)
    out = pitch.stretch(out, sr, **stretch_args(stages["stretch"]))
    for name, module, params in stages["spectral"]:
        resolved[name] = module.resolve(out, sr, params)
        out = module.apply(out, sr, resolved[name])
    for _, module, params in stages["length"]:
        out = module.finish(out, sr, params, fade_seconds)
    for _, module, params in stages["gain"]:
        out = module.apply(out, sr, params)
    return out, resolved


def without(transforms: dict, name: str) -> dict:
    """An event's transforms minus `name`, as a check's `before` renders them: the other transforms as
    defined, what they measured at render time dropped (MEASURED), so each measures again on the audio
    it now gets. (A filter's stored cut-off was measured on the pitch-shifted sound: kept, it would
    make the unshifted sound another filter's, and the pitch check would measure the filter.)"""
    out = {}
    for other, params in transforms.items():
        if other != name:
            measured = getattr(TRANSFORMS[other], "MEASURED", ())
            out[other] = {k: v for k, v in params.items() if k not in measured}
    return out


def check(name: str, before: np.ndarray, after: np.ndarray, sr: int, params: dict) -> Check:
    """One transform's claim measured from the sound (see each module's `check`)."""
    return TRANSFORMS[name].check(before, after, sr, params)


def apply_transforms(samples: np.ndarray, sr: int, transforms: dict, fade_seconds: float) -> np.ndarray:
    return render_chain(samples, sr, transforms, fade_seconds)[0]


__all__ = ["TRANSFORMS", "TRANSFORM_NAMES", "BUILT_IN", "DIRECTIONS", "MODIFIER_NAMES", "MODIFIER_KEYS", "STAGES",
           "Check", "Transform", "TransformInterfaceError", "Words", "register", "unregister", "registered", "registry_key",
           "words",
           "quality", "is_adverbial", "resolve_settings", "default_settings", "sample_transforms", "flip", "detail",
           "length_factor_of", "level_db_of", "output_duration", "length_of", "render_chain", "apply_transforms",
           "check", "without", "db_to_gain", "fade", "other_direction"]
