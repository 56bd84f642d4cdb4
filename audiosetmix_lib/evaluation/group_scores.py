"""Scores of (clip x, caption c, counterfactual clip x', its caption c') quadruples, raw and bias-corrected.

From the four similarities of a quadruple (CompA, Winoground):

- pairwise: s(x,c) > s(x,c')                                (today's accuracy: pick the caption)
- text:     s(x,c) > s(x,c')  and  s(x',c') > s(x',c)       (each clip picks its own caption)
- audio:    s(x,c) > s(x',c)  and  s(x',c') > s(x,c')       (each caption picks its own clip)
- group:    text and audio

Ties miss. A text encoder that prefers one caption of the pair whatever the clip wins exactly
one of the two text comparisons: pairwise 0.5 over both directions, text score 0.

Bias correction (CSLS, Conneau et al. 2018; QB-Norm, Bogolin et al. 2022): each caption's
prior p(c), its mean similarity to every clip of the split, is subtracted from its similarities,
s~(y,c) = s(y,c) - p(c), and the same scores are computed on s~. The audio comparisons hold the
caption fixed, so the audio score is the same raw and corrected; the text side is what a prior
can fake.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

SCORES = ("pairwise", "text", "audio", "group")


@dataclass(frozen=True)
class QuadSimilarities:
    """Per pair: s(x,c), s(x,c'), and (NaN where the pair has no counterfactual clip) s(x',c), s(x',c');
    the caption priors p(c), p(c') (zeros: no correction)."""

    x_c: np.ndarray
    x_n: np.ndarray
    cf_c: np.ndarray
    cf_n: np.ndarray
    prior_c: np.ndarray
    prior_n: np.ndarray

    @classmethod
    def of(cls, x_c, x_n, cf_c=None, cf_n=None, prior_c=None, prior_n=None) -> "QuadSimilarities":
        x_c = np.asarray(x_c, dtype=np.float64)
        fill = lambda v, default: np.full(x_c.shape, default) if v is None else np.asarray(v, dtype=np.float64)  # noqa: E731
        return cls(x_c, fill(x_n, np.nan), fill(cf_c, np.nan), fill(cf_n, np.nan), fill(prior_c, 0.0), fill(prior_n, 0.0))

    def corrected(self) -> "QuadSimilarities":
        """Every similarity of a caption minus that caption's prior (priors then zero)."""
        zero = np.zeros_like(self.prior_c)
        return QuadSimilarities(self.x_c - self.prior_c, self.x_n - self.prior_n, self.cf_c - self.prior_c,
                                self.cf_n - self.prior_n, zero, zero)

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


def caption_priors(text_emb: np.ndarray, audio_emb: np.ndarray) -> np.ndarray:
    """Each caption's mean similarity to all clips: t(c) . mean over clips of a(y) (the mean of dot products)."""
    if len(audio_emb) == 0:
        return np.zeros(len(text_emb))
    return np.asarray(text_emb, dtype=np.float64) @ np.asarray(audio_emb, dtype=np.float64).mean(axis=0)
