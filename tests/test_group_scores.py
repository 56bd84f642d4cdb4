"""The text, audio and group scores, their bias correction, --compare and the seed-level bootstrap, each on
hand-made similarities whose answers are worked out by hand (or by counting), not by the code under test."""

from __future__ import annotations

import json

import numpy as np
import pytest

from audiosetmix_lib.evaluation import clap_cli
from audiosetmix_lib.evaluation.compare import compare_runs
from audiosetmix_lib.evaluation.group_scores import QuadSimilarities, all_outcomes, mean_similarity
from audiosetmix_lib.evaluation.pair_records import read_pairs, write_pairs
from audiosetmix_lib.evaluation.score_report import group_score_report
from audiosetmix_lib.evaluation.seed_level import DETECTABLE_Z, hierarchical_bootstrap, seed_level_differences


def loudness_world(bias: float, hearing: float, loud_clip: float = 0.0, n: int = 40) -> tuple[QuadSimilarities, list[str]]:
    """n quadruples, half with a quiet clip x (caption 'quiet', counterfactual x' loud, caption 'loud'), half
    the other way. Similarity s(y, c) = bias if c says 'quiet' (a caption prior) + loud_clip if y is loud (a
    clip prior) + hearing if the clip y is what c says. The split holds each quadruple's x and x' and its two
    captions, half of each quiet, so by hand: p(c) = bias [c quiet] + loud_clip / 2 + hearing / 2 and
    q(y) = bias / 2 + loud_clip [y loud] + hearing / 2."""
    quiet_true = np.arange(n) % 2 == 0

    def s(clip_quiet, caption_quiet):
        return bias * caption_quiet + loud_clip * ~clip_quiet + hearing * (clip_quiet == caption_quiet)

    def p(caption_quiet):
        return bias * caption_quiet + loud_clip / 2 + hearing / 2

    def q(clip_quiet):
        return bias / 2 + loud_clip * ~clip_quiet + hearing / 2

    x_q, c_q = quiet_true, quiet_true  # x and c say the same; x' and c' the opposite
    sim = QuadSimilarities.of(s(x_q, c_q), s(x_q, ~c_q), s(~x_q, c_q), s(~x_q, ~c_q), p(c_q), p(~c_q), q(x_q), q(~x_q))
    return sim, ["quiet" if q else "loud" for q in quiet_true]


def means(sim: QuadSimilarities) -> dict:
    return {variant: {score: float(np.nanmean(v)) for score, v in table.items()} for variant, table in all_outcomes(sim).items()}


def test_a_perfect_model_scores_one_everywhere():
    sim, _ = loudness_world(bias=0.0, hearing=1.0)
    assert means(sim) == {v: {"pairwise": 1.0, "text": 1.0, "audio": 1.0, "group": 1.0} for v in ("raw", "corrected")}


def test_a_text_encoder_that_prefers_one_word_scores_half_pairwise_and_zero_on_text():
    """It hears nothing: raw pairwise 0.5 (right on the quiet half only), text, audio and group 0 (ties miss)."""
    sim, _ = loudness_world(bias=1.0, hearing=0.0)
    assert means(sim)["raw"] == {"pairwise": 0.5, "text": 0.0, "audio": 0.0, "group": 0.0}
    assert means(sim)["corrected"] == {"pairwise": 0.0, "text": 0.0, "audio": 0.0, "group": 0.0}


def test_the_correction_recovers_a_model_that_hears_under_a_strong_word_prior():
    """Hearing 0.1 under a caption prior of 1.0: raw text 0 (the prior wins every text comparison) but audio 1
    (a caption compared across clips carries its prior on both sides); corrected, everything is 1."""
    sim, _ = loudness_world(bias=1.0, hearing=0.1)
    assert means(sim)["raw"] == {"pairwise": 0.5, "text": 0.0, "audio": 1.0, "group": 0.0}
    assert means(sim)["corrected"] == {"pairwise": 1.0, "text": 1.0, "audio": 1.0, "group": 1.0}


def test_the_correction_recovers_a_model_that_hears_under_a_loud_clip_prior():
    """Loud clips closer to every caption (0.5) than the hearing (0.1): every text comparison holds the clip
    fixed (raw pairwise and text 1), every audio comparison is won by the loud clip (raw audio 0); the
    clip priors removed, everything is 1."""
    sim, _ = loudness_world(bias=0.0, hearing=0.1, loud_clip=0.5)
    assert means(sim)["raw"] == {"pairwise": 1.0, "text": 1.0, "audio": 0.0, "group": 0.0}
    assert means(sim)["corrected"] == {"pairwise": 1.0, "text": 1.0, "audio": 1.0, "group": 1.0}


def test_a_random_scorer_is_at_chance_on_each_score():
    """Four iid similarities: text and audio each need two independent comparisons (1/4); group needs
    x with c and x' with c' both above the other two values: 4 of the 24 orderings (1/6)."""
    rng = np.random.default_rng(0)
    x_c, x_n, cf_c, cf_n = rng.standard_normal((4, 40000))
    raw = means(QuadSimilarities.of(x_c, x_n, cf_c, cf_n))["raw"]
    assert raw == pytest.approx({"pairwise": 0.5, "text": 0.25, "audio": 0.25, "group": 1 / 6}, abs=0.01)


def test_without_counterfactual_clips_only_the_pairwise_score_is_reported():
    sim = QuadSimilarities.of([0.9, 0.1, 0.5], [0.1, 0.9, 0.5])  # the last one a tie: a miss
    report = group_score_report(sim, ["order"] * 3, ["order"] * 3, n_resamples=50, seed=0)
    assert report["scores"] == ["pairwise"] and report["quadruples"] == 0
    assert set(report["per_group"]["order"]["raw"]) == {"pairwise"}
    entry = report["per_group"]["order"]["raw"]["pairwise"]
    assert entry["value"] == pytest.approx(1 / 3) and entry["count"] == 3 and entry["ci95"][0] <= 1 / 3 <= entry["ci95"][1]


def test_a_mix_of_pairs_with_and_without_a_clip_counts_each_score_over_its_own_pairs():
    sim = QuadSimilarities.of([1.0, 1.0], [0.0, 0.0], [0.0, np.nan], [1.0, np.nan])
    report = group_score_report(sim, ["modifier", "modifier"], ["modifier:louder", "modifier:quieter"], 20, 0)
    raw = report["per_group"]["modifier"]["raw"]
    assert raw["pairwise"]["count"] == 2 and raw["text"]["count"] == 1 and raw["group"]["value"] == 1.0
    assert report["per_group"]["modifier:quieter"]["raw"]["text"]["count"] == 0


def test_priors_are_the_mean_similarity_to_every_item_of_the_other_side():
    rng = np.random.default_rng(1)
    text, audio = rng.standard_normal((5, 8)), rng.standard_normal((7, 8))
    assert mean_similarity(text, audio) == pytest.approx([sum(float(np.dot(t, a)) for a in audio) / 7 for t in text])
    assert mean_similarity(audio, text) == pytest.approx([sum(float(np.dot(a, t)) for t in text) / 5 for a in audio])


def records_file(path, sim: QuadSimilarities, details: list[str]):
    n = len(details)
    write_pairs(path / "modifier_pairs.jsonl", [f"test-{i}" for i in range(n)], list(range(n)), [d.split(":")[0] for d in details],
                details, [f"negative {i}" for i in range(n)], sim)
    return path


def test_compare_writes_the_paired_differences_of_two_evaluations(tmp_path, capsys):
    """Run A hears nothing under a word prior, run B hears a little under the same prior: raw, only the audio
    score moves (+1; the prior decides every text comparison of both); corrected, every score moves +1."""
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    sim_a, words = loudness_world(bias=1.0, hearing=0.0)
    sim_b, _ = loudness_world(bias=1.0, hearing=0.1)
    details = [f"modifier:{w}er" for w in words]
    records_file(tmp_path / "a", sim_a, details), records_file(tmp_path / "b", sim_b, details)
    assert clap_cli.main(["--compare", str(tmp_path / "a"), str(tmp_path / "b"), "--output_dir", str(tmp_path / "cmp"),
                               "--bootstrap", "100"]) == 0
    result = json.loads((tmp_path / "cmp" / "compare.json").read_text())["difference"]
    raw, corrected = result["modifier"]["raw"], result["modifier"]["corrected"]
    assert {s: raw[s]["difference"] for s in raw} == {"pairwise": 0.0, "text": 0.0, "audio": 1.0, "group": 0.0}
    assert {s: corrected[s]["difference"] for s in corrected} == {"pairwise": 1.0, "text": 1.0, "audio": 1.0, "group": 1.0}
    assert raw["audio"]["ci95"] == [1.0, 1.0] and raw["audio"]["count"] == 40
    assert result["modifier:quieter"]["raw"]["pairwise"]["count"] == 20
    assert "| modifier | 40 |" in (tmp_path / "cmp" / "compare.md").read_text() and "B − A" in capsys.readouterr().out


def test_compare_of_runs_without_a_shared_pair_is_one_error_line(tmp_path, capsys):
    sim, words = loudness_world(1.0, 0.0, n=4)
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    records_file(tmp_path / "a", sim, ["order"] * 4)
    records_file(tmp_path / "b", sim, ["relation"] * 4)
    assert clap_cli.main(["--compare", str(tmp_path / "a"), str(tmp_path / "b"), "--output_dir", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "share no test pair" in err[0]
    assert clap_cli.main(["--compare", str(tmp_path / "a"), str(tmp_path / "none"), "--output_dir", str(tmp_path / "o")]) == 2
    assert "no modifier_pairs.jsonl" in capsys.readouterr().err


def test_records_of_an_evaluation_before_the_correction_compare_raw_only(tmp_path):
    sim, words = loudness_world(1.0, 0.1, n=6)
    records_file(tmp_path, sim, ["order"] * 6)
    old = [{k: v for k, v in r.items() if not k.startswith(("prior", "cf"))} for r in read_pairs(tmp_path).values()]
    run = {(r["id"], r["detail"], r["negative"]): r for r in old}
    result = compare_runs(run, run, 10, 0)
    assert set(result["order"]) == {"raw"} and set(result["order"]["raw"]) == {"pairwise"}


def test_the_hierarchical_bootstrap_spreads_as_the_seeds_do():
    """Constant differences within a seed: the bootstrap mean of S seeds drawn with replacement has
    SD sqrt(var(m) / S) (population variance); without seed spread, ±1 pair noise gives sqrt(var(d) / N)."""
    offsets = np.array([-0.3, -0.1, 0.0, 0.1, 0.2, 0.4, -0.2, 0.3, 0.05, -0.05])
    by_seed = hierarchical_bootstrap(np.repeat(offsets[:, None], 50, axis=1), n_resamples=4000, seed=1)
    expected = np.sqrt(offsets.var() / len(offsets))
    assert by_seed["se"] == pytest.approx(expected, rel=0.08) and by_seed["difference"] == pytest.approx(offsets.mean())
    assert by_seed["detectable"] == pytest.approx(2.8016 * by_seed["se"], rel=1e-3) and by_seed["seeds"] == 10
    noise = np.random.default_rng(2).choice([-1.0, 1.0], size=400)
    by_pair = hierarchical_bootstrap(np.tile(noise, (3, 1)), n_resamples=4000, seed=1)
    assert by_pair["se"] == pytest.approx(np.sqrt(noise.var() / 400), rel=0.08)
    lo, hi = by_pair["ci95"]
    assert lo < noise.mean() < hi and hi - lo == pytest.approx(2 * 1.96 * by_pair["se"], rel=0.1)
    wider = hierarchical_bootstrap(np.tile(noise, (3, 1)) + np.array([[-0.2], [0.0], [0.2]]), n_resamples=2000, seed=1)
    assert wider["se"] > 1.5 * by_pair["se"]
    assert DETECTABLE_Z == pytest.approx(1.96 + 0.8416, abs=1e-3)


def test_seed_level_differences_average_the_same_seed_pairs():
    """Per seed, run B wins k more pairs of 10 than run A (k = 1, 3, 5): the average is (1 + 3 + 5) / 30."""
    def run(wins: int) -> dict:
        sim = QuadSimilarities.of([1.0] * wins + [0.0] * (10 - wins), [0.5] * 10, prior_c=[0.0] * 10, prior_n=[0.0] * 10)
        records = {}
        for i in range(10):
            records[(f"r{i}", "order", "n")] = {"id": f"r{i}", "kind": "order", "detail": "order", "negative": "n",
                                                "score_true": sim.x_c[i], "score_negative": 0.5, "prior_true": 0.0,
                                                "prior_negative": 0.0, "prior_clip": 0.0, "cf_true": None,
                                                "cf_negative": None, "prior_cf": None}
        return records

    result = seed_level_differences([run(2), run(2), run(2)], [run(3), run(5), run(7)], n_resamples=200, seed=0)
    entry = result["order"]["raw"]["pairwise"]
    assert entry["difference"] == pytest.approx(0.3) and entry["per_seed"] == pytest.approx([0.1, 0.3, 0.5])
    assert entry["seeds"] == 3 and entry["count"] == 10 and "text" not in result["order"]["raw"]
    with pytest.raises(ValueError):
        seed_level_differences([run(2)], [], 10, 0)


def test_a_row_whose_clips_and_indices_disagree_is_refused_by_name():
    import datasets

    from audiosetmix_lib.evaluation.errors import EvaluationError
    from audiosetmix_lib.evaluation.negative_pairs import counterfactual_clips

    features = datasets.Features({"negative_audio": datasets.List(datasets.Audio(decode=False)),
                                  "negative_audio_index": datasets.List(datasets.Value("int32"))})
    clip = {"bytes": b"not decoded here", "path": "x.flac"}
    good = datasets.Dataset.from_dict({"negative_audio": [[clip], []], "negative_audio_index": [[2], []]}, features=features)
    assert counterfactual_clips(good) == [{2: clip}, {}]
    bad = datasets.Dataset.from_dict({"negative_audio": [[clip], [clip, clip]], "negative_audio_index": [[0], [1]]},
                                     features=features)
    with pytest.raises(EvaluationError, match="row 1: negative_audio holds 2 clip"):
        counterfactual_clips(bad)
