"""Retrieval and modifier-accuracy metrics: pure functions over score matrices.

Ranking rule (deterministic, pessimistic): items are sorted by score, descending; among
equal scores the non-relevant items come first, then relevant ones by index. A model that
scores everything the same therefore gets no credit.

Definitions (the contract of `eval/metrics/retrieval` and `eval/metrics/modifier_accuracy`):

- `R@k`: fraction of queries with at least one relevant item in the top k.
- `mAP@10`: mean over queries of sum_{k<=10} P@k * rel_k / min(number relevant, 10).
- `median_rank`: median over queries of the 1-based rank of the first relevant item.
- modifier accuracy: share of (score_true, score_negative) pairs with score_true strictly
  greater; a tie (or a NaN) counts as a miss.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np


def ranking(scores: np.ndarray, positives: set[int]) -> np.ndarray:
    """Item indices in rank order for one query."""
    scores = np.asarray(scores, dtype=np.float64)
    relevant = np.zeros(len(scores), dtype=bool)
    relevant[list(positives)] = True
    # lexsort sorts by the last key first: -score, then relevant (False first), then index
    return np.lexsort((np.arange(len(scores)), relevant, -scores))


def _check_k_values(k_values) -> list[int]:
    ks = []
    for k in k_values:
        if isinstance(k, bool) or int(k) != k or int(k) < 1:
            raise ValueError(f"k values must be positive integers; got {k!r}")
        ks.append(int(k))
    return ks


def first_relevant_ranks(scores, positives: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Per query: the 1-based rank of the first relevant item, and its average precision at 10."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or len(scores) != len(positives):
        raise ValueError(f"scores must be (queries, items) with one positives list per query; "
                         f"got {scores.shape} and {len(positives)}")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN: a NaN has no rank")
    first_ranks, average_precisions = [], []
    for q, (row, pos) in enumerate(zip(scores, positives, strict=True)):
        pos = {int(p) for p in pos}
        if not pos:
            raise ValueError(f"query {q} has no relevant item")
        if max(pos) >= scores.shape[1] or min(pos) < 0:
            raise ValueError(f"query {q}: relevant index out of range 0..{scores.shape[1] - 1}")
        order = ranking(row, pos)
        hits = np.isin(order, list(pos))
        first_ranks.append(int(np.argmax(hits)) + 1)
        top = hits[:10]
        precision = np.cumsum(top) / np.arange(1, len(top) + 1)
        average_precisions.append(float(np.sum(precision * top) / min(len(pos), 10)))
    return np.array(first_ranks, dtype=np.int64), np.array(average_precisions, dtype=np.float64)


def retrieval_metrics(scores, positives: list[list[int]], k_values=(1, 5, 10)) -> dict[str, float]:
    """R@k (any relevant item in the top k), mAP@10 and median rank of the first relevant item.

    scores: (queries, items) similarities; positives[q]: indices of the items relevant to q.
    """
    ks = _check_k_values(k_values)
    ranks, average_precisions = first_relevant_ranks(scores, positives)
    if len(ranks) == 0:
        raise ValueError("no queries")
    result = {f"R@{k}": float(np.mean(ranks <= k)) for k in ks}
    result["mAP@10"] = float(np.mean(average_precisions))
    result["median_rank"] = float(np.median(ranks))
    return result


def multi_caption_positives(caption_to_audio: list[int], num_audio: int) -> tuple[list[list[int]], list[list[int]]]:
    """The multi-caption protocol from an explicit caption -> audio map.

    text-to-audio: every caption is a query whose positive is its audio.
    audio-to-text: every audio is a query whose positives are all of its captions.
    """
    t2a = [[int(a)] for a in caption_to_audio]
    bad = [a for a in caption_to_audio if not 0 <= int(a) < num_audio]
    if bad:
        raise ValueError(f"captions point at audio indices outside 0..{num_audio - 1}: {bad[:5]}")
    by_audio: dict[int, list[int]] = defaultdict(list)
    for c, a in enumerate(caption_to_audio):
        by_audio[int(a)].append(c)
    missing = [a for a in range(num_audio) if a not in by_audio]
    if missing:
        raise ValueError(f"audio items without captions: {missing[:5]}")
    a2t = [by_audio[a] for a in range(num_audio)]
    return t2a, a2t


def _pairs(pairs) -> np.ndarray:
    pairs = np.asarray(pairs, dtype=np.float64)
    if pairs.size == 0:
        return pairs.reshape(0, 2)
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise ValueError(f"expected (score_true, score_negative) pairs, shape (n, 2); got {pairs.shape}")
    return pairs


def pair_wins(pairs) -> np.ndarray:
    """True where the true caption scores strictly above the negative (ties and NaNs miss)."""
    pairs = _pairs(pairs)
    return pairs[:, 0] > pairs[:, 1]


def modifier_accuracy(pairs, kinds: list[str]) -> dict[str, float]:
    """Share of (score_true, score_negative) pairs with the true caption strictly ahead; ties miss.

    An empty input gives accuracy NaN (there is nothing to be right about).
    """
    wins = pair_wins(pairs)
    kinds = [str(k) for k in kinds]
    if len(wins) != len(kinds):
        raise ValueError(f"{len(wins)} score pairs but {len(kinds)} kinds")
    result: dict[str, float] = {"accuracy": float(np.mean(wins)) if len(wins) else float("nan")}
    kinds_array = np.array(kinds, dtype=object)
    for kind in sorted(set(kinds)):
        mask = kinds_array == kind
        result[f"accuracy/{kind}"] = float(np.mean(wins[mask]))
        result[f"count/{kind}"] = int(mask.sum())
    return result


def bootstrap_ci(outcomes, n_resamples: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean of `outcomes` (e.g. 0/1 wins).

    Seeded and deterministic; an empty input gives (nan, nan).
    """
    values = np.asarray(outcomes, dtype=np.float64).ravel()
    if values.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    chunk = max(1, 2_000_000 // values.size)  # bound memory: resample in chunks
    means = np.concatenate([values[rng.integers(0, values.size, size=(min(chunk, n_resamples - start), values.size))].mean(axis=1)
                            for start in range(0, n_resamples, chunk)])
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def paired_bootstrap_ci(a, b, n_resamples: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of mean(b) - mean(a) over the same items (resampled together)."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired outcomes must have the same length; got {a.size} and {b.size}")
    return bootstrap_ci(b - a, n_resamples=n_resamples, seed=seed, level=level)
