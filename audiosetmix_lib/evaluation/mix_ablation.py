"""The points of the mixing ablation: one build per changed mixing setting, `both` trained on each.

A point is a name tag (it names the build folder and the run: `overlap0.5`, `gap1-2`, `onset0.6-0.9`)
and the `MixConfig` overrides its build gets through `--mix`. One setting changes per point, the
rest stay the build config's, so each run differs from the reference in one thing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..config import MixConfig

# command-line flag -> (MixConfig field, tag prefix, what a range is in, the range's bounds)
RANGE_SETTINGS = {
    "follow_gaps": ("follow_gap", "gap", "seconds between one event's end and the next one's onset", (0.0, None)),
    "overlap_onsets": ("overlap_onset", "onset", "share of the previous event elapsed when the next starts", (0.0, 1.0)),
}


@dataclass(frozen=True)
class MixPoint:
    """One build of the ablation: `tag` names it, `setting` is the MixConfig field it changes."""

    tag: str
    setting: str
    value: float | tuple[float, float]

    @property
    def mix(self) -> dict:
        return {self.setting: list(self.value) if isinstance(self.value, tuple) else self.value}

    def mix_json(self) -> str:
        return json.dumps(self.mix)

    @property
    def is_default(self) -> bool:
        """The point keeps the setting every builder config uses: its build is the main build."""
        return getattr(MixConfig(), self.setting) == self.value


def overlap_points(text: str) -> list[MixPoint]:
    """`0,0.5,1` -> one point per overlap probability in [0, 1]."""
    points = []
    for item in _items(text):
        value = _number(item, "--overlap_probabilities")
        if not 0 <= value <= 1:
            raise ValueError(f"--overlap_probabilities must lie in [0, 1], got {item}")
        points.append(MixPoint(f"overlap{value:g}", "overlap_probability", value))
    return points


def range_points(flag: str, text: str) -> list[MixPoint]:
    """`0:0.1,1:2` -> one point per LOW:HIGH range of the setting behind `--<flag>`."""
    setting, prefix, unit, (floor, ceiling) = RANGE_SETTINGS[flag]
    points = []
    for item in _items(text):
        low_high = item.split(":")
        if len(low_high) != 2:
            raise ValueError(f"--{flag} takes LOW:HIGH ranges ({unit}), comma-separated, e.g. 0:0.1,1:2; got {item!r}")
        low, high = (_number(x, f"--{flag}") for x in low_high)
        if not floor <= low <= high or (ceiling is not None and high > ceiling):
            bounds = f"[{floor:g}, {ceiling:g}]" if ceiling is not None else f">= {floor:g}"
            raise ValueError(f"--{flag} {item}: need LOW <= HIGH, both {bounds}")
        config = MixConfig.from_dict({setting: [low, high]})  # the build would refuse what the config refuses
        if setting == "follow_gap" and high >= config.max_duration:
            raise ValueError(f"--{flag} {item}: a gap of {high:g} s leaves no room for the next event in a "
                             f"{config.max_duration:g} s clip (every follow would become an overlap)")
        points.append(MixPoint(f"{prefix}{low:g}-{high:g}", setting, (low, high)))
    return points


def ablation_points(overlap_probabilities: str, follow_gaps: str = "", overlap_onsets: str = "") -> list[MixPoint]:
    """Every point of the three flags, in flag order; a tag given twice is one point."""
    points = overlap_points(overlap_probabilities) + range_points("follow_gaps", follow_gaps) \
        + range_points("overlap_onsets", overlap_onsets)
    unique = {}
    for point in points:
        unique.setdefault(point.tag, point)
    return list(unique.values())


def _items(text: str) -> list[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]


def _number(text: str, flag: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{flag} takes numbers, got {text!r}") from None
