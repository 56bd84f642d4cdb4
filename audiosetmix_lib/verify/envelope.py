"""An event's energy envelope (20 ms frame RMS) and what it tells: where it is active, starts and ends.

Every timing claim `verify` measures (order, follow, overlap) reads these envelopes of each event
rendered alone in the clip, never the recipe's onsets: what is measured is where the sound is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAME_S = 0.02  # 20 ms frames
ACTIVE_RANGE_DB = 30.0  # a frame is active within this many dB of the event's loudest frame


@dataclass(frozen=True)
class Envelope:
    """Frame levels (dBFS) of one signal, and its active frames (within ACTIVE_RANGE_DB of its peak)."""

    db: np.ndarray
    frame_s: float

    @property
    def peak_db(self) -> float:
        return float(self.db.max()) if len(self.db) else -np.inf

    @property
    def active(self) -> np.ndarray:
        if not np.isfinite(self.peak_db):
            return np.zeros(len(self.db), dtype=bool)
        return self.db >= self.peak_db - ACTIVE_RANGE_DB

    @property
    def onset(self) -> float:
        """Start of the first active frame (s); inf for silence."""
        frames = np.flatnonzero(self.active)
        return float(frames[0] * self.frame_s) if len(frames) else np.inf

    @property
    def end(self) -> float:
        """End of the last active frame (s): where the tail has fallen below ACTIVE_RANGE_DB under the peak."""
        frames = np.flatnonzero(self.active)
        return float((frames[-1] + 1) * self.frame_s) if len(frames) else -np.inf

    def active_rms_db(self) -> float:
        """RMS over the active frames (dBFS): the event's level, silence between its parts not counted."""
        if not self.active.any():
            return -np.inf
        power = 10 ** (self.db[self.active] / 10)
        return float(10 * np.log10(power.mean()))


def envelope(samples: np.ndarray, sr: int, frame_s: float = FRAME_S) -> Envelope:
    """Frame RMS in dBFS (-inf for digital silence); a last partial frame counts as a frame."""
    frame = max(1, int(round(frame_s * sr)))
    x = np.asarray(samples, dtype=np.float64)
    n_frames = int(np.ceil(len(x) / frame))
    padded = np.zeros(n_frames * frame)
    padded[: len(x)] = x
    power = np.mean(padded.reshape(n_frames, frame) ** 2, axis=1)
    with np.errstate(divide="ignore"):
        db = 10 * np.log10(power)
    return Envelope(db=db, frame_s=frame / sr)


def together_seconds(a: Envelope, b: Envelope) -> float:
    """How long both signals are active at once (s): the overlap of their active spans (first to last active
    frame). Spans, not frame by frame: chirps, beeps and knocks have silences inside them that belong to the
    sound (a beeping inside a bird's chirping is heard as "with", though no 20 ms frame holds both)."""
    return float(max(0.0, min(a.end, b.end) - max(a.onset, b.onset)))
