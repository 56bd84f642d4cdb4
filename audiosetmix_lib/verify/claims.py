"""A clip's claims, each measured from its sound: presence, audibility in the mix, modifiers, order, relations.

What is claimed comes from the recipe (its events, their transforms and relations, its description
settings); whether it holds is measured on the renders (`renders.ClipRenders`). Nothing here reads
the describe or template modules, so a caption's wording cannot vouch for itself.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache

import numpy as np
import scipy.fft
from scipy.signal import butter, sosfilt

from ..recipe import Recipe
from ..relations import in_background
from ..sources.base import Source
from ..transforms import TRANSFORMS
from ..transforms.measure import active_rms_db
from .envelope import envelope, together_seconds
from .renders import ClipRenders, placement_key, remembered, without_transform

OVERLAP_MIN_S = 0.1  # "while": both events active together at least this long
FOLLOW_TOLERANCE_S = 0.05  # "then": the later event may start this much before the earlier one's tail is down
ORDER_MIN_S = 0.1  # "A, then B": B's onset at least this long after A's
PRESENCE_BELOW_REFERENCE_DB = 30.0  # an event's heard level is at most this far under the recipe's reference
# level: 12 dB under the quietest the default sampler draws (a volume change of -18 dB), room for a bass-heavy
# sound whose rumble under 50 Hz counted in its level (a quiet synth engine hears at -52 dBFS)
AUDIBLE_MIN_SHARE = 0.1  # share of an event's energy in time-frequency cells where it is louder than the rest
AUDIBLE_FRAME_S = 0.032  # frames of those cells
AUDIBLE_LOW_HZ = 50.0  # energy below this does not count as heard
BACKGROUND_MIN_DB = 3.0  # "in the background": at least this much quieter than the event it overlaps (measured)


@dataclass(frozen=True)
class Claim:
    """One claim of one clip, with what was measured and the threshold it had to meet."""

    clip: str  # "row", or "negative K (kind)"
    kind: str  # presence | audible | modifier | order | follow | overlap | background | rerender | caption | wording
    subject: str  # "event 1 (Dog)", or the clip
    claim: str
    measured: float
    threshold: float
    unit: str
    passed: bool
    key: str = ""  # modifiers: "transform:direction"

    def to_dict(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self)}  # asdict's deep copies are a tenth of a run
        for name in ("measured", "threshold"):  # JSON has no NaN or infinity
            value = float(getattr(self, name))
            data[name] = round(value, 4) if np.isfinite(value) else None
        return data


def subject(recipe: Recipe, i: int) -> str:
    return f"event {i} ({recipe.events[i].label})"


def spectra(samples: np.ndarray, sr: int) -> np.ndarray:
    """Hann-windowed spectra of consecutive 32 ms frames (frames x bins): linear in the signal, so the spectra
    of the other events are the clip's minus the event's."""
    frame = max(64, int(round(AUDIBLE_FRAME_S * sr)))
    n = len(samples) // frame * frame
    frames = samples[:n].astype(np.float32).reshape(-1, frame) * np.hanning(frame).astype(np.float32)
    return scipy.fft.rfft(frames, axis=1)


def audible_shares(alone: list[np.ndarray], sr: int) -> list[float]:
    """Per event: the share of its heard energy (cells at AUDIBLE_LOW_HZ and above) in the time-frequency cells
    where it is louder than all the other events together: 1.0 unmasked, 0.0 buried (1.0 for a clip's only
    event)."""
    each = [spectra(x, sr) for x in alone]
    total = np.sum(each, axis=0)
    low = int(np.searchsorted(np.fft.rfftfreq(2 * (total.shape[1] - 1), 1.0 / sr), AUDIBLE_LOW_HZ))
    shares = []
    for spectrum in each:
        power = np.abs(spectrum[:, low:]) ** 2
        rest = np.abs(total[:, low:] - spectrum[:, low:]) ** 2
        energy = power.sum()
        shares.append(float(power[power > rest].sum() / energy) if energy > 0 else 0.0)
    return shares


def heard_level_db(samples: np.ndarray, sr: int) -> float:
    """The renderer's level (active RMS) of what is heard: the event above AUDIBLE_LOW_HZ (a recording's rumble,
    or an event low-passed into it, is energy nobody hears)."""
    sounding = np.flatnonzero(samples)
    if not len(sounding):
        return -np.inf
    part = samples[sounding[0]: sounding[-1] + 1 + int(sr * 0.1)]  # and the filter's ring after it
    return active_rms_db(sosfilt(_highpass(sr), part.astype(np.float64)), sr)


@lru_cache(maxsize=8)
def _highpass(sr: int) -> np.ndarray:
    return butter(4, AUDIBLE_LOW_HZ, btype="highpass", fs=sr, output="sos")


def event_claims(clip: str, renders: ClipRenders) -> list[Claim]:
    """Presence of each event alone, and its audibility against the sum of the others."""
    recipe, sr = renders.recipe, renders.recipe.sample_rate
    out = []
    for i, (alone, share) in enumerate(zip(renders.alone, audible_shares(renders.alone, sr), strict=True)):
        level = heard_level_db(alone, sr)
        floor = recipe.render["reference_dbfs"] - PRESENCE_BELOW_REFERENCE_DB
        out.append(Claim(clip, "presence", subject(recipe, i), "the event sounds in the clip", level, floor, "dBFS",
                         bool(level >= floor)))
        out.append(Claim(clip, "audible", subject(recipe, i), "audible in the mix, not masked by the others", share,
                         AUDIBLE_MIN_SHARE, "energy share", share >= AUDIBLE_MIN_SHARE))
    return out


def overlap_needed(a, b) -> float:
    """OVERLAP_MIN_S, or the whole of the shorter event when it is shorter than that (one tick inside a knocking)."""
    shortest = min(a.end - a.onset, b.end - b.onset)  # -inf for a silent event: it overlaps nothing
    return min(OVERLAP_MIN_S, shortest) if np.isfinite(shortest) else OVERLAP_MIN_S


def relation_claims(clip: str, renders: ClipRenders) -> list[Claim]:
    """Order, follow, overlap and background of each event against the one before it, from envelopes."""
    recipe, sr = renders.recipe, renders.recipe.sample_rate
    envs = [envelope(x, sr) for x in renders.alone]
    background_db = recipe.describe["background_db"]
    out = []
    for i in range(1, len(recipe.events)):
        spec, prev, env, earlier = recipe.events[i], recipe.events[i - 1], envs[i], envs[i - 1]
        who = f"{subject(recipe, i - 1)} -> {subject(recipe, i)}"
        if spec.relation == "overlap":
            together, needed = together_seconds(earlier, env), overlap_needed(earlier, env)
            out.append(Claim(clip, "overlap", who, "both active together", together, needed, "s", together >= needed - 1e-9))
            if in_background(spec, prev, background_db):
                lower = active_rms_db(renders.alone[i - 1], sr) - active_rms_db(renders.alone[i], sr)
                out.append(Claim(clip, "background", who, "the later event is quieter than the one it overlaps", lower,
                                 BACKGROUND_MIN_DB, "dB", lower >= BACKGROUND_MIN_DB))
            continue
        lead = env.onset - earlier.onset
        out.append(Claim(clip, "order", who, "the later event starts after the earlier one", lead, ORDER_MIN_S, "s",
                         lead >= ORDER_MIN_S))
        gap = env.onset - earlier.end
        out.append(Claim(clip, "follow", who, "starts after the earlier one's tail fell 30 dB under its peak", gap,
                         -FOLLOW_TOLERANCE_S, "s", gap >= -FOLLOW_TOLERANCE_S))
    return out


def modifier_claims(clip: str, renders: ClipRenders, source: Source, memo: dict) -> list[Claim]:
    """Each transform of each event, measured by the transform's own `check` on the event alone without / with it."""
    recipe, sr = renders.recipe, renders.recipe.sample_rate
    out = []
    for i, spec in enumerate(recipe.events):
        for name, params in sorted(spec.transforms.items()):
            key = f"{name}:{params['direction']}"
            module = TRANSFORMS.get(name)
            measure = getattr(module, "check", None)
            if measure is None:
                out.append(Claim(clip, "modifier", subject(recipe, i), f"{key}: the transform brings no measurement",
                                 np.nan, np.nan, "", False, key))
                continue
            result = remembered(memo, ("check", placement_key(recipe, i), name),
                                lambda i=i, name=name, measure=measure, params=params:
                                measure(*without_transform(recipe, i, name, source, memo), sr, params))
            out.append(Claim(clip, "modifier", subject(recipe, i), f"{key}: {result.claim}", float(result.measured),
                             float(result.threshold), result.unit, bool(result.passed), key))
    return out


def clip_claims(clip: str, renders: ClipRenders, source: Source, memo: dict) -> list[Claim]:
    return (event_claims(clip, renders) + relation_claims(clip, renders)
            + modifier_claims(clip, renders, source, memo))
