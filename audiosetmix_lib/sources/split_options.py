"""The split settings a labelled-file source takes (folder, hf), checked once for both."""

from __future__ import annotations

from ..events import normalise_split_name
from .base import SourceError


def checked_fractions(fractions, who: str) -> tuple[float, ...]:
    """Train / validation / test shares for sources without a split column: three non-negative numbers, not all 0."""
    shares = tuple(float(f) for f in fractions)
    if len(shares) != 3 or min(shares) < 0 or sum(shares) <= 0:
        raise SourceError(f"{who}: fractions must be three non-negative numbers, got {fractions!r}")
    return shares


def checked_split_map(split_map: dict | None, split_column: str | None, who: str) -> dict[str, str] | None:
    """The split column's values mapped to train / validation / test (None: the values are split names)."""
    if split_map is None:
        return None
    if split_column is None:
        raise SourceError(f"{who}: split_map needs split_column")
    try:
        return {str(k).strip(): normalise_split_name(v) for k, v in sorted(split_map.items())}
    except ValueError as error:
        raise SourceError(f"{who}: split_map: {error}") from None
