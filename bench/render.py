"""Rendered examples per second: the AudioSetMix renderer vs a naive audiomentations baseline.

Both render the same recipes of the default config (synth-small, 16 kHz) in this one run,
from the same pre-loaded events; the baseline builds an audiomentations `Compose` per event
(Gain, PitchShift, TimeStretch with the recipe's values frozen in) and applies the duration
transform with numpy. Prints both rates and their ratio.

    python bench/render.py [--n 60] [--sample_rate 16000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from tqdm import tqdm

from audiosetmix_lib.config import MixConfig
from audiosetmix_lib.render import limit, render, to_reference_level
from audiosetmix_lib.sampler import sample_recipe
from audiosetmix_lib.sources import EventPool, make_source
from audiosetmix_lib.transforms import TRANSFORMS as transform_modules
from audiosetmix_lib.transforms import fade


def naive_render(recipe, source):
    """Same recipe, one audiomentations Compose per event (separate pitch and time passes)."""
    from audiomentations import Compose, Gain, PitchShift, TimeStretch

    sr = recipe.sample_rate
    settings = recipe.render
    parts = []
    for spec in recipe.events:
        raw = source.load(spec.event, sr)
        begin, end = spec.segment_bounds(sr)
        segment = raw[begin:end]
        if begin > 0 or end < len(raw):
            segment = fade(segment, sr, settings["fade_seconds"])
        segment = to_reference_level(segment, sr, settings["reference_dbfs"], settings["active_range_db"])
        t = spec.transforms
        pitch = PitchShift(p=1.0)
        pitch.parameters = {"should_apply": "pitch" in t, "num_semitones": t.get("pitch", {}).get("semitones", 0.0)}
        stretch = TimeStretch(p=1.0, leave_length_unchanged=False)
        stretch.parameters = {"should_apply": "speed" in t, "rate": t.get("speed", {}).get("tempo", 1.0)}
        gain = Gain(p=1.0)
        gain.parameters = {"should_apply": "volume" in t, "amplitude_ratio": 10 ** (t.get("volume", {}).get("gain_db", 0.0) / 20)}
        compose = Compose([pitch, stretch, gain], p=1.0)
        compose.freeze_parameters()
        for transform in (pitch, stretch, gain):
            transform.freeze_parameters()
        audio = compose(segment.astype(np.float32), sr)
        if "filter" in t:  # the same scipy filter (linear, so its place after the gain does not matter)
            audio = transform_modules["filter"].apply(audio, sr, t["filter"])
        if "duration" in t:
            audio = transform_modules["duration"].apply(audio, sr, t["duration"], settings["fade_seconds"])
        parts.append((int(round(spec.onset * sr)), audio))
    length = min(int(round(settings["max_duration"] * sr)), max(o + len(a) for o, a in parts))
    mix = np.zeros(length, dtype=np.float32)
    for onset, audio in parts:
        stop = min(length, onset + len(audio))
        mix[onset:stop] += audio[: stop - onset]
    return limit(mix, sr, settings["limiter_threshold_dbfs"])[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=60, help="recipes per measurement")
    parser.add_argument("--sample_rate", type=int, default=16000)
    parser.add_argument("--repeats", type=int, default=3, help="alternating measurements of each; the best is kept")
    args = parser.parse_args()

    source = make_source("synth")
    source._cache_size = 10_000  # pre-load every event once: measure rendering, not synthesis
    pool = EventPool(source.events())
    recipes = [sample_recipe(pool, MixConfig(), 0, "train", i, args.sample_rate, source.spec()) for i in range(args.n)]
    for recipe in tqdm(recipes, desc="pre-loading events"):
        for spec in recipe.events:
            source.load(spec.event, args.sample_rate)

    same = [np.max(np.abs(render(r, source).samples - naive_render(r, source))) for r in recipes[:10]]
    print(f"max |ours - baseline| over 10 recipes: {max(same):.4f} (both Signalsmith; ours does pitch+speed in one pass)")
    rates = {"audiosetmix": [], "naive audiomentations": []}
    for _ in range(args.repeats):
        for name, fn in (("audiosetmix", render), ("naive audiomentations", naive_render)):
            start = time.perf_counter()
            for recipe in recipes:
                fn(recipe, source)
            rates[name].append(len(recipes) / (time.perf_counter() - start))
    ours, base = max(rates["audiosetmix"]), max(rates["naive audiomentations"])
    print(f"recipes: {args.n} at {args.sample_rate} Hz, mean {np.mean([r.duration for r in recipes]):.2f} s of audio each")
    print(f"audiosetmix renderer:  {ours:8.1f} examples/s")
    print(f"naive audiomentations: {base:8.1f} examples/s")
    print(f"ratio (ours / baseline): {ours / base:.2f}x")


if __name__ == "__main__":
    main()
