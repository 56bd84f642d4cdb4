"""Retrieval metric: R@k, mAP@10 and median rank from a query-by-item score matrix.

A thin `evaluate` wrapper over `audiosetmix_lib.retrieval.retrieval_metrics` (the pure,
tested implementation). Shipped in the package; load it offline with
`evaluate.load(str(audiosetmix_lib.evaluation.metric_modules.metric_path("retrieval")))`.
"""

import datasets
import evaluate

from audiosetmix_lib.retrieval import retrieval_metrics

_DESCRIPTION = """
Text-audio retrieval metrics. `predictions[q]` holds the similarity of query q to every
item; `references[q]` the indices of the items relevant to q (the multi-caption protocol:
text-to-audio gives each caption its audio; audio-to-text gives each audio all its captions).

- R@k: fraction of queries with at least one relevant item in the top k.
- mAP@10: mean over queries of sum_{k<=10} P@k * rel_k / min(number relevant, 10).
- median_rank: median over queries of the 1-based rank of the first relevant item.

Ties count against the query: among items with equal scores the non-relevant ones rank
first (then the relevant ones by index), so a model that scores everything the same gets
no credit.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: list of lists of floats, (queries x items) similarity scores.
    references: list of lists of ints, the relevant item indices of each query.
    k_values: list of ints, the cut-offs of R@k (default [1, 5, 10]).
Returns:
    dict with `R@<k>` for each k, `mAP@10` and `median_rank`.
Examples:
    >>> metric = evaluate.load(str(metric_path("retrieval")))
    >>> metric.compute(predictions=[[0.9, 0.1], [0.2, 0.8]], references=[[0], [1]], k_values=[1])
    {'R@1': 1.0, 'mAP@10': 1.0, 'median_rank': 1.0}
"""

_CITATION = """
@article{xu2024audiosetmix,
  title   = {AudioSetMix: Enhancing Audio-Language Datasets with LLM-Assisted Augmentations},
  author  = {Xu, David and others},
  journal = {arXiv preprint arXiv:2405.11093},
  year    = {2024}
}
"""


def _features(dtype):
    return datasets.Features(
        {
            "predictions": datasets.Sequence(datasets.Value(dtype)),
            "references": datasets.Sequence(datasets.Value("int64")),
        }
    )


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Retrieval(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=[_features("float64"), _features("float32")],
            reference_urls=["https://arxiv.org/abs/2405.11093"],
        )

    def _compute(self, predictions, references, k_values=(1, 5, 10)):
        return retrieval_metrics(predictions, [list(r) for r in references], k_values=k_values)
