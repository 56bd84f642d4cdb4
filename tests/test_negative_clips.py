"""Every stored negative recipe is a valid clip that still contradicts its caption (issue 12, part 1).

Rows come from the builder's own planner (`RowMaker.plan`) for several seeds and configs; every
negative is rendered by the real renderer and measured.
"""

import re
from collections import Counter

import numpy as np
import pytest

from audiosetmix_lib.captions.template_captioner import TemplateCaptioner
from audiosetmix_lib.config import MixConfig
from audiosetmix_lib.negatives import contradicts
from audiosetmix_lib.render import active_rms_db, render, render_event
from audiosetmix_lib.rows import RowMaker
from audiosetmix_lib.sources import EventPool, make_source
from audiosetmix_lib.transforms import MODIFIER_KEYS, TRANSFORM_NAMES, length_of, level_db_of
from audiosetmix_lib.transforms import words as modifier_forms


def _every_transform(p: float) -> dict:
    return {"transforms": {name: {"probability": p} for name in TRANSFORM_NAMES}}


CONFIGS = [  # (seed, MixConfig overrides, rows)
    (3, {}, 40),
    (11, {"overlap_probability": 0.0, "max_duration": 6.0}, 40),  # many follows in a tight budget
    (5, {"overlap_probability": 1.0, **_every_transform(0.7)}, 30),
    (8, {"min_events": 3, "max_events": 5, **_every_transform(0.6), "max_duration": 8.0}, 40),
]
SR = 8000
MODIFIER_WORD_SET = {w for key in MODIFIER_KEYS for w in modifier_forms(key).adj + modifier_forms(key).adv}
_MODIFIER_RE = re.compile(r"\b(" + "|".join(sorted(map(re.escape, MODIFIER_WORD_SET), key=len, reverse=True)) + r")\b")


def modifier_words(text: str) -> Counter:
    return Counter(_MODIFIER_RE.findall(text.lower()))


def mean_db(samples) -> float:
    return float(10 * np.log10(np.mean(np.asarray(samples, dtype=np.float64) ** 2) + 1e-20))


@pytest.fixture(scope="module")
def planned():
    source = make_source("synth")
    pool = EventPool(source.events())
    out = []
    for seed, overrides, rows in CONFIGS:
        mix = MixConfig.from_dict(overrides)
        maker = RowMaker(source, pool, mix, seed, SR)
        for index in range(rows):
            recipe, chosen, caption_set = maker.plan("train", index)
            out.append((source, mix, recipe, chosen, list(caption_set.fallback)))
    return out


def test_every_negative_fits_the_budget_and_contradicts(planned):
    kinds = Counter()
    for _, mix, recipe, chosen, _ in planned:
        budget = recipe.render["max_duration"]
        assert budget == mix.max_duration
        for negative in chosen:
            kinds[negative.kind] += 1
            for spec in negative.recipe.events:
                assert spec.onset < budget and spec.end <= budget + 1e-3, (negative.kind, spec.label, spec.onset, spec.end)
            assert contradicts(recipe, negative.recipe), negative.detail
    assert sum(kinds.values()) > 300 and set(kinds) == {"order", "modifier", "relation", "event", "missing", "extra"}, kinds


def test_every_event_of_every_negative_is_audible_at_its_level(planned):
    """Each event's span in the rendered negative: not cut, not silenced, at the level its recipe says.

    Two references: the event rendered on its own (its transforms change its level: a kept
    fraction of a bell's decay is quieter), and, for events whose transforms keep the
    loudness, the recipe's number (reference level + gain). Overlapping events only add
    energy, so with overlaps only a floor is checked; the limiter may take its stated
    reduction off.
    """
    checked = Counter()
    for source, _mix, _recipe, chosen, _ in planned:
        for negative in chosen:
            r = negative.recipe
            rendered = render(r, source)
            slack = 3.0 + rendered.limiter_gain_reduction_db
            assert len(rendered.samples) <= round(r.render["max_duration"] * SR)
            for spec in r.events:
                begin, end = int(round(spec.onset * SR)), int(round(spec.end * SR))
                assert end - begin >= 0.05 * SR, (negative.detail, spec.label)
                span = rendered.samples[begin:min(end, len(rendered.samples))]
                assert len(span) >= end - begin - 0.01 * SR, (negative.detail, spec.label)  # not cut by the budget
                alone = all(o is spec or o.end <= spec.onset or o.onset >= spec.end for o in r.events)
                isolated = render_event(spec, source, r)[0][: end - begin]
                # energy adds up under overlaps (active RMS need not: a bed under sparse knocks
                # makes more frames "active"), so the floor is on the span's mean power
                assert mean_db(span) >= mean_db(isolated) - slack, (negative.kind, spec.label)
                if alone:
                    level = active_rms_db(span, SR, r.render["active_range_db"])
                    own = active_rms_db(isolated, SR, r.render["active_range_db"])
                    assert own - slack <= level <= own + 3.0, (negative.kind, spec.label, level, own)
                    if set(spec.transforms) <= {"volume"}:  # pitch shifting moves a chirp's level by a few dB
                        expected = r.render["reference_dbfs"] + level_db_of(spec.transforms)
                        assert expected - slack - 1.0 <= level <= expected + 3.0, (negative.kind, spec.label, level, expected)
                        checked["recipe level"] += 1
                checked["event"] += 1
    assert checked["event"] > 800 and checked["recipe level"] > 100, checked


def test_the_perturbation_survives_the_fit(planned):
    for _, mix, recipe, chosen, _ in planned:
        for negative in chosen:
            before, after = recipe.events, negative.recipe.events
            if negative.kind == "order":
                swapped = [i for i in range(len(before)) if before[i].label != after[i].label]
                assert len(swapped) == 2 and swapped[1] == swapped[0] + 1
                i, j = swapped
                assert (after[i].label, after[j].label) == (before[j].label, before[i].label)
                assert after[j].onset >= after[i].end - 1e-6  # still follows
            elif negative.kind == "modifier":
                flipped = [(a.transforms[n]["direction"], b.transforms[n]["direction"])
                           for a, b in zip(before, after, strict=True) for n in a.transforms if a.transforms[n]["direction"] != b.transforms[n]["direction"]]
                assert len(flipped) == 1
            elif negative.kind == "relation":
                changed = [(a.relation, b.relation) for a, b in zip(before, after, strict=True) if a.relation != b.relation]
                assert len(changed) == 1 and changed[0][0] != changed[0][1]
            elif negative.kind == "extra":
                added = after[-1]
                assert len(after) == len(before) + 1
                natural = added.event.duration / (added.transforms.get("speed", {}).get("tempo", 1.0))
                assert length_of(added) >= min(mix.min_event_share, natural) - 1e-6
                assert added.onset < mix.max_duration
            if negative.kind != "relation" and negative.kind != "extra":
                kept = [e.relation for e in after[1:]]
                assert kept.count("overlap") <= [e.relation for e in before[1:]].count("overlap") + 1


def test_a_negative_changes_no_word_it_did_not_perturb(planned):
    """Modifier words of the unchanged events stay exactly the caption's (no synonym swaps)."""
    checked, cut = Counter(), 0
    for _, _mix, recipe, chosen, texts in planned:
        caption, negatives = texts[0], texts[1:]
        if len(caption.split()) >= 28 and not TemplateCaptioner().fits([recipe]):
            cut += 1  # too many modifiers for 30 words in any style: the caption itself is cut short
            continue
        mine = modifier_words(caption)
        for negative, text in zip(chosen, negatives, strict=True):
            theirs = modifier_words(text)
            if negative.kind in ("order", "relation"):
                assert theirs == mine, (negative.kind, caption, text)
            elif negative.kind == "event":  # the new event's phrase may take other forms of its own modifiers
                i = next(i for i, (a, b) in enumerate(zip(recipe.events, negative.recipe.events, strict=True)) if a.label != b.label)
                own = {w for name, params in recipe.events[i].transforms.items()
                       for w in modifier_forms((name, params["direction"])).adj + modifier_forms((name, params["direction"])).adv}
                assert set(mine - theirs) <= own and set(theirs - mine) <= own, (caption, text)
            elif negative.kind == "missing":
                assert not theirs - mine, (caption, text)
                dropped = [e for e in recipe.events if e.label not in negative.recipe.labels][0]
                assert sum((mine - theirs).values()) == len(dropped.transforms), (caption, text)
            elif negative.kind == "extra":
                assert not mine - theirs, (caption, text)
                assert sum((theirs - mine).values()) == len(negative.recipe.events[-1].transforms), (caption, text)
            elif negative.kind == "modifier":
                assert sum((mine - theirs).values()) == 1 and sum((theirs - mine).values()) == 1, (caption, text)
            checked[negative.kind] += 1
    assert min(checked.values()) > 20, checked
    assert cut <= len(planned) // 10, cut  # only in the config with every transform at p = 0.6
