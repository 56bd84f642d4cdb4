"""A spectrogram PNG with the recipe's event spans drawn under it (one lane per event, labelled)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np


def spectrogram_db(samples: np.ndarray, sample_rate: int, floor_db: float = 80.0) -> tuple[np.ndarray, float]:
    """Log-magnitude STFT (frequency x frames, dB re the loudest bin, floored) and the hop in seconds."""
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim > 1:
        samples = samples.mean(axis=-1)
    n_fft = int(2 ** round(np.log2(max(64, sample_rate * 0.032))))
    hop = n_fft // 4
    if len(samples) < n_fft:
        samples = np.pad(samples, (0, n_fft - len(samples)))
    frames = 1 + (len(samples) - n_fft) // hop
    index = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    spectrum = np.abs(np.fft.rfft(samples[index] * np.hanning(n_fft).astype(np.float32), axis=1)).T
    db = 20 * np.log10(np.maximum(spectrum, 1e-10))
    db = np.maximum(db - db.max(), -floor_db)
    return db, hop / sample_rate


def write_spectrogram(path: Path, samples: np.ndarray, sample_rate: int, events: list[dict], duration: float | None = None,
                      title: str | None = None, dpi: int = 80) -> Path:
    """`events`: dicts with number, label, onset, end, color, modifier_names (as `page.recipe_events` gives)."""
    from matplotlib.figure import Figure

    db, hop_s = spectrogram_db(samples, sample_rate)
    length = duration if duration else len(samples) / sample_rate
    lanes = max(1, len(events))
    fig = Figure(figsize=(11, 2.6 + 0.28 * lanes), dpi=dpi, layout="constrained")
    spec_ax, lane_ax = fig.subplots(2, 1, sharex=True, height_ratios=[3.2, 0.45 * lanes + 0.3])
    spec_ax.imshow(db, origin="lower", aspect="auto", cmap="magma",
                   extent=(0.0, db.shape[1] * hop_s, 0.0, sample_rate / 2000), interpolation="nearest")
    spec_ax.set_ylabel("kHz")
    spec_ax.set_xlim(0.0, max(length, 1e-3))
    if title:
        spec_ax.set_title(textwrap.fill(title, 150), fontsize=10, loc="left")
    for event in events:
        for x in (event["onset"], event["end"]):
            spec_ax.axvline(x, color=event["color"], linewidth=1.2, alpha=0.9, linestyle="--")
    for i, event in enumerate(events):
        y = lanes - 1 - i
        width = max(0.0, event["end"] - event["onset"])
        lane_ax.barh(y, width, left=event["onset"], height=0.7, color=event["color"], alpha=0.85)
        mods = ", ".join(event.get("modifier_names") or [])
        text = f"{event['number']} {event['label']}" + (f" ({mods})" if mods else "")
        # the label goes inside a wide bar, else where there is room: right of the bar, or left of it
        room_right, room_left = length - event["end"], event["onset"]
        if width > 0.45 * length or max(room_right, room_left) < 0.3 * length:
            x, ha, color = event["onset"] + 0.01 * length, "left", "white"
        elif room_right >= room_left:
            x, ha, color = event["end"] + 0.01 * length, "left", "black"
        else:
            x, ha, color = event["onset"] - 0.01 * length, "right", "black"
        lane_ax.text(x, y, text, va="center", ha=ha, fontsize=9, color=color, clip_on=True)
    lane_ax.set_ylim(-0.6, lanes - 0.4)
    lane_ax.set_yticks([])
    lane_ax.set_xlabel("time (s)")
    lane_ax.grid(axis="x", alpha=0.3)
    path = Path(path)
    fig.savefig(path)
    return path
