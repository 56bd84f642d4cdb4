"""Recipes: JSON round trip, seeded sampling, plan fitting and the realised events-per-clip distribution."""

import json
from collections import Counter

import numpy as np
import pytest

from audiosetmix_lib.config import MixConfig
from audiosetmix_lib.recipe import RECIPE_VERSION, Recipe
from audiosetmix_lib.sampler import sample_recipe
from audiosetmix_lib.sources import EventPool, make_source
from audiosetmix_lib.transforms import length_of, level_db_of, resolve_settings


@pytest.fixture(scope="module")
def synth():
    source = make_source("synth")
    return source, EventPool(source.events())


def draw(synth, index, split="train", seed=0, config=None):
    source, pool = synth
    return sample_recipe(pool, config or MixConfig(), seed, split, index, 16000, source.spec())


def test_json_round_trip_is_exact(synth):
    for i in range(30):
        recipe = draw(synth, i)
        again = Recipe.from_json(recipe.to_json())
        assert again == recipe
        assert again.to_json() == recipe.to_json()


def test_unknown_recipe_version_is_refused(synth):
    data = draw(synth, 0).to_dict()
    data["version"] = 999
    with pytest.raises(ValueError, match="version"):
        Recipe.from_dict(data)


def test_sampling_is_a_pure_function_of_seed_split_and_index(synth):
    assert draw(synth, 5) == draw(synth, 5)
    assert draw(synth, 5) != draw(synth, 6)
    assert draw(synth, 5, seed=1) != draw(synth, 5)
    assert draw(synth, 5, split="test").events[0].event.split == "test"


def test_realised_events_per_clip_follow_the_sampled_uniform_distribution(synth):
    n = 600
    counts = Counter(len(draw(synth, i).events) for i in range(n))
    assert set(counts) == {1, 2, 3, 4, 5}
    expected = n / 5
    chi2 = sum((counts[k] - expected) ** 2 / expected for k in range(1, 6))
    assert chi2 < 18.5  # p ~ 0.001 for 4 degrees of freedom


def test_plans_fit_the_budget_and_keep_every_event(synth):
    config = MixConfig()
    transformed = Counter()
    for i in range(300):
        recipe = draw(synth, i)
        assert 0 < recipe.duration <= config.max_duration + 1e-3
        labels = recipe.labels
        assert len(set(labels)) == len(labels)  # distinct classes per clip
        onsets = [e.onset for e in recipe.events]
        assert onsets == sorted(onsets)
        for e in recipe.events:
            assert 0 <= e.segment_start and e.segment_start + e.segment_duration <= e.event.duration + 1e-6
            assert length_of(e) > 0.1
            transformed.update(list(e.transforms))
    events = sum(len(draw(synth, i).events) for i in range(300))
    for name in ("volume", "pitch", "speed", "filter"):  # Bernoulli p = 0.3 per transform
        assert transformed[name] / events == pytest.approx(0.3, abs=0.06)
    # a cut or loop is left out beside a filter (sampler.heard_transforms): p = 0.3 * (1 - 0.3)
    assert transformed["duration"] / events == pytest.approx(0.21, abs=0.05)


def test_config_ranges_are_respected_and_validated(synth):
    for i in range(200):
        for e in draw(synth, i).events:
            t = e.transforms
            if "volume" in t:
                g = t["volume"]["gain_db"]
                assert 6 <= g <= 12 or -18 <= g <= -6
            if "pitch" in t:
                assert 3 <= abs(t["pitch"]["semitones"]) <= 6
            if "speed" in t:
                assert 1.3 <= t["speed"]["tempo"] <= 1.6 or 0.6 <= t["speed"]["tempo"] <= 0.77
            if "filter" in t:
                assert 0.2 <= t["filter"]["share"] <= 0.4
    with pytest.raises(ValueError, match=r"within \[2, 6\]"):  # half an octave at most
        resolve_settings({"pitch": {"up": [3.0, 9.0]}})
    with pytest.raises(ValueError, match="range"):
        resolve_settings({"volume": {"up": [12.0, 6.0]}})
    with pytest.raises(ValueError, match="unknown"):
        MixConfig.from_dict({"volume_please": 1})
    with pytest.raises(ValueError, match="unknown settings for transform 'pitch'"):
        resolve_settings({"pitch": {"semitones": [1, 2]}})
    with pytest.raises(ValueError, match="unknown transforms"):
        resolve_settings({"reverb": {}})
    with pytest.raises(ValueError, match=r'louder_db -> "transforms": \{"volume": \{"up"'):
        MixConfig.from_dict({"louder_db": [6, 12]})


def test_transform_overrides_change_sampling(synth):
    only_filter = MixConfig(transforms={"volume": {"probability": 0}, "pitch": {"probability": 0}, "speed": {"probability": 0},
                                        "duration": {"probability": 0}, "filter": {"probability": 1.0, "down": [0.3, 0.3]}})
    for i in range(20):
        for e in draw(synth, i, config=only_filter).events:
            assert set(e.transforms) == {"filter"}
            if e.transforms["filter"]["direction"] == "down":
                assert e.transforms["filter"]["share"] == 0.3


def test_recipe_v3_stores_describe_settings_versions_and_event_ends(synth):
    recipe = draw(synth, 3, config=MixConfig(background_db=9.0))
    data = recipe.to_dict()
    assert data["version"] == RECIPE_VERSION == 3
    assert data["describe"] == {"background_db": 9.0}
    assert set(data["versions"]) == {"audiosetmix", "render", "python-stretch", "soxr", "numpy", "scipy"}
    assert data["versions"]["numpy"] == np.__version__
    for stored, spec in zip(data["events"], recipe.events, strict=True):
        assert stored["end"] == pytest.approx(stored["onset"] + length_of(spec), abs=1e-6)
        assert stored["end"] <= recipe.render["max_duration"] + 1e-3
    assert "render_output" not in json.loads(recipe.spec_json())
    assert recipe.version_differences() == {}
    old = Recipe.from_dict({**data, "versions": {**data["versions"], "numpy": "0.0.1"}})
    assert old.version_differences() == {"numpy": ("0.0.1", np.__version__)}


def test_segment_bounds_is_a_method_of_the_event_spec(synth):
    spec = draw(synth, 0).events[0]
    begin, end = spec.segment_bounds(8000)
    assert begin == round(spec.segment_start * 8000) and end - begin == round(spec.segment_duration * 8000)


def test_describe_reads_background_db_from_the_recipe(synth):
    from dataclasses import replace

    from audiosetmix_lib.describe import describe
    from audiosetmix_lib.relations import LEVEL_MOVING_TRANSFORMS

    always = MixConfig(overlap_probability=1.0, min_events=2, max_events=2)
    for i in range(200):
        recipe = draw(synth, i, config=always)
        gains = [level_db_of(e.transforms) for e in recipe.events]
        stated = not any(name in LEVEL_MOVING_TRANSFORMS for e in recipe.events for name in e.transforms)
        if gains[1] - gains[0] <= -10 and stated:  # 10+ dB below its predecessor, by the levels the recipe states
            break
    else:
        pytest.fail("no overlap 10 dB below its predecessor drawn")
    assert describe(replace(recipe, describe={"background_db": 6.0})).events[1].background
    assert not describe(replace(recipe, describe={"background_db": 30.0})).events[1].background


def test_overlap_probability_is_a_config_value(synth):
    relations = lambda cfg: Counter(e.relation for i in range(200) for e in draw(synth, i, config=cfg).events[1:])  # noqa: E731
    never = relations(MixConfig(overlap_probability=0.0, max_events=2))
    assert never["overlap"] == 0 or never["overlap"] < 0.05 * sum(never.values())
    always = relations(MixConfig(overlap_probability=1.0))
    assert always["follow"] == 0


def test_synth_instances_vary_less_than_the_smallest_modifier_step():
    from audiosetmix_lib.sources.synth import SYNTH_CLASSES, instance_variation

    for label, (_, typical) in SYNTH_CLASSES.items():
        assert 2.0 <= typical <= 6.0
        for k in range(30):
            length, pitch = instance_variation(label, k)
            assert 0.8 * typical <= length <= 1.2 * typical
            assert abs(12 * np.log2(pitch)) <= 1.0
    assert len(SYNTH_CLASSES) >= 12


def test_placed_is_dataclasses_replace(synth):
    """`EventSpec.placed` (the planner's fast copy) gives what `dataclasses.replace` gives, and leaves the original alone."""
    from dataclasses import replace

    for i in range(40):
        for spec in draw(synth, i).events:
            before = spec.to_dict()
            fast = spec.placed("overlap", 1.25, 3.5)
            assert fast == replace(spec, relation="overlap", onset=1.25, end=3.5)
            assert type(fast) is type(spec) and fast.to_dict() != before and spec.to_dict() == before
