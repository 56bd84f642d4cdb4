"""An event's energy envelope (20 ms frame RMS) and what it tells: where it is active, starts and ends.

Every timing claim `verify` measures (order, follow, overlap) reads these envelopes of each event
rendered alone in the clip, never the recipe's onsets: what is measured is where the sound is.
The frame measurements are the transforms' own (`transforms.measure`), so a level means one thing
in every check.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..transforms.measure import ENVELOPE_FRAME_S, active_frames, frame_power


@dataclass(frozen=True)
class Envelope:
    """Frame powers of one signal and its active frames (within 30 dB of its loudest frame)."""

    power: np.ndarray
    frame_s: float

    @property
    def active(self) -> np.ndarray:
        return active_frames(self.power)

    @property
    def onset(self) -> float:
        """Start of the first active frame (s); inf for silence."""
        frames = np.flatnonzero(self.active)
        return float(frames[0] * self.frame_s) if len(frames) else np.inf

    @property
    def end(self) -> float:
        """End of the last active frame (s): where the tail has fallen 30 dB under the peak."""
        frames = np.flatnonzero(self.active)
        return float((frames[-1] + 1) * self.frame_s) if len(frames) else -np.inf


def envelope(samples: np.ndarray, sr: int, frame_s: float = ENVELOPE_FRAME_S) -> Envelope:
    return Envelope(frame_power(samples, sr, frame_s), max(1, int(round(frame_s * sr))) / sr)


def together_seconds(a: Envelope, b: Envelope) -> float:
    """How long both signals are active at once (s): the overlap of their active spans (first to last active
    frame). Spans, not frame by frame: chirps, beeps and knocks have silences inside them that belong to the
    sound (a beeping inside a bird's chirping is heard as "with", though no 20 ms frame holds both)."""
    return float(max(0.0, min(a.end, b.end) - max(a.onset, b.onset)))
