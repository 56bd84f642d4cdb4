"""How many events short sounds allow in one clip, and the silence a very short clip is padded with.

Short recordings (clicks, knocks, 0.1-1 s events) made clips nobody can judge: five events in a
second under a 30-word caption, or a 0.07 s clip. The planner keeps the first events drawn
that bring `min_seconds_per_event` of sound each on average (fewer events when they are short)
and pads a clip shorter than `min_clip_seconds` with trailing silence. Both read only the drawn
recipe, so a row stays a pure function of (seed, split, index); a plan that already satisfies
them (every default synth plan of 2-6 s events) is unchanged.
"""

from __future__ import annotations

import statistics

from .config import MixConfig
from .recipe import EventSpec
from .transforms import length_of

PAD_KEY = "min_duration"  # in a recipe's render settings: the clip lasts at least this long (seconds)


def sound_seconds(specs: list[EventSpec], budget: float) -> float:
    """Seconds of sound the drawn recordings bring (each event's source duration, at most the budget each).

    The source durations, not the lengths after transforms: the rule is about short recordings; a
    "shorter" or "faster" modifier shortens an event on purpose, and the caption says so."""
    return sum(min(budget, s.event.duration) for s in specs)


def events_that_fit(specs: list[EventSpec], config: MixConfig) -> list[EventSpec]:
    """The first k drawn events, the most whose recordings bring `min_seconds_per_event` of sound each on average.

    Overlap does not count against a clip (two 1.3 s events over each other are two judgeable
    events); only short recordings lower the count."""
    for k in range(len(specs), 1, -1):
        if sound_seconds(specs[:k], config.max_duration) >= k * config.min_seconds_per_event - 1e-9:
            return specs[:k]
    return specs[:1]


def padding(events: list[EventSpec], config: MixConfig) -> dict:
    """Render settings to add: the pad for a clip shorter than `min_clip_seconds` (none for the others, whose
    recipes stay as before)."""
    end = max(s.onset + length_of(s) for s in events)
    target = min(config.min_clip_seconds, config.max_duration)
    return {PAD_KEY: target} if end < target - 1e-9 else {}


def short_events_warning(durations: list[float], config: MixConfig, source_name: str) -> str | None:
    """A warning with the figures and the flags when many of a source's events are shorter than one event's share."""
    if not durations:
        return None
    per_event = config.min_seconds_per_event
    short = sum(d < per_event for d in durations)
    if short < 0.1 * len(durations):
        return None
    return (f"{short / len(durations):.0%} of the {source_name} source's {len(durations)} events are shorter than "
            f"{per_event:g} s (median {statistics.median(durations):.2f} s, shortest {min(durations):.2f} s): clips hold "
            f"as many events as bring {per_event:g} s of sound each on average (at most {config.max_events}) and clips under "
            f"{config.min_clip_seconds:g} s are padded with silence to it; for sparser clips raise "
            f"--mix '{{\"min_seconds_per_event\": {2 * per_event:g}}}', to drop the shortest events set --min_event_seconds")
