"""modifier_pairs.jsonl: one line per (clip, hard negative) pair with every similarity the scores need,
so two evaluated runs can be compared pair by pair without their models.

Fields: id, kind, detail, negative (its caption), score_true s(x,c), score_negative s(x,c'),
prior_true p(c), prior_negative p(c') (each caption's mean similarity to the split's clips),
prior_clip q(x) (the clip's mean similarity to the split's captions), and, where the row holds
the negative's counterfactual clip x', cf_true s(x',c), cf_negative s(x',c') and prior_cf q(x')
(null otherwise).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import EvaluationError
from .group_scores import QuadSimilarities

PAIRS_FILE = "modifier_pairs.jsonl"


def _number(value) -> float | None:
    return None if value is None or np.isnan(value) else float(value)


def write_pairs(path: Path, ids: list[str], rows: list[int], kinds: list[str], details: list[str], texts: list[str],
                sim: QuadSimilarities) -> None:
    with open(path, "w") as f:
        for j, r in enumerate(rows):
            f.write(json.dumps({"id": ids[r], "kind": kinds[j], "detail": details[j], "negative": texts[j],
                                "score_true": float(sim.x_c[j]), "score_negative": float(sim.x_n[j]),
                                "prior_true": float(sim.prior_c[j]), "prior_negative": float(sim.prior_n[j]),
                                "prior_clip": float(sim.prior_x[j]), "cf_true": _number(sim.cf_c[j]),
                                "cf_negative": _number(sim.cf_n[j]), "prior_cf": _number(sim.prior_cf[j])}) + "\n")


def pair_key(record: dict) -> tuple[str, str, str]:
    """What identifies a test pair across runs: the row, the negative's detail and its caption."""
    return record["id"], record["detail"], record["negative"]


def read_pairs(run_dir: Path) -> dict[tuple[str, str, str], dict]:
    """The pair records of an evaluated run: `run_dir` is an evaluation's output folder (or a model folder
    whose `eval/` holds one)."""
    run_dir = Path(run_dir)
    path = next((p for p in (run_dir / PAIRS_FILE, run_dir / "eval" / PAIRS_FILE) if p.is_file()), None)
    if path is None:
        raise EvaluationError(f"{run_dir}: no {PAIRS_FILE} (evaluate the run first: eval/evaluate_clap.py --output_dir {run_dir})")
    with open(path) as f:
        return {pair_key(r): r for r in map(json.loads, f)}


def has_priors(records) -> bool:
    """Whether the records carry the priors (evaluations before the bias correction do not)."""
    return all("prior_true" in r and "prior_clip" in r for r in records)


def similarities(records: list[dict]) -> QuadSimilarities:
    """The records' similarities as arrays (missing values NaN, missing priors 0)."""
    def column(name, default):
        return [default if r.get(name) is None else r[name] for r in records]

    return QuadSimilarities.of(column("score_true", np.nan), column("score_negative", np.nan), column("cf_true", np.nan),
                               column("cf_negative", np.nan), column("prior_true", 0.0), column("prior_negative", 0.0),
                               column("prior_clip", 0.0), column("prior_cf", 0.0))
