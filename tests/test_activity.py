"""Segments are planned on where an event sounds, and relations/modifiers are drawn only where they are heard.

Oracles: signals built here with bursts at known times (their sounding frames are known by hand), and the
rendered sound of each planned event, measured with a plain frame RMS (not the planner's own code).
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import SR, ArraySource, recipe_of, tone

from audiosetmix_lib.activity import EDGE_S, active_mask, frame_seconds, looped_repeats, snap_segment
from audiosetmix_lib.config import MixConfig
from audiosetmix_lib.describe import describe
from audiosetmix_lib.render import render_event
from audiosetmix_lib.rows import RowMaker
from audiosetmix_lib.sampler import MIN_TEMPO_SPAN_S, choose_segment, heard_transforms
from audiosetmix_lib.sources.base import EventPool
from audiosetmix_lib.sources.synth import SynthSource
from audiosetmix_lib.transforms import MATERIAL_STAGES, length_factor_of

FRAME = frame_seconds(SR)


def bursts(at: list[float], seconds: float, width: float = 0.1) -> np.ndarray:
    """Tone bursts of `width` s starting at the times `at`, silence elsewhere."""
    out = np.zeros(int(seconds * SR), dtype=np.float32)
    for t in at:
        i = int(round(t * SR))
        out[i: i + int(width * SR)] = tone(800.0, width)
    return out


def snapped(signal: np.ndarray, start: float, length: float) -> tuple[float, float]:
    start, length = snap_segment(active_mask(signal, SR), FRAME, len(signal) / SR, start, length)
    return round(start, 6), round(start + length, 6)


def test_a_segment_starting_and_ending_in_silence_is_moved_onto_the_bursts():
    signal = bursts([1.0, 1.6], 3.0)  # sound in [1.0, 1.1) and [1.6, 1.7)
    assert snapped(signal, 0.5, 1.5) == (1.0 - EDGE_S, 1.7 + EDGE_S)


def test_a_segment_inside_a_gap_keeps_the_burst_before_it_never_only_silence():
    signal = bursts([0.2, 2.5], 3.0)  # the segment [1.0, 1.5) holds nothing
    start, end = snapped(signal, 1.0, 0.5)
    assert start == pytest.approx(0.2) and end <= start + 0.5 + 1e-9
    kept = signal[int(round(start * SR)): int(round(end * SR))]
    assert np.max(np.abs(kept)) > 0.1


def test_a_sound_that_never_stops_keeps_the_segment_it_was_given():
    signal = tone(300.0, 3.0)
    assert snapped(signal, 0.537, 1.25) == (0.537, 1.787)


def sounds_at_both_ends(audio: np.ndarray, edge_s: float) -> bool:
    """Within 30 dB of the loudest 20 ms frame in the first and in the last `edge_s` of the audio."""
    frame = int(0.02 * SR)
    power = np.array([np.mean(audio[i: i + frame].astype(np.float64) ** 2) for i in range(0, len(audio) - frame + 1, frame)])
    loud = power >= power.max() * 1e-3
    edge = max(1, int(edge_s / 0.02))
    return bool(loud[:edge].any() and loud[-edge:].any())


def test_every_planned_knock_and_tick_starts_and_ends_where_it_sounds():
    """Synth knocks and ticks are transients in silence: a segment chosen by its bounds started or ended in the
    silence (an overlap onset there is heard as "then"); every planned one now sounds at both ends."""
    source = SynthSource(instances_per_class=6)
    maker = RowMaker(source, EventPool(source.events()), MixConfig(), seed=0, sample_rate=SR)
    checked = 0
    for index in range(60):
        recipe = maker.recipe("train", index)
        for spec in recipe.events:
            if spec.label in ("Knock", "Tick-tock"):
                audio, _ = render_event(spec, maker.source, recipe)
                stretched = length_factor_of(spec.transforms, MATERIAL_STAGES)  # a slowed event's edges too
                assert sounds_at_both_ends(audio, (EDGE_S + 3 * FRAME) * stretched), (index, spec.label, spec.segment_start, spec.segment_duration)
                checked += 1
    assert checked >= 10


def test_a_speed_change_on_one_tick_is_left_out_and_the_event_lasts_as_long():
    signal = bursts([0.1, 1.1, 2.1], 3.0, width=0.03)
    source = ArraySource({"tick": signal})
    (spec,) = recipe_of(source, [("tick", {"speed": {"direction": "down", "tempo": 0.7}}, None)]).events
    spec = spec.__class__(**{**spec.__dict__, "segment_duration": 0.4})
    chosen = choose_segment(spec, np.random.default_rng(0), active_mask(signal, SR), FRAME)
    assert "speed" not in chosen.transforms
    assert chosen.segment_duration < MIN_TEMPO_SPAN_S  # one tick and its edges, no tempo
    assert chosen.segment_duration <= 0.4 / 0.7 + 1e-9


def test_a_cut_keeps_no_trailing_silence():
    """A cut keeping the first half of a burst, silence and a tone keeps only the burst (its share shrinks): the
    event ends where its sound ends, not 0.5 s later in silence."""
    signal = np.concatenate([bursts([0.0], 1.0, width=0.3), tone(800.0, 0.6)])  # burst [0, 0.3), tone [1.0, 1.6)
    source = ArraySource({"burst": signal})
    (spec,) = recipe_of(source, [("burst", {"duration": {"direction": "down", "keep": 0.5}}, None)]).events
    chosen = choose_segment(spec, np.random.default_rng(0), active_mask(signal, SR), FRAME)
    kept = chosen.segment_duration * chosen.transforms["duration"]["keep"]
    assert chosen.segment_start == 0.0 and 0.3 <= kept <= 0.3 + EDGE_S + 1e-3


def test_a_loop_ends_on_sound():
    """2.5 repeats of a segment that sounds for its first 0.2 s: the half repetition stops after that sound."""
    signal = np.concatenate([tone(800.0, 0.2), np.zeros(int(0.8 * SR), dtype=np.float32)])
    assert looped_repeats(active_mask(signal, SR), FRAME, 1.0, 0.0, 1.0, 2.5) == pytest.approx(2.2 + EDGE_S)
    assert looped_repeats(active_mask(signal, SR), FRAME, 1.0, 0.0, 1.0, 2.1) == pytest.approx(2.1)  # ends in the tone


def test_a_filter_and_a_cut_are_not_drawn_on_one_event():
    drawn = {"filter": {"direction": "down"}, "duration": {"direction": "down", "keep": 0.4}, "volume": {}}
    assert set(heard_transforms(drawn)) == {"filter", "volume"}
    assert heard_transforms({"duration": {"direction": "up"}}) == {"duration": {"direction": "up"}}


@pytest.mark.parametrize("moving, background", [({}, True), ({"filter": {"direction": "down", "share": 0.3}}, False),
                                                ({"speed": {"direction": "up", "tempo": 1.4}}, False)])
def test_background_is_said_only_where_the_levels_are_the_stated_ones(moving, background):
    """A filter's make-up gain and a speed change move the level heard: the stated 10 dB is no longer known."""
    source = ArraySource({"wind": tone(200.0, 3.0), "siren": tone(900.0, 3.0)})
    quiet = {"volume": {"direction": "down", "gain_db": -10.0}, **moving}
    recipe = recipe_of(source, [("wind", {}, None), ("siren", quiet, "overlap")])
    assert describe(recipe).events[1].background is background


def test_the_activity_is_measured_once_per_event():
    source = SynthSource(instances_per_class=2)
    event = EventPool(source.events()).by_split["train"]["Knock"][0]
    first = source.activity(event, SR)
    assert source.activity(event, SR) is first and not first.flags.writeable
    assert 0 < first.mean() < 1  # a knocking: sound and silence


def test_an_overlap_onto_a_short_event_starts_while_it_still_sounds():
    """At 0.45 of a 0.13 s bark a cry would sound with it for 0.07 s ("while" heard as "then"): it starts with the
    bark instead; onto a 2 s event the drawn fraction stands (0.9 s in)."""
    source = ArraySource({"bark": tone(600.0, 0.13), "cry": tone(400.0, 1.0), "rain": tone(900.0, 2.0)})
    short = recipe_of(source, [("bark", {}, None), ("cry", {}, "overlap")], overlap_at=0.45).events
    assert short[1].onset == pytest.approx(0.0)
    long = recipe_of(source, [("rain", {}, None), ("cry", {}, "overlap")], overlap_at=0.45).events
    assert long[1].onset == pytest.approx(0.9)
