"""The declared interface of a transform module, and the check that a module implements all of it.

A module that renders nothing, says nothing, or cannot be verified is refused when the registry
is built (`transforms/__init__.py`), with one message naming the module and what it lacks: a
modifier is never half-implemented (rendered but not described, described but not rendered).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .base import DIRECTIONS, Check, Words


@runtime_checkable
class Transform(Protocol):
    """What every transform module provides (module-level names; see volume.py for a short example)."""

    NAME: str
    MODIFIERS: dict[str, str]  # direction -> the modifier name stored in the `modifiers` column
    WORDS: dict[str, Words]  # direction -> how captions say it
    ADVERBIAL: bool  # say it as how the sound is made ("quickly"), not what it is
    STAGE: str  # where `render_chain` runs it: one of STAGES
    STATS_WORDS: tuple[str, ...]  # the words statistics count in any caption set
    Settings: type  # a frozen dataclass: probability, the ranges `sample` draws from

    def sample(self, rng: np.random.Generator, settings: Any) -> dict: ...
    def apply(self, samples: np.ndarray, sr: int, params: dict, *args) -> np.ndarray: ...
    def flip(self, params: dict) -> dict: ...  # the other direction, renderable
    def detail(self, params: dict) -> str: ...  # "+9.2 dB"
    def definition(self, settings: Any) -> str: ...  # how it is made, for the dataset card
    def length_factor(self, params: dict) -> float: ...  # output length / input length
    def level_db(self, params: dict) -> float: ...  # the level change it makes (background rule)
    def check(self, before: np.ndarray, after: np.ndarray, sr: int, params: dict) -> Check: ...


COMMON_HOOKS = ("NAME", "MODIFIERS", "WORDS", "ADVERBIAL", "STAGE", "STATS_WORDS", "Settings", "sample", "apply",
                "flip", "detail", "definition", "length_factor", "level_db", "check")
# stage -> the further hooks `render_chain` calls for it, in the order the stages run:
# "length": `cut` before the stretch, `finish` (fade or loop) after the spectral stage;
# "stretch": `stretch_args`, merged into one Signalsmith pass; "spectral": `resolve` (what it
# measures, stored so a re-render is exact; MEASURED names the params it adds), then `apply`;
# "gain": `apply`, last.
STAGES = {"length": ("cut", "finish"), "stretch": ("stretch_args",), "spectral": ("resolve", "MEASURED"), "gain": ()}


class TransformInterfaceError(TypeError):
    """A transform module that lacks part of the interface."""


def require_interface(module: ModuleType) -> None:
    """Refuse a module missing any hook of its stage (one message naming the module and the hooks)."""
    label = getattr(module, "__name__", repr(module))
    missing = [hook for hook in COMMON_HOOKS if not hasattr(module, hook)]
    stage = getattr(module, "STAGE", None)
    if stage is not None and stage not in STAGES:
        raise TransformInterfaceError(f"transform module {label} has STAGE {stage!r}, which render_chain does not run "
                                      f"(stages: {', '.join(STAGES)})")
    missing += [hook for hook in STAGES.get(stage, ()) if not hasattr(module, hook)]
    if missing:
        raise TransformInterfaceError(f"transform module {label} lacks {', '.join(missing)} "
                                      f"(every transform provides: see audiosetmix_lib/transforms/interface.py)")
    if set(module.WORDS) != set(DIRECTIONS) or set(module.MODIFIERS) != set(DIRECTIONS):
        raise TransformInterfaceError(f"transform module {label} must give WORDS and MODIFIERS for both directions "
                                      f"{DIRECTIONS}")
