"""Any clip -> what an unfused CLAP model hears: mono, 48 kHz, 10 s, cropped centrally or zero-padded
at the end (never repeat-padded, so "A then B" stays "A then B")."""

from __future__ import annotations

import numpy as np

from ..audio_io import read_audio, read_audio_bytes, resample

TARGET_SR = 48000
CLIP_SECONDS = 10.0


def decode_audio(cell) -> tuple[np.ndarray, int]:
    """A `datasets` Audio cell (decode=False: {bytes, path}, or decoded {array, sampling_rate}) -> mono float32, rate."""

    if isinstance(cell, dict) and cell.get("bytes"):
        return read_audio_bytes(cell["bytes"])
    if isinstance(cell, dict) and cell.get("path"):
        return read_audio(cell["path"])
    if isinstance(cell, dict) and cell.get("array") is not None:
        samples = np.asarray(cell["array"], dtype=np.float32)
        return (samples.mean(axis=0) if samples.ndim == 2 else samples), int(cell["sampling_rate"])
    if isinstance(cell, str):
        return read_audio(cell)
    raise ValueError(f"cannot decode audio cell of type {type(cell).__name__}")


def fit_clip(samples: np.ndarray, sr: int, target_sr: int = TARGET_SR, seconds: float = CLIP_SECONDS) -> np.ndarray:
    """Resample to `target_sr`, then crop the central `seconds` or zero-pad at the end (no repeat-padding)."""

    samples = resample(np.asarray(samples, dtype=np.float32), int(sr), target_sr)
    n = int(round(seconds * target_sr))
    if len(samples) > n:
        start = (len(samples) - n) // 2
        return samples[start:start + n]
    return np.pad(samples, (0, n - len(samples)))


def rate_note(model_rate: int, dataset_rate: int | None, dataset: str) -> str:
    """Say which rate the model expects and what happens to the dataset's audio (every clip goes through `fit_clip`)."""
    have = f"{dataset_rate} Hz" if dataset_rate else "stored at its files' own rates"
    action = "no resampling needed" if dataset_rate == model_rate else f"every clip is resampled to {model_rate} Hz (soxr)"
    return f"[eval] the model expects {model_rate} Hz audio; {dataset} is {have}: {action}"
