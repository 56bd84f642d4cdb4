"""Runs -> the figures of `consistency.json`: per run, agreement across runs, diversity beside the template's."""

from __future__ import annotations

from collections import Counter

import numpy as np

from ..captions.validate import REASONS, Validator, tokens
from ..describe import Description
from .facts import FACT_KINDS, Facts, facts_of, rating_table, slip_rates
from .metrics import distinct_n, fleiss_kappa, self_bleu
from .runs import Run


def read_runs(runs: list[Run], descriptions: list[Description], validator: Validator) -> list[list[Facts]]:
    """Every run's raw answers as facts (validator rules, every reason)."""
    return [[facts_of(validator.read(answer, d), d) for answer, d in zip(run.answers, descriptions, strict=True)] for run in runs]


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def run_figures(run: Run, facts: list[Facts], descriptions: list[Description]) -> dict:
    n = len(facts)
    reasons = Counter(r for f in facts for r in f.reasons)
    return {"model": run.model, "seed": run.seed, "answers": n,
            "accepted_rate": sum(1 for f in facts if not f.reasons) / n if n else None,
            "reason_rates": {r: reasons[r] / n for r in REASONS if reasons[r]},
            **slip_rates(facts, descriptions),
            "kept_rate": sum(run.kept) / n if n else None}


def agreement(runs: list[Run], per_run: list[list[Facts]]) -> dict:
    """Across one model's K runs: recipes whose answers say the same facts, rows kept alike, kappa per kind."""
    recipes = list(zip(*per_run, strict=True))
    kept = list(zip(*(run.kept for run in runs), strict=True))
    same = lambda facts, kind=None: len({(f.said if kind is None else frozenset(f.of_kind(kind).items()))  # noqa: E731
                                          for f in facts}) == 1
    return {
        "fact_agreement": _mean([float(same(facts)) for facts in recipes]),
        "kept_agreement": _mean([float(all(k) or not any(k)) for k in kept]),
        "kappa": {kind: fleiss_kappa(rating_table(per_run, kind)) if len(runs) > 1 else None for kind in FACT_KINDS},
        "by_kind": {kind: _mean([float(same(facts, kind)) for facts in recipes]) for kind in FACT_KINDS},
    }


def diversity(texts_per_run: list[list[str]]) -> dict:
    """distinct-1/2 per run (averaged over runs, so every corpus has one text per recipe) and self-BLEU per recipe."""
    runs = [[tokens(t) for t in texts if t is not None] for texts in texts_per_run]
    groups = [[tokens(t) for t in texts if t is not None] for texts in zip(*texts_per_run, strict=True)]
    return {"distinct_1": _mean([distinct_n(r, 1) for r in runs]),
            "distinct_2": _mean([distinct_n(r, 2) for r in runs]),
            "self_bleu": self_bleu(groups)}


def model_figures(runs: list[Run], per_run: list[list[Facts]], template: list[str]) -> dict:
    """One model's agreement and diversity: its accepted raw answers beside the template's captions of the same recipes
    (the template says the same in every run, so its self-BLEU is 1)."""
    accepted = [[a if not f.reasons else None for a, f in zip(run.answers, facts, strict=True)] for run, facts in zip(runs, per_run, strict=True)]
    return {"agreement": agreement(runs, per_run),
            "diversity": {**diversity(accepted), "template": diversity([template] * len(runs))}}


def least_consistent(per_run: list[list[Facts]], limit: int) -> list[int]:
    """Recipe positions whose runs disagree most (distinct fact sets, then rejected answers), at most `limit`."""
    scores = []
    for i, facts in enumerate(zip(*per_run, strict=True)):
        distinct, rejected = len({f.said for f in facts}), sum(1 for f in facts if f.reasons)
        if distinct > 1 or rejected:
            scores.append((-distinct, -rejected, i))
    return [i for _, _, i in sorted(scores)[:limit]]
