"""Where a source event sounds, and a segment cut so that it starts and ends where the event sounds.

A knock or a ticking clock is a few transients with silence between and around them. A segment
chosen by its bounds can start or end in that silence: an overlap onset then lands in silence
("while" is heard as "then"), a cut keeps one tick (no tempo to slow down) or only the leading
silence (no event at all). The planner measures each event's activity once (its active frames:
the 20 ms frames within 30 dB of its loudest, as `verify` and the transforms' checks measure a
sound) and snaps every segment onto it. Pure: the same samples give the same segment.
"""

from __future__ import annotations

import math

import numpy as np

from .transforms.measure import ENVELOPE_FRAME_S, active_frames, frame_power

# Silence kept beside a moved segment bound: the renderer fades a cut in and out (20 ms by default) and the
# stretch engine smears an edge; a transient right at the bound would be faded under the active range.
EDGE_S = 0.04


def active_mask(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """The event's active frames (ENVELOPE_FRAME_S each), read-only: what `Source.activity` caches."""
    mask = active_frames(frame_power(samples, sample_rate, ENVELOPE_FRAME_S))
    mask.setflags(write=False)
    return mask


def frame_seconds(sample_rate: int) -> float:
    """The exact length of one frame of `active_mask` (a whole number of samples)."""
    return max(1, int(round(ENVELOPE_FRAME_S * sample_rate))) / sample_rate


def active_bounds(mask: np.ndarray, frame_s: float, duration: float) -> tuple[float, float]:
    """(start, end) seconds of the event's sounding part: its first to its last active frame (the whole event
    when nothing is active). A last full frame that sounds keeps the partial frame after it."""
    frames = np.flatnonzero(mask)
    if not len(frames):
        return 0.0, duration
    end = duration if frames[-1] == len(mask) - 1 else (frames[-1] + 1) * frame_s
    return frames[0] * frame_s, min(duration, end)


def snap_segment(mask: np.ndarray, frame_s: float, duration: float, start: float, length: float) -> tuple[float, float]:
    """(start, length) of the segment [start, start + length) moved onto sound. Its start stays where it is inside
    sound (its frame and the next active), else moves forward to the next active frame: a start on the tail of a
    knock, faded in by the renderer, is silence. Its end likewise stays inside sound or moves back to the end of
    the last active frame. A segment that holds no active frame (a gap longer than it) starts where the last sound
    before it starts instead. A moved bound keeps EDGE_S of the silence beside the sound. Never longer than asked."""
    if not mask.any():
        return start, length
    n = len(mask)
    end = min(duration, start + length)
    first = min(n - 1, int(math.floor(start / frame_s + 1e-9)))
    last = min(n - 1, max(first, int(math.ceil(end / frame_s - 1e-9)) - 1))
    sounding = np.flatnonzero(mask[first: last + 1]) + first
    if not len(sounding):
        before = np.flatnonzero(mask[: first + 1])
        first = int(before[-1]) if len(before) else int(np.flatnonzero(mask)[0])
        while first > 0 and mask[first - 1]:  # from where that sound starts
            first -= 1
        start, end = first * frame_s, min(duration, first * frame_s + length)
        last = min(n - 1, max(first, int(math.ceil(end / frame_s - 1e-9)) - 1))
        sounding = np.flatnonzero(mask[first: last + 1]) + first
    inside = first + 1 < n and mask[first] and mask[first + 1] and first + 1 <= last
    new_start = start if inside else (sounding[sounding > first][0] if (sounding > first).any() else sounding[0]) * frame_s
    inside_end = last >= 1 and mask[last] and mask[last - 1] and last - 1 >= first
    new_end = end if inside_end else min(end, duration if sounding[-1] == n - 1 else (sounding[-1] + 1) * frame_s)
    if new_end <= new_start:  # one active frame: keep it whole
        new_start, new_end = sounding[0] * frame_s, min(duration, (sounding[0] + 1) * frame_s)
    new_start, new_end = max(start, new_start - EDGE_S), min(end, new_end + EDGE_S)
    return new_start, new_end - new_start


def place_segment(mask: np.ndarray, frame_s: float, duration: float, drawn: float, length: float,
                  heard: float = 1.0) -> tuple[float, float, float]:
    """(start, length, heard share) of a segment of at most `length` s that starts and ends on sound, and whose
    heard part (its first `heard` share: a cut keeps only that) ends on sound too: the share shrinks to where
    its last sound ends (a cut that kept a knock's trailing silence would make the event end earlier than
    the plan says). `drawn` (in [0, duration - length]) is the start drawn over the whole event, mapped onto
    the room its sounding part leaves: an event that sounds from its first to its last frame keeps the segment
    drawn."""
    low, high = active_bounds(mask, frame_s, duration)
    slack, room = duration - length, (high - low) - length
    start = low + (drawn if room == slack else drawn / slack * room) if room > 0 else low
    start, length = snap_segment(mask, frame_s, duration, start, min(length, high - low))
    if heard < 1.0:
        kept_start, kept = snap_segment(mask, frame_s, duration, start, heard * length)
        if kept_start == start and kept < heard * length:
            heard = max(frame_s / length, math.floor(kept / length * 1e4) / 1e4)
    return start, length, heard


def looped_repeats(mask: np.ndarray, frame_s: float, duration: float, start: float, length: float,
                   repeats: float) -> float:
    """A loop's repeat count ending on sound: the last, partial repetition of the segment stops at the end of
    its last sound (no trailing gap of a knocking), or is left out when it holds none."""
    whole = math.floor(repeats)
    part = repeats - whole
    if part <= 0:
        return repeats
    kept_start, kept = snap_segment(mask, frame_s, duration, start, part * length)
    if kept_start != start:
        return float(whole)
    return whole + min(part, math.floor(kept / length * 1e4) / 1e4)
