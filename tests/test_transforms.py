"""Each transform moves the rendered signal in the stated direction by the stated amount (measured)."""

import numpy as np
import pytest
from helpers import SR, ArraySource, active_span, dominant_frequency, onsets, pulses, recipe_of, tone

from audiosetmix_lib.config import MixConfig
from audiosetmix_lib.render import active_rms_db, limit, render


@pytest.fixture(scope="module")
def source():
    return ArraySource({
        "tone": tone(440.0, 2.0),
        "pulses": pulses(0.4, 2.4),
        "other": tone(1500.0, 1.5),
        "quiet": tone(700.0, 2.0, amplitude=0.01),
    })


def mix(source, specs, **kw):
    return render(recipe_of(source, specs, **kw), source).samples


def test_every_event_is_brought_to_the_reference_level(source):
    for label in ("tone", "quiet", "pulses"):
        level = active_rms_db(mix(source, [(label, {}, None)]), SR)
        assert level == pytest.approx(MixConfig().reference_dbfs, abs=0.3), label


@pytest.mark.parametrize("gain_db", [9.0, -12.0])
def test_volume_changes_the_level_by_the_gain(source, gain_db):
    base = active_rms_db(mix(source, [("tone", {}, None)]), SR)
    changed = active_rms_db(mix(source, [("tone", {"volume": {"direction": "up" if gain_db > 0 else "down", "gain_db": gain_db}}, None)]), SR)
    assert changed - base == pytest.approx(gain_db, abs=0.3)


@pytest.mark.parametrize("semitones", [4.0, -5.0])
def test_pitch_shift_moves_the_frequency_and_keeps_duration(source, semitones):
    x = mix(source, [("tone", {"pitch": {"direction": "up" if semitones > 0 else "down", "semitones": semitones}}, None)])
    core = x[int(0.3 * SR) : int(1.7 * SR)]
    assert dominant_frequency(core) == pytest.approx(440.0 * 2 ** (semitones / 12), rel=0.01)
    assert len(x) / SR == pytest.approx(2.0, abs=0.01)


@pytest.mark.parametrize("tempo", [1.5, 0.7])
def test_speed_changes_timing_and_keeps_pitch(source, tempo):
    x = mix(source, [("pulses", {"speed": {"direction": "up" if tempo > 1 else "down", "tempo": tempo}}, None)])
    assert len(x) / SR == pytest.approx(2.4 / tempo, rel=0.01)
    period = np.median(np.diff(onsets(x, threshold=0.3)))  # stretching smears the quiet tails
    assert period == pytest.approx(0.4 / tempo, rel=0.08)
    y = mix(source, [("tone", {"speed": {"direction": "up" if tempo > 1 else "down", "tempo": tempo}}, None)])
    assert dominant_frequency(y[len(y) // 4 : 3 * len(y) // 4]) == pytest.approx(440.0, rel=0.01)


def test_duration_shorter_keeps_a_fraction_and_longer_loops(source):
    short = mix(source, [("pulses", {"duration": {"direction": "down", "keep": 0.4}}, None)])
    assert len(short) / SR == pytest.approx(0.4 * 2.4, abs=0.01)
    long = mix(source, [("pulses", {"duration": {"direction": "up", "repeats": 2.5}}, None)])
    assert len(long) / SR == pytest.approx(2.5 * 2.4, abs=0.01)
    # the loop repeats the material: pulse onsets continue at the same period
    assert len(onsets(long)) >= 2.5 * len(onsets(mix(source, [("pulses", {}, None)]))) - 2


def test_follow_places_the_next_event_after_a_gap(source):
    x = mix(source, [("tone", {}, None), ("other", {}, "follow")], gap=0.3)
    first = x[: int(2.0 * SR)]
    assert dominant_frequency(first) == pytest.approx(440.0, rel=0.01)
    gap = x[int(2.02 * SR) : int(2.28 * SR)]
    assert np.abs(gap).max() < 1e-4  # silence between the two events
    start, end = active_span(x[int(2.0 * SR):])
    assert 2.0 + start == pytest.approx(2.3, abs=0.02)
    assert len(x) / SR == pytest.approx(2.3 + 1.5, abs=0.01)


def test_overlap_starts_inside_the_previous_event(source):
    x = mix(source, [("tone", {}, None), ("other", {}, "overlap")], overlap_at=0.4)
    assert len(x) / SR == pytest.approx(0.8 + 1.5, abs=0.01)
    window = x[int(1.0 * SR) : int(1.8 * SR)]  # both sound here
    spectrum = np.abs(np.fft.rfft(window))
    freqs = np.fft.rfftfreq(len(window), 1 / SR)
    near = lambda f: spectrum[np.abs(freqs - f) < 10].max()  # noqa: E731
    assert near(440) > 0.2 * spectrum.max() and near(1500) > 0.2 * spectrum.max()
    assert near(1500) / (spectrum[(freqs > 1400) & (freqs < 1600)].mean() + 1e-9) > 1
    early = x[int(0.1 * SR) : int(0.7 * SR)]
    assert dominant_frequency(early) == pytest.approx(440.0, rel=0.01)


def test_mix_is_not_normalised_and_the_limiter_only_catches_peaks(source):
    quiet_pair = mix(source, [("tone", {"volume": {"direction": "down", "gain_db": -12.0}}, None)])
    assert active_rms_db(quiet_pair, SR) == pytest.approx(-38.0, abs=0.3)  # no make-up gain
    loud = recipe_of(source, [("tone", {"volume": {"direction": "up", "gain_db": 18.0}}, None),
                              ("other", {"volume": {"direction": "up", "gain_db": 18.0}}, "overlap")])
    rendered = render(loud, source)
    assert np.abs(rendered.samples).max() <= 10 ** (-1 / 20) + 1e-6
    assert rendered.limiter_gain_reduction_db > 0
    x = (np.linspace(-0.5, 0.5, SR)).astype(np.float32)
    same, reduction = limit(x, SR, -1.0)
    assert reduction == 0.0 and np.array_equal(same, x)
