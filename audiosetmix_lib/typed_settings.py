"""Plain settings data (JSON, a `--mix` flag) brought to the types a settings dataclass declares.

One rule for every settings object (MixConfig, each transform's Settings): a number where a
number is declared (an int is a float; a bool is neither), a two-number range where a range is,
else one ValueError that names the field and what it takes.
"""

from __future__ import annotations

from dataclasses import fields

NUMBER_TYPES = {"float": (int, float), "int": (int,)}
RANGE_TYPE = "tuple[float, float]"


def typed_value(name: str, declared: str, value):
    """`value` as the declared type ("float", "int", "tuple[float, float]"); other types pass as they are."""
    if declared in NUMBER_TYPES:
        if isinstance(value, bool) or not isinstance(value, NUMBER_TYPES[declared]):
            raise ValueError(f"{name} must be {'an integer' if declared == 'int' else 'a number'}, got {value!r}")
        return float(value) if declared == "float" else value
    if declared == RANGE_TYPE:
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise ValueError(f"{name} must be a [low, high] range of two numbers, got {value!r}")
        return tuple(typed_value(f"{name}[{i}]", "float", v) for i, v in enumerate(value))
    return value


def typed_fields(obj, prefix: str = "") -> None:
    """Bring every field of a frozen dataclass to its declared type, in place (in __post_init__)."""
    for f in fields(obj):
        value = typed_value(prefix + f.name, str(f.type), getattr(obj, f.name))
        object.__setattr__(obj, f.name, value)


def require_range(name: str, bounds: tuple[float, float], low: float, high: float, why: str = "") -> None:
    """A (low, high) pair with low <= high, both inside [low, high] of what the field allows."""
    if len(bounds) != 2 or not bounds[0] <= bounds[1]:
        raise ValueError(f"{name} must be a [low, high] range with low <= high, got {list(bounds)}")
    if bounds[0] < low or bounds[1] > high:
        raise ValueError(f"{name} must lie within [{low:g}, {high:g}]{why}, got {list(bounds)}")


def require_between(name: str, value: float, low: float, high: float, why: str = "") -> None:
    if not low <= value <= high:
        raise ValueError(f"{name} must lie within [{low:g}, {high:g}]{why}, got {value:g}")
