"""Agreement and diversity statistics: Fleiss' kappa, distinct-n and self-BLEU.

No installed library provides them (no nltk, sacrebleu or statsmodels; `evaluate`'s BLEU loads
from the Hub), so they are written here, each checked in the tests against a published worked
example: Fleiss (1971) as tabulated on Wikipedia, and NLTK's `sentence_bleu` documentation.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np


def fleiss_kappa(counts) -> float | None:
    """Fleiss' kappa of a subjects x categories table of rating counts (each row sums to the raters).

    None when undefined: no subjects, fewer than two raters, or every rating in one category
    (chance agreement is then 1: perfect agreement that chance alone explains).
    """
    table = np.asarray(counts, dtype=float)
    if table.ndim != 2 or table.shape[0] == 0:
        return None
    raters = table.sum(axis=1)
    if raters.min() != raters.max() or raters[0] < 2:
        raise ValueError("every subject needs the same number (>= 2) of ratings")
    n = raters[0]
    per_subject = ((table * table).sum(axis=1) - n) / (n * (n - 1))
    shares = table.sum(axis=0) / table.sum()
    observed, chance = per_subject.mean(), float((shares * shares).sum())
    if chance >= 1.0 - 1e-12:
        return None
    return float((observed - chance) / (1.0 - chance))


def ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(texts: list[list[str]], n: int) -> float | None:
    """Unique n-grams / all n-grams over tokenised texts (Li et al., 2016); None without any n-gram."""
    grams = [g for tokens in texts for g in ngrams(tokens, n)]
    return len(set(grams)) / len(grams) if grams else None


def sentence_bleu(hypothesis: list[str], references: list[list[str]], max_n: int = 4, epsilon: float = 0.1) -> float:
    """BLEU-4 of one tokenised sentence against references, as NLTK's `sentence_bleu` with
    `SmoothingFunction().method1` (what self-BLEU uses, Zhu et al. 2018): clipped n-gram precisions
    (an order with no match counts `epsilon` matches), geometric mean, brevity penalty against the
    closest reference length. Short captions often share no 4-gram: unsmoothed, most would score 0.
    A hypothesis shorter than `max_n` words is scored on the orders it has ("Rain falls." against
    itself is 1, where NLTK gives 0)."""
    if not hypothesis:
        return 0.0
    max_n = min(max_n, len(hypothesis))
    log_sum = 0.0
    for n in range(1, max_n + 1):
        grams = Counter(ngrams(hypothesis, n))
        most = Counter()
        for reference in references:
            for gram, count in Counter(ngrams(reference, n)).items():
                most[gram] = max(most[gram], count)
        matched = sum(min(count, most[gram]) for gram, count in grams.items()) or epsilon
        log_sum += math.log(matched / sum(grams.values())) / max_n
    length = len(hypothesis)
    closest = min((len(r) for r in references), key=lambda r: (abs(r - length), r))
    brevity = 1.0 if length > closest else math.exp(1 - closest / length)
    return brevity * math.exp(log_sum)


def self_bleu(groups: list[list[list[str]]]) -> float | None:
    """Mean BLEU of each text against the other texts of its group (Zhu et al., 2018, per recipe):
    1 when a group's texts are all the same, lower the more they vary. Groups of one text count not."""
    scores = [sentence_bleu(text, group[:i] + group[i + 1:]) for group in groups if len(group) > 1
              for i, text in enumerate(group)]
    return float(np.mean(scores)) if scores else None
