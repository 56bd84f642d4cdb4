"""Retrieval and modifier-accuracy metrics: pure functions over score matrices.

Ranking rule (deterministic, pessimistic): items are sorted by score, descending; among
equal scores the non-relevant items come first, then relevant ones by index. A model that
scores everything the same therefore gets no credit.
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


def retrieval_metrics(scores, positives: list[list[int]], k_values=(1, 5, 10)) -> dict[str, float]:
    """R@k (any relevant item in the top k), mAP@10 and median rank of the first relevant item.

    scores: (queries, items) similarities; positives[q]: indices of the items relevant to q.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or len(scores) != len(positives):
        raise ValueError(f"scores must be (queries, items) with one positives list per query; got {scores.shape} and {len(positives)}")
    first_ranks, average_precisions = [], []
    for q, (row, pos) in enumerate(zip(scores, positives)):
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
    ranks = np.array(first_ranks)
    result = {f"R@{k}": float(np.mean(ranks <= k)) for k in k_values}
    result["mAP@10"] = float(np.mean(average_precisions))
    result["median_rank"] = float(np.median(ranks))
    return result


def multi_caption_positives(caption_to_audio: list[int], num_audio: int) -> tuple[list[list[int]], list[list[int]]]:
    """The multi-caption protocol from an explicit caption -> audio map.

    text-to-audio: every caption is a query whose positive is its audio.
    audio-to-text: every audio is a query whose positives are all of its captions.
    """
    t2a = [[int(a)] for a in caption_to_audio]
    by_audio: dict[int, list[int]] = defaultdict(list)
    for c, a in enumerate(caption_to_audio):
        by_audio[int(a)].append(c)
    missing = [a for a in range(num_audio) if a not in by_audio]
    if missing:
        raise ValueError(f"audio items without captions: {missing[:5]}")
    a2t = [by_audio[a] for a in range(num_audio)]
    return t2a, a2t


def modifier_accuracy(pairs, kinds: list[str]) -> dict[str, float]:
    """Share of (score_true, score_negative) pairs with the true caption strictly ahead; ties miss."""
    pairs = np.asarray(pairs, dtype=np.float64).reshape(-1, 2)
    if len(pairs) != len(kinds):
        raise ValueError(f"{len(pairs)} score pairs but {len(kinds)} kinds")
    wins = pairs[:, 0] > pairs[:, 1]
    result = {"accuracy": float(np.mean(wins)) if len(wins) else 0.0}
    for kind in sorted(set(kinds)):
        mask = np.array([k == kind for k in kinds])
        result[f"accuracy/{kind}"] = float(np.mean(wins[mask]))
        result[f"count/{kind}"] = int(mask.sum())
    return result
