"""Paired differences of two evaluated runs on the same test pairs: run B - run A, per kind and
direction, for every score (raw and bias-corrected), with a paired bootstrap 95% CI.

    python eval/evaluate_clap.py --compare RUN_A RUN_B --output_dir DIR   # writes compare.json, compare.md
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..retrieval import paired_bootstrap_ci
from .errors import EvaluationError
from .group_scores import SCORES, all_outcomes
from .pair_records import has_priors, read_pairs, similarities
from .score_report import groups_of


def shared_outcomes(runs: list[dict], keys: list) -> tuple[list[dict], list[str], list[str], list[str]]:
    """Each run's outcomes on `keys` (in that order), the pairs' kinds and details, and the variants all runs have."""
    variants = ["raw"] + (["corrected"] if all(has_priors(r.values()) for r in runs) else [])
    table = [all_outcomes(similarities([run[k] for k in keys])) for run in runs]
    kinds = [runs[0][k]["kind"] for k in keys]
    details = [k[1] for k in keys]
    return table, kinds, details, variants


def shared_keys(runs: list[dict]) -> list:
    keys = set(runs[0])
    for run in runs[1:]:
        keys &= set(run)
    if not keys:
        raise EvaluationError("the runs share no test pair: were they evaluated on the same split?")
    return sorted(keys)


def paired_difference(a: np.ndarray, b: np.ndarray, n_resamples: int, seed: int) -> dict | None:
    """mean(b) - mean(a) over the pairs both score (not NaN), with its paired bootstrap CI; None if none."""
    keep = ~(np.isnan(a) | np.isnan(b))
    if not keep.any():
        return None
    lo, hi = paired_bootstrap_ci(a[keep], b[keep], n_resamples=n_resamples, seed=seed)
    return {"difference": float(b[keep].mean() - a[keep].mean()), "ci95": [lo, hi], "count": int(keep.sum())}


def compare_runs(run_a: dict, run_b: dict, n_resamples: int = 1000, seed: int = 0) -> dict:
    """{group: {variant: {score: {difference, ci95, count}}}} of B - A over their shared pairs."""
    keys = shared_keys([run_a, run_b])
    (out_a, out_b), kinds, details, variants = shared_outcomes([run_a, run_b], keys)
    result = {}
    for group, mask in groups_of(kinds, details).items():
        cells = {}
        for variant in variants:
            diffs = {s: paired_difference(out_a[variant][s][mask], out_b[variant][s][mask], n_resamples, seed) for s in SCORES}
            cells[variant] = {s: d for s, d in diffs.items() if d is not None}
        result[group] = cells
    return result


def diff_cell(entry) -> str:
    """`+0.012 [-0.03, +0.05]`, marked ✓ / ✗ when the CI lies above / below 0."""
    if not entry:
        return "–"
    lo, hi = entry["ci95"]
    mark = " ✓" if lo > 0 else " ✗" if hi < 0 else ""
    return f"{entry['difference']:+.3f} [{lo:+.2f}, {hi:+.2f}]{mark}"


def comparison_markdown(result: dict, title: str) -> list[str]:
    """One table per variant: a row per kind / direction, a column per score."""
    lines = [f"## {title}", ""]
    for variant in ("raw", "corrected"):
        if not any(variant in cells for cells in result.values()):
            continue
        lines += [f"### {variant} similarities" if variant == "raw" else "### bias-corrected (each caption's and clip's prior removed)", "",
                  "| kind | pairs | " + " | ".join(SCORES) + " |", "|---|---:|" + "---:|" * len(SCORES)]
        for group, cells in result.items():
            row = cells.get(variant, {})
            count = row.get("pairwise", {}).get("count", 0)
            lines.append(f"| {group} | {count} | " + " | ".join(diff_cell(row.get(s)) for s in SCORES) + " |")
        lines.append("")
    return lines


def write_comparison(run_a: Path, run_b: Path, output_dir: Path, n_resamples: int, seed: int) -> dict:
    """compare.json and compare.md in `output_dir`: B - A with the pairs they share."""
    result = compare_runs(read_pairs(run_a), read_pairs(run_b), n_resamples, seed)
    output_dir.mkdir(parents=True, exist_ok=True)
    meta = {"run_a": str(run_a), "run_b": str(run_b), "bootstrap_resamples": n_resamples, "seed": seed}
    (output_dir / "compare.json").write_text(json.dumps({"meta": meta, "difference": result}, indent=2) + "\n")
    lines = [f"# `{run_b}` − `{run_a}`", "",
             "Paired over the test pairs both runs scored; paired bootstrap 95% CI "
             f"({n_resamples} resamples, seed {seed}); ✓ / ✗: the CI lies above / below 0. Scores: "
             "docs/experiment.md, \"Issue 27\".", ""]
    (output_dir / "compare.md").write_text("\n".join(lines + comparison_markdown(result, "B − A")))
    return result
