"""The seed-level answer: a difference between two arms averaged over training seeds, with a
hierarchical bootstrap CI and the smallest difference the design can detect.

Each bootstrap replicate draws the training seeds with replacement, then one resample of the
test pairs shared by every drawn seed (the pairs are the same items at every seed: a crossed
design, so one draw keeps the item effect common to the seeds), and averages the per-pair
differences. The CI is the replicates' 2.5 / 97.5 % quantiles; the standard error is their
standard deviation. The minimum detectable difference is (z(0.975) + z(0.80)) x SE = 2.80 x SE:
a true difference that large is found (a two-sided 95 % CI that excludes 0) four times in five.
With one seed the replicates resample test pairs only, and the seed-to-seed spread is not in
the SE: the minimum detectable difference is then a lower bound.
"""

from __future__ import annotations

import numpy as np

from .compare import shared_keys, shared_outcomes
from .group_scores import SCORES
from .score_report import groups_of

DETECTABLE_Z = 1.959964 + 0.841621  # z(0.975) + z(0.80): two-sided 5 % test, 80 % power


def hierarchical_bootstrap(differences: np.ndarray, n_resamples: int = 1000, seed: int = 0) -> dict:
    """`differences`: (seeds, pairs) per-pair differences (other - base) at each training seed.

    Returns the seed-averaged mean, its 95 % CI, standard error, the minimum detectable difference,
    and the seed and pair counts."""
    d = np.asarray(differences, dtype=np.float64)
    if d.ndim != 2 or d.size == 0:
        raise ValueError(f"expected a (seeds, pairs) array with at least one value; got shape {d.shape}")
    n_seeds, n_pairs = d.shape
    rng = np.random.default_rng(seed)
    replicates = np.empty(n_resamples)
    for b in range(n_resamples):
        seeds = rng.integers(0, n_seeds, size=n_seeds)
        pairs = rng.integers(0, n_pairs, size=n_pairs)
        replicates[b] = d[np.ix_(seeds, pairs)].mean()
    lo, hi = np.quantile(replicates, [0.025, 0.975])
    se = float(replicates.std(ddof=1)) if n_resamples > 1 else float("nan")
    return {"difference": float(d.mean()), "ci95": [float(lo), float(hi)], "se": se,
            "detectable": DETECTABLE_Z * se, "seeds": n_seeds, "count": n_pairs,
            "per_seed": [float(x) for x in d.mean(axis=1)]}


def seed_level_differences(base_runs: list[dict], other_runs: list[dict], n_resamples: int = 1000, seed: int = 0) -> dict:
    """{group: {variant: {score: hierarchical_bootstrap}}} of other - base, the i-th run of each list
    trained at the same seed, over the test pairs every run scored."""
    if not base_runs or len(base_runs) != len(other_runs):
        raise ValueError("one base run and one other run per seed")
    keys = shared_keys(base_runs + other_runs)
    table, kinds, details, variants = shared_outcomes(base_runs + other_runs, keys)
    base, other = table[:len(base_runs)], table[len(base_runs):]
    result = {}
    for group, mask in groups_of(kinds, details).items():
        cells = {}
        for variant in variants:
            cells[variant] = {}
            for score in SCORES:
                d = np.stack([o[variant][score][mask] - b[variant][score][mask] for b, o in zip(base, other, strict=True)])
                d = d[:, ~np.isnan(d).any(axis=0)]
                if d.shape[1]:
                    cells[variant][score] = hierarchical_bootstrap(d, n_resamples, seed)
        result[group] = cells
    return result
