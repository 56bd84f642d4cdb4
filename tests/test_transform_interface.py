"""A new transform of each stage kind, registered in the test, is rendered, described, counted and
documented with no other change anywhere: the interface cannot be half-implemented.

The oracles are the throw-away modules' own definitions (a gain of +/-10 dB, a length x2 or x0.5,
a tempo of 1.25) measured on the rendered audio, and their made-up words found in texts that the
code under test writes from the registry (template caption, prompt, statistics, dataset card).
"""

from __future__ import annotations

import types
from dataclasses import dataclass

import numpy as np
import pytest
from helpers import SR, ArraySource, recipe_of, tone

from audiosetmix_lib.render import active_rms_db, render
from audiosetmix_lib.transforms import (
    MODIFIER_NAMES,
    STAGES,
    TRANSFORMS,
    Check,
    TransformInterfaceError,
    Words,
    register,
    registered,
)
from audiosetmix_lib.transforms.base import draw_direction
from audiosetmix_lib.transforms.interface import COMMON_HOOKS
from audiosetmix_lib.transforms.pitch import stretch

# stage -> (made-up words up, down; the length factor up, down; the level change up, down in dB)
KINDS = {
    "gain": (("zorby", "quimby"), (1.0, 1.0), (10.0, -10.0)),
    "spectral": (("glarish", "murkled"), (1.0, 1.0), (0.0, 0.0)),
    "stretch": (("zippety", "draggly"), (1 / 1.25, 1.25), (0.0, 0.0)),
    "length": (("loopsome", "snippish"), (2.0, 0.5), (0.0, 0.0)),
}


def throwaway(stage: str) -> types.ModuleType:
    """A complete transform module of one stage kind, written as a user would write a new one."""
    (up_word, down_word), (up_len, down_len), (up_db, down_db) = KINDS[stage]
    name = f"tw{stage}"
    m = types.ModuleType(f"tests.{name}")

    @dataclass(frozen=True)
    class Settings:
        probability: float = 1.0

    def sign(params):
        return 1.0 if params["direction"] == "up" else -1.0

    def apply(samples, sr, params, *fade):
        if stage == "gain":
            return (samples * 10 ** (sign(params) * 10 / 20)).astype(np.float32)
        if stage == "spectral":  # up: first difference (brighter); down: 8-tap average (darker)
            kernel = np.array([1.0, -1.0]) if params["direction"] == "up" else np.ones(8) / 8
            out = np.convolve(samples, kernel, mode="same")
            return (out * np.sqrt(np.mean(samples**2) / np.mean(out**2))).astype(np.float32)  # the level kept
        if stage == "stretch":
            return stretch(samples, sr, **m.stretch_args(params))
        return m.finish(m.cut(samples, params), sr, params, 0.01)

    m.__dict__.update(
        NAME=name, MODIFIERS={"up": f"{up_word}-er", "down": f"{down_word}-er"},
        WORDS={"up": Words(adj=(up_word,)), "down": Words(adj=(down_word,))}, ADVERBIAL=False, STAGE=stage,
        STATS_WORDS=(up_word, down_word), Settings=Settings,
        sample=lambda rng, settings: {"direction": draw_direction(rng)},
        apply=apply,
        flip=lambda params: {"direction": "down" if params["direction"] == "up" else "up"},
        detail=lambda params: params["direction"],
        definition=lambda settings: f"the {stage} stage's throw-away transform",
        length_factor=lambda params: up_len if params["direction"] == "up" else down_len,
        level_db=lambda params: up_db if params["direction"] == "up" else down_db,
        check=lambda before, after, sr, params: Check(f"{name} {params['direction']}", 0.0, 0.0, "", False),
    )
    if stage == "length":
        m.cut = lambda samples, params: samples[: len(samples) // 2] if params["direction"] == "down" else samples
        m.finish = lambda samples, sr, params, fade_seconds: np.tile(samples, 2) if params["direction"] == "up" else samples
    if stage == "stretch":
        m.stretch_args = lambda params: {"tempo": 1.25 if params["direction"] == "up" else 0.8}
    if stage == "spectral":
        m.resolve = lambda samples, sr, params: {**params, "measured_rms": round(float(np.sqrt(np.mean(samples**2))), 6)}
        m.MEASURED = ("measured_rms",)
    return m


def centroid(x: np.ndarray) -> float:
    power = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    return float((np.fft.rfftfreq(len(x), 1 / SR) * power).sum() / power.sum())


@pytest.fixture(scope="module")
def source():
    return ArraySource({"Bell": tone(440.0, 1.0) + tone(2000.0, 1.0, amplitude=0.1), "Siren": tone(900.0, 1.5)})


@pytest.mark.parametrize("stage", list(STAGES))
@pytest.mark.parametrize("direction", ["up", "down"])
def test_a_new_transform_of_each_stage_is_rendered_described_counted_and_documented(source, stage, direction):
    from audiosetmix_lib.captions.prompt import build_messages
    from audiosetmix_lib.captions.template_captioner import TemplateCaptioner
    from audiosetmix_lib.captions.validate import validate
    from audiosetmix_lib.card import card_template, modifier_values
    from audiosetmix_lib.config import MixConfig
    from audiosetmix_lib.describe import describe
    from audiosetmix_lib.stats import split_stats
    from audiosetmix_lib.transforms import recipe_modifiers, resolve_settings, sample_transforms

    module = throwaway(stage)
    name, word = module.NAME, module.WORDS[direction].adj[0]
    plain = render(recipe_of(source, [("Bell", {}, None)]), source)
    with registered(module):
        # sampled, and its settings validated, like any transform
        assert sample_transforms(np.random.default_rng(0), resolve_settings({}))[name]["direction"] in ("up", "down")
        assert MixConfig(transforms={name: {"probability": 0.5}})

        # rendered: the audio changes the way the module says
        recipe = recipe_of(source, [("Bell", {name: {"direction": direction}}, None)])
        rendered = render(recipe, source)
        factor = KINDS[stage][1][direction == "down"]
        assert len(rendered.samples) == pytest.approx(factor * len(plain.samples), abs=0.01 * SR)
        assert recipe.events[0].end == pytest.approx(factor * 1.0, abs=1e-3)  # its length_factor laid it out
        level_change = active_rms_db(rendered.samples, SR) - active_rms_db(plain.samples, SR)
        assert level_change == pytest.approx(KINDS[stage][2][direction == "down"], abs=0.5)
        if stage == "spectral":
            moved = centroid(rendered.samples) - centroid(plain.samples)
            assert moved > 100 if direction == "up" else moved < -100
            assert "measured_rms" in rendered.events[0].transforms[name]  # resolve's measurement is stored
        if stage in ("spectral", "stretch"):
            assert not np.array_equal(rendered.samples[: len(plain.samples)], plain.samples[: len(rendered.samples)])

        # described: its words in the template caption, which the validator accepts; in the LLM prompt
        caption = TemplateCaptioner().caption(recipe)
        assert word in caption.split() or f"{word}ly" in caption, caption
        assert validate(caption, describe(recipe)).ok
        assert not validate(caption.replace(word, module.WORDS["up" if direction == "down" else "down"].adj[0]),
                             describe(recipe)).ok
        system = build_messages(describe(recipe))[0]["content"]
        assert f"{word} ({word})" in system

        # counted: the statistics count its modifier and its word
        row = {"recipe": recipe.to_json(), "caption": caption, "duration": recipe.duration,
               "modifiers": recipe_modifiers(recipe), "negatives": []}
        stats = split_stats([row])
        assert stats["modifiers"][name] == {"up": int(direction == "up"), "down": int(direction == "down")}
        assert stats["modifier_names"][MODIFIER_NAMES[(name, direction)]] == 1
        assert stats["captions"]["word_groups"][name] == 1.0

        # documented: the dataset card's modifier section lists it with its words and definition
        values = modifier_values(MixConfig())
        assert "$modifier_section" in card_template()
        section = values["modifier_section"]
        assert f"| {name} |" in section and f"_{word}_" in section and module.definition(None) in section
        assert module.MODIFIERS[direction] in values["modifier_names"]
    assert name not in TRANSFORMS and (name, direction) not in MODIFIER_NAMES


def test_describe_reads_every_transforms_level_for_the_background_rule(source):
    from audiosetmix_lib.describe import describe

    module = throwaway("gain")
    with registered(module):
        quiet = recipe_of(source, [("Siren", {}, None), ("Bell", {module.NAME: {"direction": "down"}}, "overlap")])
        loud = recipe_of(source, [("Siren", {}, None), ("Bell", {module.NAME: {"direction": "up"}}, "overlap")])
        assert describe(quiet).events[1].background and not describe(loud).events[1].background


@pytest.mark.parametrize("stage", list(STAGES))
def test_a_module_missing_any_hook_is_refused_naming_it(stage):
    for hook in (*COMMON_HOOKS, *STAGES[stage]):
        module = throwaway(stage)
        delattr(module, hook)
        with pytest.raises(TransformInterfaceError, match=rf"tests\.tw{stage} lacks {hook}\b"):
            register(module)
        assert f"tw{stage}" not in TRANSFORMS


def test_an_unknown_stage_is_refused_at_registration_and_at_render(source):
    from audiosetmix_lib.transforms import render_chain

    module = throwaway("gain")
    module.STAGE = "reverb"
    with pytest.raises(TransformInterfaceError, match=r"tests\.twgain has STAGE 'reverb'"):
        register(module)
    # a module whose stage changes after registration is refused when it would render as a no-op
    module = throwaway("gain")
    with registered(module):
        module.STAGE = "reverb"
        with pytest.raises(TransformInterfaceError, match="render_chain does not run"):
            render_chain(tone(440.0, 0.5), SR, {"twgain": {"direction": "up"}}, 0.01)
    with pytest.raises(ValueError, match="unknown transforms"):
        render_chain(tone(440.0, 0.5), SR, {"reverb": {"direction": "up"}}, 0.01)
