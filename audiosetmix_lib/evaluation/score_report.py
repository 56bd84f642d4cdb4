"""Per-kind summaries of pair outcomes, each with a seeded percentile bootstrap 95% CI."""

from __future__ import annotations

import numpy as np

from ..retrieval import bootstrap_ci, pair_wins
from .group_scores import SCORES, QuadSimilarities, all_outcomes


def summary(values: np.ndarray, n_resamples: int, seed: int) -> dict:
    """{value, ci95, count} of the non-NaN outcomes; value None where there are none."""
    values = values[~np.isnan(values)]
    if values.size == 0:
        return {"value": None, "ci95": [None, None], "count": 0}
    lo, hi = bootstrap_ci(values, n_resamples=n_resamples, seed=seed)
    return {"value": float(values.mean()), "ci95": [lo, hi], "count": int(values.size)}


def groups_of(kinds: list[str], details: list[str]) -> dict[str, np.ndarray]:
    """"all", each kind, and each refined detail (`modifier:louder`) -> mask over the pairs."""
    kinds_arr, details_arr = np.array(kinds, dtype=object), np.array(details, dtype=object)
    groups = {"all": np.ones(len(kinds), dtype=bool)}
    groups.update({k: kinds_arr == k for k in sorted(set(kinds))})
    groups.update({d: details_arr == d for d in sorted(set(details)) if ":" in d})
    return groups


def group_score_report(sim: QuadSimilarities, kinds: list[str], details: list[str], n_resamples: int, seed: int) -> dict:
    """Per group: raw and bias-corrected pairwise, text, audio and group scores. Without any counterfactual
    clip the text, audio and group scores are left out (only the pairwise, text-side score is defined)."""
    table = all_outcomes(sim)
    scores = SCORES if sim.has_clip.any() else ("pairwise",)
    per_group = {}
    for group, mask in groups_of(kinds, details).items():
        per_group[group] = {variant: {s: summary(table[variant][s][mask], n_resamples, seed) for s in scores}
                            for variant in ("raw", "corrected")}
    return {"pairs": len(kinds), "quadruples": int(sim.has_clip.sum()), "scores": list(scores), "per_group": per_group}


def modifier_report(pairs: np.ndarray, kinds: list[str], metric, n_resamples: int, seed: int) -> dict:
    """The `evaluate` metric's pairwise accuracy plus, per kind, {accuracy, count, ci95}."""
    raw = metric.compute(predictions=pairs.tolist(), references=kinds)
    wins = pair_wins(pairs)
    kinds_array = np.array(kinds, dtype=object)
    per_kind = {}
    for kind in sorted(set(kinds)):
        mask = kinds_array == kind
        lo, hi = bootstrap_ci(wins[mask], n_resamples=n_resamples, seed=seed)
        per_kind[kind] = {"accuracy": raw[f"accuracy/{kind}"], "count": raw[f"count/{kind}"], "ci95": [lo, hi]}
    lo, hi = bootstrap_ci(wins, n_resamples=n_resamples, seed=seed)
    return {"accuracy": raw["accuracy"], "count": int(len(wins)), "ci95": [lo, hi], "per_kind": per_kind, "evaluate": raw}
