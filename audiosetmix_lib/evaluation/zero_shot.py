"""Zero-shot classification: an audiofolder's clips against one prompt per class, several prompt sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..captions.lexicon import _clean_name, phrase_for, with_article
from .errors import EvaluationError
from .split_data import audio_column_of, column_iter

ZERO_SHOT_PROMPTS = {  # name -> what the prompt is (built by `zero_shot_prompts`)
    "sound_of": "'the sound of a {name}', name = the first comma part of the label, lower-cased",
    "lexicon": "the caption lexicon's phrase, e.g. 'a dog barks'",
    "label": "the lower-cased class name, as the label-only training captions write it",
}


def zero_shot_prompts(label: str) -> dict[str, str]:
    name = _clean_name(label)
    phrase = phrase_for(label)
    lexicon = " ".join(with_article(phrase.article, [phrase.noun]) + [phrase.verb])
    return {"sound_of": f"the sound of a {name}", "lexicon": lexicon, "label": label.strip().lower()}


def load_zero_shot(folder: str, where: str | None):
    """(audio cells, labels) from an audiofolder-layout folder: metadata.csv (file_name, label) or one sub-folder per label."""
    import datasets

    root = Path(folder)
    if not root.is_dir():
        raise EvaluationError(f"--zero_shot_dataset {folder}: not a folder")
    dd = datasets.load_dataset("audiofolder", data_dir=str(root))
    parts = [dd[s] for s in sorted(dd)]
    ds = datasets.concatenate_datasets(parts) if len(parts) > 1 else parts[0]
    audio_col = audio_column_of(ds, None)
    ds = ds.cast_column(audio_col, datasets.Audio(decode=False))
    label_col = "label" if "label" in ds.column_names else "labels" if "labels" in ds.column_names else None
    if label_col is None:
        raise EvaluationError(f"{folder}: no label column (columns: {ds.column_names})")
    feature = ds.features[label_col]
    if where:
        column, _, values = where.partition("=")
        if column not in ds.column_names or not values:
            raise EvaluationError(f"--zero_shot_where {where!r}: expected COLUMN=VALUE[,VALUE] with a column of {ds.column_names}")
        keep = {v.strip() for v in values.split(",")}
        ds = ds.filter(lambda v: str(v) in keep, input_columns=column)
    labels = []
    for value in ds[label_col]:
        if isinstance(feature, datasets.ClassLabel):
            value = feature.int2str(value)
        elif isinstance(value, list):
            value = value[0] if value else ""
        labels.append(str(value))
    if not labels:
        raise EvaluationError(f"{folder}: no clips to classify")
    return column_iter(ds, audio_col), labels


def zero_shot_report(audio_emb: np.ndarray, labels: list[str], text_emb_of, headline: str) -> dict:
    """Accuracy per prompt set; a clip is right when its class scores strictly above every other (ties miss)."""
    classes = sorted(set(labels))
    truth = np.array([classes.index(label) for label in labels])
    prompts_per_class = [zero_shot_prompts(c) for c in classes]
    prompt_sets = {name: [p[name] for p in prompts_per_class] for name in ZERO_SHOT_PROMPTS}
    if headline not in prompt_sets:
        prompt_sets["custom"] = [headline.format(label=c, name=zero_shot_prompts(c)["sound_of"][len("the sound of a "):]) for c in classes]
        headline = "custom"
    results = {}
    for name, texts in prompt_sets.items():
        scores = audio_emb @ text_emb_of(texts).T
        true_scores = scores[np.arange(len(truth)), truth]
        others = scores.copy()
        others[np.arange(len(truth)), truth] = -np.inf
        correct = true_scores > others.max(axis=1) if len(classes) > 1 else np.ones(len(truth), dtype=bool)
        per_class = {c: float(np.mean(correct[truth == i])) for i, c in enumerate(classes)}
        results[name] = {"accuracy": float(np.mean(correct)), "per_class": per_class, "prompts": dict(zip(classes, texts, strict=True))}
    return {"accuracy": results[headline]["accuracy"], "prompt": headline, "num_clips": len(labels),
            "num_classes": len(classes), "chance": 1.0 / len(classes), "by_prompt": results}
