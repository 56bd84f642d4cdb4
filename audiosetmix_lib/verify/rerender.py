"""The stored audio against the re-render of its recipe, PCM sample for sample.

A row's claims are measured on the re-render; this check is what makes that a measurement of the
audio a user downloads (a swapped, re-encoded or stale clip differs here).
"""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

from .claims import Claim


def stored_pcm(flac: bytes) -> tuple[np.ndarray, int]:
    """The 16-bit integers a stored clip holds (mono), and its rate."""
    samples, sr = sf.read(io.BytesIO(flac), dtype="int16", always_2d=True)
    return samples[:, 0], int(sr)


def rerender_claim(clip: str, flac: bytes, pcm: np.ndarray, sample_rate: int, note: str = "") -> Claim:
    """Passes when the stored clip and the re-render have the same rate, length and every sample. `note`: why
    they may differ (the recipe was built with other versions of what shapes the samples)."""
    stored, sr = stored_pcm(flac)
    if sr != sample_rate or len(stored) != len(pcm):
        what = f"{len(stored)} samples at {sr} Hz stored, {len(pcm)} at {sample_rate} Hz re-rendered{note}"
        return Claim(clip, "rerender", clip, f"stored audio = re-render of its recipe ({what})", float(abs(len(stored) - len(pcm)) or 1),
                     0.0, "samples differing", False)
    differing = int(np.count_nonzero(stored != pcm))
    return Claim(clip, "rerender", clip, f"stored audio = re-render of its recipe (16-bit PCM{note})", float(differing), 0.0,
                 "samples differing", differing == 0)
