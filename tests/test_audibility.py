"""A transform that cannot be heard on an event is not drawn for it (issue 23: every caption true of
its own sound).

Oracles: each transform's `check`, which measures the claim from the rendered sound as verify does
(`before` = the event rendered alone without the transform, `after` = with all its transforms);
hand-made signals whose spectra are known (a sine has one frequency, white noise all of them); and
the binomial spread of a probability.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import SR, tone

from audiosetmix_lib.config import MixConfig
from audiosetmix_lib.render import render_event
from audiosetmix_lib.rows import RowMaker
from audiosetmix_lib.sampler import sample_recipe
from audiosetmix_lib.sources import EventPool, make_source
from audiosetmix_lib.sources.folder import FolderSource
from audiosetmix_lib.transforms import TRANSFORMS, filter, without
from audiosetmix_lib.transforms.measure import centroid_shift_semitones, event_features


def placed_pair(before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both renderings in one silent clip that holds either whole (as verify places an event)."""
    n = SR + max(len(before), len(after))
    out = np.zeros((2, n), dtype=np.float32)
    out[0, SR // 2 : SR // 2 + len(before)] = before
    out[1, SR // 2 : SR // 2 + len(after)] = after
    return out[0], out[1]


def claim_checks(recipe, source, names=None):
    """(label, Check) of every transform claim of a recipe, measured from its rendered events."""
    for spec in recipe.events:
        if names is not None and not set(spec.transforms) & set(names):
            continue
        after, resolved = render_event(spec, source, recipe)
        for name, params in resolved.transforms.items():
            if names is None or name in names:
                before, _ = render_event(replace(spec, transforms=without(resolved.transforms, name)), source, recipe)
                yield spec.label, TRANSFORMS[name].check(*placed_pair(before, after), recipe.sample_rate, params)


def test_every_filter_claim_of_seeded_synth_rows_and_their_negatives_is_heard():
    """Before the fix 47 of 280 filter claims of 300 synth rows failed (all on Beep and Whistle)."""
    source = make_source("synth")
    maker = RowMaker(source, EventPool(source.events()), MixConfig(), 0, SR)
    failed, counted, labels = [], 0, set()
    for index in range(200):
        recipe, chosen, _ = maker.plan("train", index)
        for negative in [recipe] + [n.recipe for n in chosen if n.kind in ("modifier", "event")]:
            for label, result in claim_checks(negative, source, ("filter",)):
                counted, labels = counted + 1, labels | {label}
                if not result.passed:
                    failed.append((index, label, result))
    assert counted > 150 and len(labels) >= 8, (counted, labels)
    assert failed == []
    assert not labels & {"Beep, bleep", "Whistle"}  # near-pure tones: no filter can be heard on them


@pytest.fixture(scope="module")
def sine_and_noise(tmp_path_factory) -> Path:
    """A folder of real files: pure sines (a tuning fork, a test tone) and white noises (hiss)."""
    root = tmp_path_factory.mktemp("sine_noise")
    rng = np.random.default_rng(7)
    rows = []
    for k, freq in enumerate((220.0, 440.0, 1000.0, 3150.0)):
        for label, samples in (("Sine wave", tone(freq, 2.0 + 0.25 * k, amplitude=0.4)),
                               ("Hiss", 0.1 * rng.standard_normal(int((2.0 + 0.25 * k) * SR)))):
            name = f"{label.split()[0].lower()}{k}.flac"
            sf.write(str(root / name), samples, SR)
            rows.append(f"{name},{label},rec{k}{label[0]},train\n")
    for k, freq in enumerate((330.0, 5000.0)):  # a few more classes, so rows hold several events
        sf.write(str(root / f"bell{k}.flac"), tone(freq, 1.5) + tone(2.7 * freq, 1.5, amplitude=0.1), SR)
        rows.append(f"bell{k}.flac,Bell,bell{k},train\n")
    (root / "metadata.csv").write_text("file_name,label,recording_id,split\n" + "".join(rows))
    return root


def test_a_pure_sine_never_gets_a_filter_and_noise_keeps_its_rate(sine_and_noise):
    source = FolderSource(str(sine_and_noise), split_column="split")
    pool, config = EventPool(source.events()), MixConfig()
    maker = RowMaker(source, pool, config, 3, SR)
    drawn = {label: {name: 0 for name in TRANSFORMS} | {"events": 0} for label in ("Sine wave", "Hiss")}
    for index in range(300):
        planned = sample_recipe(pool, config, 3, "train", index, SR, source.spec())
        kept = sample_recipe(pool, config, 3, "train", index, SR, source.spec(), audible=maker.audibility.audible)
        pairs = list(zip(planned.events, kept.events, strict=True))
        cut_back = False  # a cut that a dropped filter had kept out (no cut beside a filter) comes back: the plan's
        # lengths, and so its segments and onsets, may then move; the draws are the same all the same
        for before, after in pairs:
            # the same draws: only a filter on a sine is gone (and the cut it had kept out may be back)
            expected = {k: v for k, v in before.transforms.items() if not (k == "filter" and before.label == "Sine wave")}
            came_back = "duration" in after.transforms and "duration" not in before.transforms
            cut_back |= came_back
            assert {k: v for k, v in after.transforms.items() if not (came_back and k == "duration")} == expected
        for before, after in pairs:
            if not cut_back:  # nothing else moves
                assert replace(after, transforms=before.transforms) == before
            if after.label in drawn:
                drawn[after.label]["events"] += 1
                for name in after.transforms:
                    drawn[after.label][name] += 1
        _, chosen, _ = maker.plan("train", index)
        for negative in chosen:  # a negative's counterfactual clip must not filter a sine either
            assert not any("filter" in e.transforms for e in negative.recipe.events if e.label == "Sine wave"), negative.detail
    probability = config.transforms.get("filter", {}).get("probability", filter.Settings().probability)
    for label, counts in drawn.items():
        n = counts["events"]
        assert n > 100, counts
        spread = 4 * np.sqrt(probability * (1 - probability) / n)
        assert abs(counts["volume"] / n - probability) < spread, counts  # the other transforms keep their rate
        expected_filter = 0.0 if label == "Sine wave" else probability
        assert abs(counts["filter"] / n - expected_filter) < spread, (label, counts)
    assert drawn["Sine wave"]["filter"] == 0


@pytest.mark.parametrize("share", [0.2, 0.4, 0.5])
def test_the_predicted_move_is_the_filters_measured_move(share):
    """The band-spectrum prediction against the filter run on the sound and measured (independent path)."""
    rng = np.random.default_rng(0)
    t = np.arange(3 * SR) / SR
    signals = {
        "noise": 0.1 * rng.standard_normal(3 * SR),
        "chirp": 0.3 * np.sin(2 * np.pi * (300 * t + 400 * t**2)),
        "two tones": 0.3 * np.sin(2 * np.pi * 500 * t) + 0.2 * np.sin(2 * np.pi * 1500 * t),
        "sine": 0.3 * np.sin(2 * np.pi * 1234.5 * t),
    }
    for label, x in signals.items():
        features = event_features(x, SR)
        for direction in ("up", "down"):
            params = {"direction": direction, "share": share, "order": 8}
            measured = centroid_shift_semitones(x, filter.apply(x.astype(np.float32), SR, params), SR)
            predicted = filter.predicted_move(features, direction, share, 8)
            assert predicted == pytest.approx(measured, abs=0.15 + 0.1 * abs(measured)), (label, direction)
        audible = filter.audible_on(features, {"direction": "down", "share": share, "order": 8})
        assert audible == (label != "sine"), label


def test_silence_carries_no_filter():
    assert not filter.audible_on(event_features(np.zeros(SR), SR), {"direction": "up", "share": 0.3})
