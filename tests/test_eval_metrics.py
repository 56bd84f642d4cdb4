"""Retrieval and modifier-accuracy metrics: pure functions and the `evaluate` modules, against
naive re-implementations and hand-computed cases (ties, several relevant items, fewer than k items)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from audiosetmix_lib.evaluation.metric_modules import metrics_dir
from audiosetmix_lib.retrieval import (
    bootstrap_ci,
    modifier_accuracy,
    multi_caption_positives,
    paired_bootstrap_ci,
    retrieval_metrics,
)

METRICS_DIR = metrics_dir()


# ---------------------------------------------------------------- naive references


def naive_ranks(scores: list[float], positives: set[int]) -> list[int]:
    """Rank (1-based) of every item, by counting what beats it: higher scores; equal scores that are
    non-relevant while it is relevant; equal scores of the same relevance with a lower index."""
    ranks = []
    for i, s in enumerate(scores):
        ahead = 0
        for j, t in enumerate(scores):
            if j == i:
                continue
            if t > s:
                ahead += 1
            elif t == s:
                i_rel, j_rel = i in positives, j in positives
                if (i_rel and not j_rel) or (i_rel == j_rel and j < i):
                    ahead += 1
        ranks.append(ahead + 1)
    return ranks


def naive_retrieval(scores, positives, k_values) -> dict[str, float]:
    firsts, aps = [], []
    for row, pos in zip(scores, positives, strict=True):
        pos = set(pos)
        ranks = naive_ranks([float(x) for x in row], pos)
        assert sorted(ranks) == list(range(1, len(row) + 1))
        firsts.append(min(ranks[p] for p in pos))
        relevant_ranks = sorted(ranks[p] for p in pos)
        total = 0.0
        for k in range(1, 11):
            if k in relevant_ranks:
                total += sum(1 for r in relevant_ranks if r <= k) / k
        aps.append(total / min(len(pos), 10))
    result = {f"R@{k}": sum(1 for f in firsts if f <= k) / len(firsts) for k in k_values}
    result["mAP@10"] = sum(aps) / len(aps)
    ordered = sorted(firsts)
    n = len(ordered)
    result["median_rank"] = float(ordered[n // 2]) if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
    return result


def naive_modifier_accuracy(pairs, kinds) -> dict[str, float]:
    right = [1 if t > n else 0 for t, n in pairs]
    result = {"accuracy": sum(right) / len(right)}
    for kind in sorted(set(kinds)):
        mine = [r for r, k in zip(right, kinds, strict=True) if k == kind]
        result[f"accuracy/{kind}"] = sum(mine) / len(mine)
        result[f"count/{kind}"] = len(mine)
    return result


def assert_same(got: dict, want: dict) -> None:
    assert set(got) == set(want)
    for key in want:
        assert got[key] == pytest.approx(want[key], abs=1e-12), key


@pytest.fixture(scope="module")
def retrieval_module():
    import evaluate

    return evaluate.load(str(METRICS_DIR / "retrieval"))


@pytest.fixture(scope="module")
def modifier_module():
    import evaluate

    return evaluate.load(str(METRICS_DIR / "modifier_accuracy"))


# ---------------------------------------------------------------- retrieval: hand-computed


def test_distinct_scores_several_relevant_items():
    # order 0, 1, 2, 3; relevant 1 and 3 -> hits at ranks 2 and 4
    got = retrieval_metrics([[0.9, 0.8, 0.7, 0.6]], [[1, 3]], k_values=[1, 2, 4])
    assert got["R@1"] == 0.0 and got["R@2"] == 1.0 and got["R@4"] == 1.0
    assert got["mAP@10"] == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert got["median_rank"] == 2.0


def test_ties_count_against_the_query():
    # all scores equal: the non-relevant items rank first, so the single positive is last
    got = retrieval_metrics([[0.5, 0.5, 0.5, 0.5]], [[0]], k_values=[1, 3, 4])
    assert got == {"R@1": 0.0, "R@3": 0.0, "R@4": 1.0, "mAP@10": 0.25, "median_rank": 4.0}
    # a tie between the positive and one negative above the rest: rank 2, not 1
    got = retrieval_metrics([[0.1, 0.9, 0.9, 0.2]], [[2]], k_values=[1, 2])
    assert got["R@1"] == 0.0 and got["R@2"] == 1.0 and got["median_rank"] == 2.0
    # two relevant items tied with one non-relevant: ranks 2 and 3
    got = retrieval_metrics([[0.7, 0.7, 0.7, 0.1]], [[0, 2]], k_values=[1])
    assert got["mAP@10"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert got["median_rank"] == 2.0


def test_constant_scorer_gets_no_credit():
    n = 12
    scores = np.zeros((n, n))
    got = retrieval_metrics(scores, [[i] for i in range(n)], k_values=[1, 5, 10])
    assert got["R@1"] == got["R@5"] == got["R@10"] == 0.0
    assert got["mAP@10"] == 0.0
    assert got["median_rank"] == n


def test_fewer_items_than_k():
    # three items, k up to 10: R@k saturates at 1, AP uses the ranks that exist
    got = retrieval_metrics([[0.3, 0.2, 0.1], [0.1, 0.2, 0.3]], [[2], [2]], k_values=[1, 5, 10])
    assert got["R@1"] == 0.5 and got["R@5"] == 1.0 and got["R@10"] == 1.0
    assert got["mAP@10"] == pytest.approx((1 / 3 + 1) / 2)
    assert got["median_rank"] == 2.0


def test_more_than_ten_relevant_items_are_capped():
    # 12 relevant items all ranked first: AP@10 = 1 (divided by min(12, 10))
    scores = np.linspace(1.0, 0.0, 15)[None, :]
    got = retrieval_metrics(scores, [list(range(12))], k_values=[1])
    assert got["mAP@10"] == pytest.approx(1.0)


def test_perfect_and_even_median():
    got = retrieval_metrics(np.eye(4), [[0], [1], [2], [3]], k_values=[1])
    assert got == {"R@1": 1.0, "mAP@10": 1.0, "median_rank": 1.0}
    got = retrieval_metrics([[1.0, 0.0], [1.0, 0.0]], [[0], [1]], k_values=[1])
    assert got["median_rank"] == 1.5


def test_invalid_inputs_raise():
    with pytest.raises(ValueError):
        retrieval_metrics([[0.1, 0.2]], [[]])
    with pytest.raises(ValueError):
        retrieval_metrics([[0.1, 0.2]], [[2]])
    with pytest.raises(ValueError):
        retrieval_metrics([[0.1, 0.2]], [[-1]])
    with pytest.raises(ValueError):
        retrieval_metrics([[0.1, float("nan")]], [[0]])
    with pytest.raises(ValueError):
        retrieval_metrics([[0.1, 0.2]], [[0], [1]])
    with pytest.raises(ValueError):
        retrieval_metrics([[0.1, 0.2]], [[0]], k_values=[0])


# ---------------------------------------------------------------- retrieval: against the naive version


def _random_case(rng, queries, items, tie_levels):
    scores = rng.integers(0, tie_levels, size=(queries, items)).astype(np.float64) / tie_levels
    positives = [sorted(rng.choice(items, size=int(rng.integers(1, min(items, 13) + 1)), replace=False).tolist())
                 for _ in range(queries)]
    return scores, positives


@pytest.mark.parametrize("seed", range(6))
def test_retrieval_matches_naive(seed, retrieval_module):
    rng = np.random.default_rng(seed)
    items = int(rng.integers(2, 25))
    scores, positives = _random_case(rng, int(rng.integers(1, 15)), items, tie_levels=int(rng.choice([2, 3, 1000])))
    k_values = [1, 5, 10]
    want = naive_retrieval(scores, positives, k_values)
    assert_same(retrieval_metrics(scores, positives, k_values=k_values), want)
    assert_same(retrieval_module.compute(predictions=scores.tolist(), references=positives, k_values=k_values), want)


def test_evaluate_module_contract(retrieval_module):
    # the keys, the k_values pass-through, float32 input and numpy input
    scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.8], [0.3, 0.3, 0.3]], dtype=np.float32)
    positives = [[0], [2], [1, 2]]
    got = retrieval_module.compute(predictions=scores, references=positives, k_values=[1, 2, 3])
    assert set(got) == {"R@1", "R@2", "R@3", "mAP@10", "median_rank"}
    assert_same(got, naive_retrieval(scores.astype(np.float64), positives, [1, 2, 3]))
    default = retrieval_module.compute(predictions=scores, references=positives)
    assert set(default) == {"R@1", "R@5", "R@10", "mAP@10", "median_rank"}
    # scores closer than float32 can tell apart stay distinct
    got = retrieval_module.compute(predictions=[[1.0 + 1e-12, 1.0]], references=[[0]], k_values=[1])
    assert got["R@1"] == 1.0


def test_multi_caption_protocol():
    # audio 0 has captions 0, 1; audio 1 has caption 2; audio 2 has captions 3, 4
    t2a, a2t = multi_caption_positives([0, 0, 1, 2, 2], 3)
    assert t2a == [[0], [0], [1], [2], [2]]
    assert a2t == [[0, 1], [2], [3, 4]]
    # audio-to-text: an audio is found if any of its captions is
    audio_text = np.array([[0.1, 0.9, 0.0, 0.2, 0.3],   # audio 0: its caption 1 is the top item
                           [0.5, 0.4, 0.3, 0.2, 0.1],   # audio 1: its caption 2 is third
                           [0.0, 0.0, 0.0, 0.0, 0.0]])  # audio 2: all tied -> its captions rank 4 and 5
    got = retrieval_metrics(audio_text, a2t, k_values=[1, 3])
    assert got["R@1"] == pytest.approx(1 / 3) and got["R@3"] == pytest.approx(2 / 3)
    assert got["median_rank"] == 3.0
    # AP: audio 0 hits at ranks 1 and 4; audio 1 at rank 3; audio 2 at ranks 4 and 5
    assert got["mAP@10"] == pytest.approx(((1 / 1 + 2 / 4) / 2 + 1 / 3 + (1 / 4 + 2 / 5) / 2) / 3)
    with pytest.raises(ValueError):
        multi_caption_positives([0, 0], 2)  # audio 1 has no caption
    with pytest.raises(ValueError):
        multi_caption_positives([0, 3], 2)  # caption points outside the audio


# ---------------------------------------------------------------- modifier accuracy


def test_modifier_accuracy_hand_computed(modifier_module):
    pairs = [[0.9, 0.1], [0.5, 0.5], [0.2, 0.3], [0.4, 0.1], [0.7, 0.6]]
    kinds = ["order", "order", "modifier", "modifier", "relation"]
    want = {"accuracy": 3 / 5, "accuracy/modifier": 0.5, "count/modifier": 2, "accuracy/order": 0.5,
            "count/order": 2, "accuracy/relation": 1.0, "count/relation": 1}
    assert_same(modifier_accuracy(pairs, kinds), want)
    got = modifier_module.compute(predictions=pairs, references=kinds)
    assert_same(got, want)
    assert isinstance(got["count/order"], int)
    # float32 input and fine-grained kinds
    got = modifier_module.compute(predictions=np.float32(pairs), references=["modifier:louder"] * 5)
    assert got == {"accuracy": 0.6, "accuracy/modifier:louder": 0.6, "count/modifier:louder": 5}


def test_modifier_accuracy_ties_and_nan_miss():
    got = modifier_accuracy([[1.0, 1.0], [float("nan"), 0.0], [0.0, float("nan")]], ["a", "a", "a"])
    assert got["accuracy"] == 0.0 and got["count/a"] == 3
    assert math.isnan(modifier_accuracy([], [])["accuracy"])
    with pytest.raises(ValueError):
        modifier_accuracy([[0.1, 0.2]], ["a", "b"])
    with pytest.raises(ValueError):
        modifier_accuracy([[0.1, 0.2, 0.3]], ["a"])


@pytest.mark.parametrize("seed", range(4))
def test_modifier_accuracy_matches_naive(seed, modifier_module):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    pairs = (rng.integers(0, 4, size=(n, 2)) / 4).tolist()  # many ties
    kinds = [str(k) for k in rng.choice(["order", "modifier", "relation", "event", "missing", "extra"], size=n)]
    want = naive_modifier_accuracy(pairs, kinds)
    assert_same(modifier_accuracy(pairs, kinds), want)
    assert_same(modifier_module.compute(predictions=pairs, references=kinds), want)


# ---------------------------------------------------------------- bootstrap


def test_bootstrap_ci():
    outcomes = [1] * 30 + [0] * 10
    lo, hi = bootstrap_ci(outcomes, n_resamples=1000, seed=3)
    assert (lo, hi) == bootstrap_ci(outcomes, n_resamples=1000, seed=3)  # seeded
    assert lo < 0.75 < hi and 0.5 < lo and hi < 0.95
    assert bootstrap_ci([1, 1, 1], seed=0) == (1.0, 1.0)
    assert all(math.isnan(x) for x in bootstrap_ci([], seed=0))
    # the chunked resampling gives the same kind of interval on a large input
    big = np.random.default_rng(0).random(50_000) < 0.3
    lo, hi = bootstrap_ci(big, n_resamples=200, seed=0)
    assert lo < big.mean() < hi and hi - lo < 0.02
    # paired difference: b is right wherever a is, plus 10 more items
    a = [0] * 20 + [1] * 20
    b = [1] * 10 + [0] * 10 + [1] * 20
    lo, hi = paired_bootstrap_ci(a, b, n_resamples=1000, seed=0)
    assert 0.0 < lo < 0.25 < hi
