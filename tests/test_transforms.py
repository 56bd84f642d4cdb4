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


# ---------------------------------------------------------------- the registry and each transform module


def band_energy(x: np.ndarray, sr: int, low: float, high: float) -> float:
    """Energy of x between low and high Hz (the test's own FFT, independent of the code).

    A Hann window keeps the strong pass band from leaking into the band measured (a rectangular
    window's side lobes would cap any filter at ~15 dB here).
    """
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64) * np.hanning(len(x)))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1.0 / sr)
    return float(spectrum[(freqs >= low) & (freqs < high)].sum())


def power_quantile(x: np.ndarray, sr: int, q: float) -> float:
    """The frequency below which the share q of x's power lies (the test's own FFT)."""
    power = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    cumulative = np.cumsum(power) / power.sum()
    return float(np.fft.rfftfreq(len(x), 1.0 / sr)[np.argmax(cumulative >= q)])


def centroid(x: np.ndarray, sr: int) -> float:
    magnitude = np.abs(np.fft.rfft(x.astype(np.float64)))
    return float((np.fft.rfftfreq(len(x), 1.0 / sr) * magnitude).sum() / magnitude.sum())


@pytest.fixture(scope="module")
def synth_pool():
    from audiosetmix_lib.sources import EventPool, make_source

    source = make_source("synth")
    pool = EventPool(source.events())
    return source, {label: events[0] for split in pool.by_split.values() for label, events in sorted(split.items())}


def one_event_recipe(source, event, transforms):
    from audiosetmix_lib.recipe import EventSpec, Recipe
    from audiosetmix_lib.relations import layout
    from audiosetmix_lib.sampler import describe_settings, render_settings

    spec = EventSpec(event=event, segment_start=0.0, segment_duration=event.duration, transforms=transforms)
    return Recipe(split="train", index=0, seed=0, sample_rate=SR, source=source.spec(), events=layout([spec]),
                  render=render_settings(MixConfig()), describe=describe_settings(MixConfig()))


@pytest.mark.parametrize("direction, share", [("down", 0.2), ("down", 0.4), ("up", 0.2), ("up", 0.4)])
def test_filter_removes_at_least_10_db_beyond_the_cutoff_on_every_synth_class(synth_pool, direction, share):
    source, events = synth_pool
    assert len(events) == 12
    measured = 0
    for label, event in events.items():
        plain = render(one_event_recipe(source, event, {}), source)
        filtered = render(one_event_recipe(source, event, {"filter": {"direction": direction, "share": share, "order": 8}}), source)
        params = filtered.events[0].transforms["filter"]
        # the stored cut-off is where the event's power reaches the share (from the top for a high-pass)
        expected = min(max(power_quantile(plain.samples, SR, share if direction == "down" else 1 - share), 20.0), 0.45 * SR)
        assert params["cutoff_hz"] == pytest.approx(expected, rel=0.02, abs=2.0), label
        cut = params["cutoff_hz"]
        # the stop band an octave past the cut-off (the transition band of any real filter lies between)
        band = (min(2 * cut, SR / 2 - 1), SR / 2) if direction == "down" else (0.0, cut / 2)
        # shares of each signal's own energy: the filter keeps the level, so the band's share is what drops
        plain_total, filtered_total = band_energy(plain.samples, SR, 0, SR / 2), band_energy(filtered.samples, SR, 0, SR / 2)
        before = band_energy(plain.samples, SR, *band) / plain_total
        after = band_energy(filtered.samples, SR, *band) / filtered_total
        if before >= 1e-4:  # a near-pure tone has no power an octave away: nothing there to remove
            measured += 1
            assert 10 * np.log10(before / after) >= 10.0, (label, direction, share, cut, 10 * np.log10(before / after))
        # and the other side of the cut-off is mostly kept (the change is a filter, not a mute)
        other = (0.0, cut / 2) if direction == "down" else (min(2 * cut, SR / 2 - 1), SR / 2)
        if band_energy(plain.samples, SR, *other) > 1e-3 * plain_total:
            kept = (band_energy(filtered.samples, SR, *other) / filtered_total) / (band_energy(plain.samples, SR, *other) / plain_total)
            assert kept > 0.5, (label, direction, kept)
        # timbre, not loudness: the filtered event is as loud as the plain one (RMS within 1 dB)
        rms = lambda x: float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))  # noqa: E731
        assert abs(20 * np.log10(rms(filtered.samples) / rms(plain.samples))) < 1.0, (label, direction, share)
    assert measured >= 7  # near-pure tones (beep, whistle, bird) have no power an octave away to remove


def test_a_stored_filter_recipe_re_renders_exactly(synth_pool):
    from dataclasses import replace

    from audiosetmix_lib.recipe import Recipe

    source, events = synth_pool
    recipe = one_event_recipe(source, events["Siren"], {"filter": {"direction": "down", "share": 0.3, "order": 8}})
    first = render(recipe, source)
    stored = Recipe.from_json(replace(recipe, events=first.events).to_json())
    assert "cutoff_hz" in stored.events[0].transforms["filter"]
    assert np.array_equal(render(stored, source).samples, first.samples)


def measure(name: str, x: np.ndarray) -> float:
    """A number that grows with the transform's 'up' direction, measured on rendered audio."""
    if name == "volume":
        return active_rms_db(x, SR)
    if name == "pitch":
        return dominant_frequency(x[len(x) // 4 : 3 * len(x) // 4])
    if name == "speed":
        return -len(x) / SR  # faster -> shorter
    if name == "duration":
        return len(x) / SR
    if name == "filter":
        return centroid(x, SR)
    raise AssertionError(f"no measurement for {name}: add one with the new transform")


def test_every_transform_moves_its_measure_in_its_direction_and_flip_reverses_it():
    from audiosetmix_lib.transforms import TRANSFORMS, default_settings, flip

    noise_tone = tone(440.0, 2.0) + 0.05 * np.random.default_rng(0).standard_normal(2 * SR).astype(np.float32)
    src = ArraySource({"x": noise_tone.astype(np.float32)})
    base = {name: measure(name, mix(src, [("x", {}, None)])) for name in TRANSFORMS}
    settings = default_settings()
    rng = np.random.default_rng(1)
    for name, module in TRANSFORMS.items():
        seen = set()
        for _ in range(40):
            params = module.sample(rng, settings[name])
            seen.add(params["direction"])
            if len(seen) == 2:
                break
        assert seen == {"up", "down"}, name
        for direction in ("up", "down"):
            params = next(p for p in (module.sample(np.random.default_rng(s), settings[name]) for s in range(50))
                          if p["direction"] == direction)
            flipped = flip(name, params)
            assert flipped["direction"] != direction
            a = measure(name, mix(src, [("x", {name: params}, None)]))
            b = measure(name, mix(src, [("x", {name: flipped}, None)]))
            sign = 1 if direction == "up" else -1
            assert sign * (a - base[name]) > 0, (name, direction, a, base[name])
            assert sign * (b - base[name]) < 0, (name, "flip of", direction, b, base[name])


def test_registry_invariants():
    from audiosetmix_lib.captions.validate import term_variants
    from audiosetmix_lib.relations import FOLLOW_WORDS, OVERLAP_WORDS
    from audiosetmix_lib.transforms import DIRECTIONS, MODIFIER_NAMES, TRANSFORM_NAMES, TRANSFORMS, default_settings, words

    assert tuple(TRANSFORM_NAMES) == ("volume", "pitch", "speed", "duration", "filter")
    assert len(set(MODIFIER_NAMES.values())) == len(MODIFIER_NAMES) == 2 * len(TRANSFORMS)
    owners = {}
    for name, module in TRANSFORMS.items():
        assert module.NAME == name and set(module.WORDS) == set(DIRECTIONS) == set(module.MODIFIERS)
        assert default_settings()[name].probability == 0.3
        assert module.STAGE in ("stretch", "length", "spectral", "gain"), name
        for direction in DIRECTIONS:
            w = words((name, direction))
            assert w.adj, (name, direction)  # every modifier can be said as an adjective
            for word in w.all:
                for term in term_variants(word):
                    assert owners.setdefault(term, (name, direction)) == (name, direction), (word, owners[term])
    # no single modifier word is also a relation word
    single = {t[0] for t in owners if len(t) == 1}
    assert not single & set(FOLLOW_WORDS) and not single & set(OVERLAP_WORDS)


def test_each_modifier_word_is_written_in_one_python_module():
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parent.parent
    files = [p for d in ("audiosetmix_lib", "eval") for p in (root / d).rglob("*.py")]
    for word in ("high-pitched", "muffled", "tinny", "loudly", "briefly"):
        holders = [p for p in files if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", p.read_text(encoding="utf-8"))]
        assert len(holders) == 1, (word, holders)
