"""How events relate (follow, overlap, background), where that places them, and the words that say so, in one place."""

from __future__ import annotations

from dataclasses import replace

from .recipe import EventSpec, Recipe
from .transforms import level_db_of, output_duration

RELATIONS = ("follow", "overlap", "background")

# Words a caption may use for each relation (the validator requires one where the recipe has it).
FOLLOW_WORDS = ("followed", "then", "after", "afterwards", "afterward", "before", "later", "next", "subsequently",
                "finally", "once")
OVERLAP_WORDS = ("while", "as", "with", "along", "alongside", "during", "over", "amid", "amidst", "simultaneously",
                 "meanwhile", "together", "accompanied", "same time", "background", "underneath", "beneath")
BACKGROUND_WORD = "background"

# How the LLM prompt asks for each relation (its rule 4): relation -> (the phrases it offers, when to use them).
PROMPT_RULES = {
    "follow": (("followed by", "then"), "it starts after the previous sound ends"),
    "overlap": (("while", "as"), "it starts while the previous sound is playing"),
    "background": (("in the background",), '"background" is true'),
}

# The narrower groups the statistics count (the AudioCaps reference rates were measured with these).
STATS_WORD_GROUPS = {
    "order": ("followed by", "then", "after", "before"),
    "overlap": ("while", "as", "along with", "in the background"),
}


# Transforms that move the level heard by an amount the recipe does not state: a filter's make-up gain is set
# on the whole signal, not on its active frames; a speed change of a sparse sound moves its active RMS.
LEVEL_MOVING_TRANSFORMS = ("filter", "speed")


def in_background(spec: EventSpec, previous: EventSpec, background_db: float) -> bool:
    """Whether an overlapping event is "in the background" of the one it overlaps: `background_db` quieter by the
    levels the recipe states (`level_db_of`), and only where those are the levels heard (neither event carries a
    LEVEL_MOVING_TRANSFORMS one: a "background" siren after a filter measured 2 dB, not 6, under the wind)."""
    if any(name in LEVEL_MOVING_TRANSFORMS for name in (*spec.transforms, *previous.transforms)):
        return False
    return level_db_of(spec.transforms) <= level_db_of(previous.transforms) - background_db


# An overlapping event starts at least this long before the previous one ends (or with it, when that one is
# shorter): at `overlap_at` of a 0.13 s bark, a cry would sound with it for 0.07 s, heard as "then".
OVERLAP_HEARD_S = 0.15


def onsets_for(events: list[EventSpec], lengths: list[float]) -> list[float]:
    """Each event's onset (rounded to the microsecond) from the relations and the events' lengths in the mix."""
    onsets: list[float] = []
    end_so_far = 0.0
    for i, (spec, length) in enumerate(zip(events, lengths, strict=True)):
        if i == 0:
            onset = 0.0
        elif spec.relation == "overlap":  # inside the previous one, and long enough before its end to be heard with it
            onset = onsets[-1] + min(spec.overlap_at * lengths[i - 1], max(0.0, lengths[i - 1] - OVERLAP_HEARD_S))
        else:
            onset = end_so_far + spec.gap
        onset = round(onset, 6)
        onsets.append(onset)
        end_so_far = max(end_so_far, onset + length)
    return onsets


def layout(events: list[EventSpec]) -> list[EventSpec]:
    """Onsets and ends from relations: a follow starts after everything so far; an overlap inside its predecessor.

    Each event's length comes from its segment and transforms (`transforms.output_duration`);
    `onset` and `end` are stored rounded to the microsecond, as the recipe's JSON keeps them.
    """
    lengths = [output_duration(spec.segment_duration, spec.transforms) for spec in events]
    return [spec.placed(None if i == 0 else (spec.relation or "follow"), onset, round(onset + length, 6))
            for i, (spec, onset, length) in enumerate(zip(events, onsets_for(events, lengths), lengths, strict=True))]


def with_events(recipe: Recipe, events: list[EventSpec]) -> Recipe:
    """A copy of `recipe` with other events, laid out again (how negatives perturb a recipe); no render output."""
    return replace(recipe, events=layout(events), render_output=None)
