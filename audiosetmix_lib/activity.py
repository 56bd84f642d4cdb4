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
SUSTAINED_FRAMES = 4  # a bound with this many active frames beside it (inward) lies in sound that goes on


def active_mask(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """The event's active frames (ENVELOPE_FRAME_S each), read-only: what `Source.activity` caches."""
    mask = active_frames(frame_power(samples, sample_rate, ENVELOPE_FRAME_S))
    mask.setflags(write=False)
    return mask


def frame_seconds(sample_rate: int) -> float:
    """The exact length of one frame of `active_mask` (a whole number of samples)."""
    return max(1, int(round(ENVELOPE_FRAME_S * sample_rate))) / sample_rate


def _frame_at(t: float, frame_s: float, n: int) -> int:
    return min(n - 1, max(0, int(math.floor(t / frame_s + 1e-9))))


def snap_segment(mask: np.ndarray, frame_s: float, duration: float, start: float, length: float) -> tuple[float, float]:
    """(start, length) of the segment [start, start + length) moved onto sound. A bound inside sustained sound
    (SUSTAINED_FRAMES active frames from it, inward) stays; another start moves forward to where the next sound
    in the segment starts (a start on the tail of a tick, faded in by the renderer, is silence), another end back
    to where the last sound in it ends. A segment with no sound starting in it starts where the last sound
    before it starts. A moved bound keeps EDGE_S of the silence beside the sound. Never longer than asked."""
    if not mask.any():
        return start, length
    n = len(mask)
    runs = np.flatnonzero(mask & ~np.r_[False, mask[:-1]])  # the first frame of each sound
    end = min(duration, start + length)
    first = _frame_at(start, frame_s, n)
    last = _frame_at(end - 1e-9, frame_s, n)
    if mask[first: first + SUSTAINED_FRAMES].all() and first + SUSTAINED_FRAMES <= n:
        sound_start = start
    else:
        later = runs[(runs > first) & (runs <= last)]
        if len(later):
            sound_start = later[0] * frame_s
        else:
            before = runs[runs <= first]
            sound_start = start = (before[-1] if len(before) else runs[0]) * frame_s
            end = min(duration, start + length)
            last = _frame_at(end - 1e-9, frame_s, n)
    if last + 1 >= SUSTAINED_FRAMES and mask[last - SUSTAINED_FRAMES + 1: last + 1].all():
        sound_end = end
    else:
        sounding = np.flatnonzero(mask[_frame_at(sound_start, frame_s, n): last + 1])
        final = _frame_at(sound_start, frame_s, n) + int(sounding[-1])
        sound_end = duration if final == n - 1 else (final + 1) * frame_s
    start, end = max(start, sound_start - EDGE_S), min(end, sound_end + EDGE_S)
    return start, end - start


def place_segment(mask: np.ndarray, frame_s: float, duration: float, start: float, length: float,
                  heard: float = 1.0) -> tuple[float, float, float]:
    """(start, length, heard share) of the segment [start, start + length) moved onto sound (`snap_segment`), and
    the share of it that is heard (its first `heard` share: a cut keeps only that) shrunk to where its last sound
    ends (a cut that kept a knock's trailing silence would make the event end earlier than the plan says). A
    segment whose bounds and cut point lie in sound is kept as it is."""
    start, length = snap_segment(mask, frame_s, duration, start, length)
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
