"""What a captioner takes and gives: sets of recipes in, captioned sets out, and the `Captioner` protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..recipe import Recipe


@dataclass
class CaptionSet:
    """One row's texts to write: recipes[0] is the row, the rest its negatives; `fallback` their template captions."""

    row_id: str
    recipes: list[Recipe]
    fallback: list[str]


@dataclass
class CaptionedSet:
    captions: list[str]
    source: str
    prompt_version: str


class Captioner(Protocol):
    """Anything that captions a batch of sets; `RowMaker` and the builder need no more than this."""

    prompt_version: str

    def caption_sets(self, sets: list[CaptionSet], unit: str | None = None) -> list[CaptionedSet]: ...
