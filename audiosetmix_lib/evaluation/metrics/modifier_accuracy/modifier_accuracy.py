"""Modifier accuracy: does the model score the true caption above its hard negative?

A thin `evaluate` wrapper over `audiosetmix_lib.retrieval.modifier_accuracy` (the pure,
tested implementation). Shipped in the package; load it offline with
`evaluate.load(str(audiosetmix_lib.evaluation.metric_modules.metric_path("modifier_accuracy")))`.
"""

import datasets
import evaluate

from audiosetmix_lib.retrieval import modifier_accuracy

_DESCRIPTION = """
Pairwise accuracy on hard negatives. Each prediction is `[score_true, score_negative]`: the
similarity of an audio clip to its true caption and to one negative caption; each reference
is the negative's kind (`order`, `modifier`, `relation`, `event`, `missing`, `extra`, or a
finer name such as `modifier:louder`). A pair is right when score_true > score_negative;
a tie counts as a miss.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: list of [score_true, score_negative] pairs of floats.
    references: list of strings, the kind of each negative.
Returns:
    dict with `accuracy` over all pairs, and `accuracy/<kind>` and `count/<kind>` per kind.
Examples:
    >>> metric = evaluate.load(str(metric_path("modifier_accuracy")))
    >>> metric.compute(predictions=[[0.9, 0.1], [0.5, 0.5]], references=["order", "modifier"])
    {'accuracy': 0.5, 'accuracy/modifier': 0.0, 'count/modifier': 1, 'accuracy/order': 1.0, 'count/order': 1}
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
            "references": datasets.Value("string"),
        }
    )


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class ModifierAccuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=[_features("float64"), _features("float32")],
            reference_urls=["https://arxiv.org/abs/2405.11093"],
        )

    def _compute(self, predictions, references):
        return modifier_accuracy([list(p) for p in predictions], list(references))
