"""How events relate (follow, overlap, background), where that places them, and the words that say so, in one place."""

from __future__ import annotations

from dataclasses import replace

from .recipe import EventSpec, Recipe
from .transforms import output_duration

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


def onsets_for(events: list[EventSpec], lengths: list[float]) -> list[float]:
    """Each event's onset (rounded to the microsecond) from the relations and the events' lengths in the mix."""
    onsets: list[float] = []
    end_so_far = 0.0
    for i, (spec, length) in enumerate(zip(events, lengths)):
        if i == 0:
            onset = 0.0
        elif spec.relation == "overlap":
            onset = onsets[-1] + spec.overlap_at * lengths[i - 1]
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
            for i, (spec, onset, length) in enumerate(zip(events, onsets_for(events, lengths), lengths))]


def with_events(recipe: Recipe, events: list[EventSpec]) -> Recipe:
    """A copy of `recipe` with other events, laid out again (how negatives perturb a recipe); no render output."""
    return replace(recipe, events=layout(events), render_output=None)
