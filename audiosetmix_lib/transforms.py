"""Per-event transforms: `sample(rng, config) -> params` and a pure `apply(samples, sr, params)`.

Params are plain JSON and complete, so a recipe re-renders bit for bit. Pitch and speed use
Signalsmith Stretch (the engine audiomentations' PitchShift/TimeStretch use), driven with the
recipe's values instead of audiomentations' global random draws.
"""

from __future__ import annotations

import numpy as np

from .config import MixConfig

TRANSFORM_NAMES = ("volume", "pitch", "speed", "duration")
DIRECTIONS = ("up", "down")

# (transform, direction) -> the modifier name stored in the `modifiers` column
MODIFIER_NAMES = {
    ("volume", "up"): "louder",
    ("volume", "down"): "quieter",
    ("pitch", "up"): "higher-pitched",
    ("pitch", "down"): "lower-pitched",
    ("speed", "up"): "faster",
    ("speed", "down"): "slower",
    ("duration", "up"): "longer",
    ("duration", "down"): "shorter",
}


def _uniform(rng: np.random.Generator, bounds: tuple[float, float], digits: int = 3) -> float:
    return round(float(rng.uniform(bounds[0], bounds[1])), digits)


def sample_params(name: str, rng: np.random.Generator, config: MixConfig) -> dict:
    """Draw one transform's direction and amount from the config's ranges."""
    direction = DIRECTIONS[int(rng.integers(2))]
    up = direction == "up"
    if name == "volume":
        return {"direction": direction, "gain_db": _uniform(rng, config.louder_db if up else config.quieter_db, 2)}
    if name == "pitch":
        return {"direction": direction, "semitones": _uniform(rng, config.higher_semitones if up else config.lower_semitones, 2)}
    if name == "speed":
        return {"direction": direction, "tempo": _uniform(rng, config.faster_tempo if up else config.slower_tempo)}
    if name == "duration":
        if up:
            return {"direction": "up", "repeats": _uniform(rng, config.longer_repeats)}
        return {"direction": "down", "keep": _uniform(rng, config.shorter_keep)}
    raise ValueError(f"unknown transform {name!r}")


def duration_factor(transforms: dict) -> float:
    """Output length / input length of the duration transform."""
    params = transforms.get("duration")
    if not params:
        return 1.0
    return params["repeats"] if params["direction"] == "up" else params["keep"]


def tempo_of(transforms: dict) -> float:
    return transforms["speed"]["tempo"] if "speed" in transforms else 1.0


def db_to_gain(db: float) -> float:
    return float(10 ** (db / 20))


def apply_gain(samples: np.ndarray, gain_db: float) -> np.ndarray:
    return (samples * db_to_gain(gain_db)).astype(np.float32)


def stretch(samples: np.ndarray, sr: int, semitones: float = 0.0, tempo: float = 1.0) -> np.ndarray:
    """Pitch shift (duration kept) and time stretch (pitch kept) in one Signalsmith pass."""
    if semitones == 0.0 and tempo == 1.0:
        return samples
    import python_stretch

    engine = python_stretch.Signalsmith.Stretch()
    engine.preset(1, sr)
    engine.setTimeFactor(float(tempo))
    engine.setTransposeSemitones(float(semitones))
    out = engine.process(np.ascontiguousarray(samples, dtype=np.float32)[np.newaxis, :])
    return out[0].astype(np.float32)


def fade(samples: np.ndarray, sr: int, seconds: float, fade_in: bool = True, fade_out: bool = True) -> np.ndarray:
    """Short linear fades so cut segments and loop seams do not click."""
    n = min(len(samples) // 2, int(round(seconds * sr)))
    out = samples.astype(np.float32, copy=True)
    if n > 0:
        ramp = np.linspace(0.0, 1.0, n, endpoint=False, dtype=np.float32)
        if fade_in:
            out[:n] *= ramp
        if fade_out:
            out[-n:] *= ramp[::-1]
    return out


def apply_duration(samples: np.ndarray, sr: int, params: dict, fade_seconds: float) -> np.ndarray:
    """Keep the first `keep` fraction (fade out), or loop to `repeats` times the length."""
    if params["direction"] == "down":
        n = max(1, int(round(len(samples) * params["keep"])))
        return fade(samples[:n], sr, fade_seconds)
    n = int(round(len(samples) * params["repeats"]))
    unit = fade(samples, sr, fade_seconds)
    reps = int(np.ceil(n / max(1, len(unit))))
    return fade(np.tile(unit, reps)[:n], sr, fade_seconds, fade_in=False)


def apply_transforms(samples: np.ndarray, sr: int, transforms: dict, fade_seconds: float) -> np.ndarray:
    """Pitch+speed (one pass), duration, then gain. Pure: params in, samples out.

    A shortened event is cut before stretching (stretching the discarded part is wasted
    work); a lengthened one is stretched once and then looped.
    """
    semitones = transforms.get("pitch", {}).get("semitones", 0.0)
    duration = transforms.get("duration")
    out = samples
    if duration and duration["direction"] == "down":
        out = out[: max(1, int(round(len(out) * duration["keep"])))]
    out = stretch(out, sr, semitones=semitones, tempo=tempo_of(transforms))
    if duration and duration["direction"] == "down":
        out = fade(out, sr, fade_seconds)
    elif duration:
        out = apply_duration(out, sr, duration, fade_seconds)
    if "volume" in transforms:
        out = apply_gain(out, transforms["volume"]["gain_db"])
    return out
