"""Scores of (clip x, caption c, counterfactual clip x', its caption c') quadruples, raw and bias-corrected.

From the four similarities of a quadruple (CompA, Winoground):

- pairwise: s(x,c) > s(x,c')                                (today's accuracy: pick the caption)
- text:     s(x,c) > s(x,c')  and  s(x',c') > s(x',c)       (each clip picks its own caption)
- audio:    s(x,c) > s(x',c)  and  s(x',c') > s(x,c')       (each caption picks its own clip)
- group:    text and audio

Ties miss. A text encoder that prefers one caption of the pair whatever the clip wins exactly
one of the two text comparisons: pairwise 0.5 over both directions, text score 0.

Bias correction (CSLS, Conneau et al. 2018; QB-Norm, Bogolin et al. 2022), on both sides:
each caption's prior p(c), its mean similarity to every clip of the split, and each clip's
prior q(y), its mean similarity to every caption of the split, are subtracted,
s~(y,c) = s(y,c) - p(c) - q(y), and the same scores are computed on s~. A text comparison holds
the clip fixed, so only the caption priors act on it (pairwise and text scores: a caption the
model prefers everywhere); an audio comparison holds the caption fixed, so only the clip priors
act on it (a clip, or a counterfactual, that is closer to every caption).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

SCORES = ("pairwise", "text", "audio", "group")


@dataclass(frozen=True)
class QuadSimilarities:
    """Per pair: s(x,c), s(x,c'), and (NaN where the pair has no counterfactual clip) s(x',c), s(x',c');
    the caption priors p(c), p(c') and the clip priors q(x), q(x') (zeros: no correction)."""

    x_c: np.ndarray
    x_n: np.ndarray
    cf_c: np.ndarray
    cf_n: np.ndarray
    prior_c: np.ndarray
    prior_n: np.ndarray
    prior_x: np.ndarray
    prior_cf: np.ndarray

    @classmethod
    def of(cls, x_c, x_n, cf_c=None, cf_n=None, prior_c=None, prior_n=None, prior_x=None, prior_cf=None) -> "QuadSimilarities":
        x_c = np.asarray(x_c, dtype=np.float64)
        fill = lambda v, default: np.full(x_c.shape, default) if v is None else np.asarray(v, dtype=np.float64)  # noqa: E731
        return cls(x_c, fill(x_n, np.nan), fill(cf_c, np.nan), fill(cf_n, np.nan), fill(prior_c, 0.0), fill(prior_n, 0.0),
                   fill(prior_x, 0.0), fill(prior_cf, 0.0))

    def corrected(self) -> "QuadSimilarities":
        """Every similarity minus its caption's and its clip's prior (priors then zero)."""
        zero = np.zeros_like(self.prior_c)
        return QuadSimilarities(self.x_c - self.prior_c - self.prior_x, self.x_n - self.prior_n - self.prior_x,
                                self.cf_c - self.prior_c - self.prior_cf, self.cf_n - self.prior_n - self.prior_cf,
                                zero, zero, zero, zero)

    def select(self, mask) -> "QuadSimilarities":
        return QuadSimilarities(*(getattr(self, f.name)[mask] for f in fields(self)))

    @property
    def has_clip(self) -> np.ndarray:
        return ~(np.isnan(self.cf_c) | np.isnan(self.cf_n))


def outcomes(sim: QuadSimilarities) -> dict[str, np.ndarray]:
    """Per pair, 1.0 / 0.0 for each score; NaN for text, audio and group where there is no counterfactual clip."""
    with np.errstate(invalid="ignore"):
        pairwise = sim.x_c > sim.x_n
        text = pairwise & (sim.cf_n > sim.cf_c)
        audio = (sim.x_c > sim.cf_c) & (sim.cf_n > sim.x_n)
    missing = ~sim.has_clip
    result = {"pairwise": pairwise.astype(np.float64)}
    for name, won in (("text", text), ("audio", audio), ("group", text & audio)):
        result[name] = np.where(missing, np.nan, won.astype(np.float64))
    return result


def all_outcomes(sim: QuadSimilarities) -> dict[str, dict[str, np.ndarray]]:
    """{"raw": outcomes, "corrected": outcomes of the prior-corrected similarities}."""
    return {"raw": outcomes(sim), "corrected": outcomes(sim.corrected())}


def mean_similarity(items: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Each item's mean similarity to every embedding of `pool` (a caption's prior over the split's clips,
    a clip's over its captions): item . mean of the pool, which is the mean of the dot products."""
    if len(pool) == 0:
        return np.zeros(len(items))
    return np.asarray(items, dtype=np.float64) @ np.asarray(pool, dtype=np.float64).mean(axis=0)
