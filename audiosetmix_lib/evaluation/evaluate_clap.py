"""Evaluate a CLAP model: text-audio retrieval, modifier accuracy on hard negatives, zero-shot.

    python eval/evaluate_clap.py --model PATH_OR_HUB_ID --dataset_dir DIR_OR_HUB_ID --split test \
        --output_dir DIR [--zero_shot_dataset DIR] [--batch_size 32]

Writes to DIR:
  metrics.json           every number below, plus bootstrap 95% confidence intervals
  metrics.md             the same as Markdown tables
  recall_at_k.png        R@k curves, text-to-audio and audio-to-text
  modifier_accuracy.png  pairwise accuracy per negative kind, and per transform + direction
  modifier_pairs.jsonl   one line per (audio, negative) pair: scores and kinds (for paired comparisons)

Retrieval runs on any `datasets` dataset with an audio column and a `caption` (string) or
`captions` (list of strings) column (multi-caption protocol: text-to-audio, every caption is a
query; audio-to-text, an audio is found if any of its captions is). Modifier accuracy runs on
rows that carry `negatives` (AudioSetMix rows): for each negative, is the audio closer to its
true caption than to the negative? A tie is a miss. `modifier` negatives are also split by the
flipped transform and the true direction (`modifier:louder` = the audio has a louder event and
the negative says it is quieter), found by diffing the negative's recipe with the row's;
`relation` negatives likewise (`relation:follow` = the true clip says "followed by").

Audio: decoded with soundfile, mixed to mono, resampled to 48 kHz, cropped centrally to 10 s
or zero-padded at the end (never repeat-padded), then turned into log-mel features (the
training code's torch log-mel when `audiosetmix_lib.training.features` provides one, else
`ClapFeatureExtractor(truncation="rand_trunc", padding="pad")`). Embeddings are the
normalised `get_audio_features` / `get_text_features` pooler outputs; similarity is their
dot product.

The metric modules are loaded with `evaluate.load` from the repository's `eval/metrics/`, so
the script runs from any directory.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from ..audio_io import read_audio, read_audio_bytes, resample
from ..captions.lexicon import _clean_name, phrase_for, with_article
from ..dataset_path import DatasetPathError, check_dataset_arg, load_dataset_checked
from ..retrieval import bootstrap_ci, first_relevant_ranks, multi_caption_positives, pair_wins
from ..training.features import LogMel, add_time_channel, uses_time_channel
from ..transforms import MODIFIER_NAMES
from .errors import EvaluationError

# the `evaluate` metric modules stay in the repository's eval/metrics/<name>/<name>.py
METRICS_DIR = Path(__file__).resolve().parents[2] / "eval" / "metrics"
TARGET_SR = 48000
CLIP_SECONDS = 10.0
K_VALUES = (1, 5, 10)
ZERO_SHOT_PROMPTS = {  # name -> what the prompt is (built by `zero_shot_prompts`)
    "sound_of": "'the sound of a {name}', name = the first comma part of the label, lower-cased",
    "lexicon": "the caption lexicon's phrase, e.g. 'a dog barks'",
    "label": "the lower-cased class name, as the label-only training captions write it",
}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a ClapModel: local folder or Hub id")
    p.add_argument("--tokenizer", help="tokenizer folder or Hub id (default: the model's)")
    p.add_argument("--dataset_dir", "--dataset", dest="dataset", required=True, help="a datasets dataset: local folder (Hub layout or save_to_disk) or Hub id")
    p.add_argument("--dataset_config", help="dataset config name, if any")
    p.add_argument("--split", default="test")
    p.add_argument("--output_dir", required=True)
    p.add_argument("--audio_column", help="default: the dataset's (first) Audio column, else 'audio'")
    p.add_argument("--caption_column", help="default: 'caption' or 'captions'")
    p.add_argument("--max_rows", type=int, help="evaluate only the first N rows (quick checks)")
    p.add_argument("--batch_size", type=int, default=32)
    p.add_argument("--features", choices=["auto", "torch", "clap"], default="auto",
                   help="log-mel front end: the training code's torch module (torch), ClapFeatureExtractor (clap), "
                        "or torch when available (auto)")
    p.add_argument("--zero_shot_dataset", help="audiofolder-layout folder (metadata.csv with file_name,label) for zero-shot classification")
    p.add_argument("--zero_shot_where", help="keep only zero-shot clips whose metadata COLUMN has one of the VALUES: 'fold=5' or 'fold=4,5'")
    p.add_argument("--zero_shot_prompt", default="sound_of",
                   help="the headline zero-shot prompt: sound_of ('the sound of a {name}'), lexicon (the caption phrase, "
                        "'a dog barks'), label (the lower-cased class name), or a template with {label}/{name}; "
                        "all built-in prompts are reported too")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for confidence intervals")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap and of torch")
    p.add_argument("--max_k", type=int, default=50, help="largest k of the recall@k curves")
    p.add_argument("--no_plots", action="store_true")
    args = p.parse_args(argv)
    if args.batch_size < 1:
        p.error("--batch_size must be >= 1")
    return args


# ---------------------------------------------------------------- audio


def decode_audio(cell) -> tuple[np.ndarray, int]:
    """A `datasets` Audio cell (decode=False: {bytes, path}, or decoded {array, sampling_rate}) -> mono float32, rate."""

    if isinstance(cell, dict) and cell.get("bytes"):
        return read_audio_bytes(cell["bytes"])
    if isinstance(cell, dict) and cell.get("path"):
        return read_audio(cell["path"])
    if isinstance(cell, dict) and cell.get("array") is not None:
        samples = np.asarray(cell["array"], dtype=np.float32)
        return (samples.mean(axis=0) if samples.ndim == 2 else samples), int(cell["sampling_rate"])
    if isinstance(cell, str):
        return read_audio(cell)
    raise ValueError(f"cannot decode audio cell of type {type(cell).__name__}")


def fit_clip(samples: np.ndarray, sr: int, target_sr: int = TARGET_SR, seconds: float = CLIP_SECONDS) -> np.ndarray:
    """Resample to `target_sr`, then crop the central `seconds` or zero-pad at the end (no repeat-padding)."""

    samples = resample(np.asarray(samples, dtype=np.float32), int(sr), target_sr)
    n = int(round(seconds * target_sr))
    if len(samples) > n:
        start = (len(samples) - n) // 2
        return samples[start:start + n]
    return np.pad(samples, (0, n - len(samples)))


class Featurizer:
    """Waveforms (48 kHz, 10 s) -> the model's input features, (batch, 1, frames, mels);
    (batch, 2, frames, mels) with the time channel of a `--audio_time_channel` model."""

    def __init__(self, model_path: str, mode: str = "auto", time_channel: bool = False) -> None:
        from transformers import ClapFeatureExtractor

        self.time_channel = time_channel  # [log-mel, time] inputs (audiosetmix_lib.training.features)
        try:
            extractor = ClapFeatureExtractor.from_pretrained(model_path)
        except (OSError, ValueError):
            extractor = ClapFeatureExtractor()
        # the only settings that keep "A then B" intact on an unfused model (docs/design.md)
        extractor.truncation, extractor.padding = "rand_trunc", "pad"
        if extractor.sampling_rate != TARGET_SR:
            raise EvaluationError(f"the model's feature extractor expects {extractor.sampling_rate} Hz; CLAP uses {TARGET_SR}")
        self.extractor = extractor
        self.logmel = None
        if mode in ("auto", "torch"):
            self.logmel = _torch_logmel(extractor)
            if self.logmel is None and mode == "torch":
                raise EvaluationError("--features torch, but audiosetmix_lib.training.features.LogMel is not available")
        self.kind = ("torch LogMel (audiosetmix_lib.training.features)" if self.logmel is not None
                     else "ClapFeatureExtractor(truncation='rand_trunc', padding='pad')")

    def __call__(self, waveforms: list[np.ndarray]) -> dict:
        import torch

        if self.logmel is not None:
            with torch.inference_mode():
                features = self.logmel(torch.from_numpy(np.stack(waveforms).astype(np.float32)))
        else:
            out = self.extractor(waveforms, sampling_rate=TARGET_SR, truncation="rand_trunc", padding="pad", return_tensors="pt")
            features = out["input_features"]
        if self.time_channel:

            features = add_time_channel(features)
        return {"input_features": features}


def rate_note(model_rate: int, dataset_rate: int | None, dataset: str) -> str:
    """Say which rate the model expects and what happens to the dataset's audio (every clip goes through `fit_clip`)."""
    have = f"{dataset_rate} Hz" if dataset_rate else "stored at its files' own rates"
    action = "no resampling needed" if dataset_rate == model_rate else f"every clip is resampled to {model_rate} Hz (soxr)"
    return f"[eval] the model expects {model_rate} Hz audio; {dataset} is {have}: {action}"


def _torch_logmel(extractor):
    """The training code's torch log-mel built from `extractor` (same filters and STFT), if it can be built."""
    try:
        return LogMel.from_feature_extractor(extractor).eval()
    except (AttributeError, TypeError, ValueError):
        return None


# ---------------------------------------------------------------- model


def load_model(model_path: str, tokenizer_path: str | None):
    from transformers import AutoTokenizer, ClapModel

    model = ClapModel.from_pretrained(model_path).eval()
    if getattr(model.config.audio_config, "enable_fusion", False):
        raise EvaluationError("this script evaluates unfused CLAP models (10 s zero-padded, rand_trunc features); "
                         f"{model_path} has enable_fusion=True")
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_path or model_path)
    if len(tokenizer) < 10:
        raise EvaluationError(f"the tokenizer has only {len(tokenizer)} tokens (a broken tiny tokenizer?)")
    return model, tokenizer


def _max_text_length(model, tokenizer) -> int:
    positions = getattr(model.config.text_config, "max_position_embeddings", 514)
    limit = positions - 2 if positions > 2 else positions  # RoBERTa position ids start after the padding index
    return int(min(limit, tokenizer.model_max_length or limit))


def embed_texts(model, tokenizer, texts: list[str], batch_size: int) -> np.ndarray:
    import torch

    max_length = _max_text_length(model, tokenizer)
    chunks = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            enc = tokenizer(texts[start:start + batch_size], padding=True, truncation=True, max_length=max_length, return_tensors="pt")
            enc = {k: v for k, v in enc.items() if k in ("input_ids", "attention_mask")}
            out = model.get_text_features(**enc).pooler_output
            chunks.append(torch.nn.functional.normalize(out.float(), dim=-1).numpy())
    dim = model.config.projection_dim
    return np.concatenate(chunks) if chunks else np.zeros((0, dim), dtype=np.float32)


def embed_audio(model, featurizer: Featurizer, cells, batch_size: int) -> np.ndarray:
    """Decode, fit and embed audio cells batch by batch (never all waveforms in memory at once)."""
    import torch

    chunks, batch = [], []

    def flush():
        features = featurizer(batch)
        with torch.inference_mode():
            out = model.get_audio_features(**features).pooler_output
        chunks.append(torch.nn.functional.normalize(out.float(), dim=-1).numpy())
        batch.clear()

    for cell in cells:
        batch.append(fit_clip(*decode_audio(cell)))
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    dim = model.config.projection_dim
    return np.concatenate(chunks) if chunks else np.zeros((0, dim), dtype=np.float32)


# ---------------------------------------------------------------- data


def load_split(dataset: str, split: str, config: str | None = None):
    import datasets

    local = Path(dataset)
    if local.is_dir() and ((local / "state.json").exists() or (local / "dataset_dict.json").exists()):
        ds = datasets.load_from_disk(str(local))
        if isinstance(ds, datasets.DatasetDict):
            ds = ds[split]
        return ds
    return load_dataset_checked(dataset, "--dataset_dir", config, split=split)


def audio_column_of(ds, name: str | None) -> str:
    import datasets

    if name:
        if name not in ds.column_names:
            raise EvaluationError(f"no column {name!r} (columns: {ds.column_names})")
        return name
    audio = [c for c, f in ds.features.items() if isinstance(f, datasets.Audio)]
    if audio:
        return audio[0]
    if "audio" in ds.column_names:
        return "audio"
    raise EvaluationError(f"no audio column (columns: {ds.column_names}); pass --audio_column")


def captions_of(ds, name: str | None) -> tuple[list[str], list[int]]:
    """All captions and the caption -> row map (one caption per row, or a list per row)."""
    if name is None:
        name = "caption" if "caption" in ds.column_names else "captions" if "captions" in ds.column_names else None
        if name is None:
            raise EvaluationError(f"no 'caption' or 'captions' column (columns: {ds.column_names}); pass --caption_column")
    elif name not in ds.column_names:
        raise EvaluationError(f"no column {name!r} (columns: {ds.column_names})")
    texts, owner = [], []
    for i, value in enumerate(ds[name]):
        values = [value] if isinstance(value, str) else list(value or [])
        values = [v for v in values if isinstance(v, str) and v.strip()]
        if not values:
            raise EvaluationError(f"row {i} has no caption in column {name!r}")
        texts.extend(values)
        owner.extend([i] * len(values))
    return texts, owner


# ---------------------------------------------------------------- negatives


def negative_detail(row_recipe: str | None, negative: dict) -> str:
    """The negative's kind, refined by the true direction: the negative's optional `direction` field
    (`modifier:louder`: the clip is louder, the negative says quieter), else derived from the
    recipes for `modifier` (transform + true direction) and `relation` (true relation)."""
    kind = negative["kind"]
    if negative.get("direction"):  # written by the builder (and by any dataset without recipes)
        return f"{kind}:{negative['direction']}"
    if kind not in ("modifier", "relation") or not row_recipe or not negative.get("recipe"):
        return kind

    try:
        true_events = json.loads(row_recipe)["events"]
        neg_events = json.loads(negative["recipe"])["events"]
    except (ValueError, KeyError, TypeError):
        return kind
    if len(true_events) != len(neg_events):
        return kind
    for t, n in zip(true_events, neg_events):
        if kind == "modifier":
            for name, params in sorted((t.get("transforms") or {}).items()):
                other = (n.get("transforms") or {}).get(name)
                if other and other.get("direction") != params.get("direction"):
                    return f"modifier:{MODIFIER_NAMES.get((name, params.get('direction')), name + '-' + str(params.get('direction')))}"
        elif (t.get("relation") or None) != (n.get("relation") or None):
            return f"relation:{t.get('relation')}"
    return kind


# ---------------------------------------------------------------- metrics


METRICS = ("retrieval", "modifier_accuracy")


def metric_path(name: str) -> Path:
    """The metric module's folder; an installed wheel carries the library, not the repository's eval/."""
    path = METRICS_DIR / name
    if not (path / f"{name}.py").is_file():
        raise EvaluationError(f"the {name!r} metric module is not at {path}: the `evaluate` metrics live in the "
                              f"repository's eval/metrics/; run the evaluation from a checkout "
                              f"(git clone ..., then pip install -e '.[eval]')")
    return path


def load_metric(name: str):
    import evaluate

    return evaluate.load(str(metric_path(name)))


def modifier_report(pairs: np.ndarray, kinds: list[str], metric, n_resamples: int, seed: int) -> dict:
    """`evaluate` output plus, per kind, {accuracy, count, ci95} (seeded percentile bootstrap)."""

    raw = metric.compute(predictions=pairs.tolist(), references=kinds)
    wins = pair_wins(pairs)
    kinds_array = np.array(kinds, dtype=object)
    per_kind = {}
    for kind in sorted(set(kinds)):
        mask = kinds_array == kind
        lo, hi = bootstrap_ci(wins[mask], n_resamples=n_resamples, seed=seed)
        per_kind[kind] = {"accuracy": raw[f"accuracy/{kind}"], "count": raw[f"count/{kind}"], "ci95": [lo, hi]}
    lo, hi = bootstrap_ci(wins, n_resamples=n_resamples, seed=seed)
    return {"accuracy": raw["accuracy"], "count": int(len(wins)), "ci95": [lo, hi], "per_kind": per_kind, "evaluate": raw}


def recall_curve(scores: np.ndarray, positives: list[list[int]], max_k: int) -> list[float]:
    ranks, _ = first_relevant_ranks(scores, positives)
    return [float(np.mean(ranks <= k)) for k in range(1, max_k + 1)]


# ---------------------------------------------------------------- zero-shot


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
    return _column_iter(ds, audio_col), labels


def _column_iter(ds, column: str):
    """The cells of one column, row by row (does not load the whole column into memory)."""
    for row in ds.select_columns([column]):
        yield row[column]


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
        results[name] = {"accuracy": float(np.mean(correct)), "per_class": per_class, "prompts": dict(zip(classes, texts))}
    return {"accuracy": results[headline]["accuracy"], "prompt": headline, "num_clips": len(labels),
            "num_classes": len(classes), "chance": 1.0 / len(classes), "by_prompt": results}


# ---------------------------------------------------------------- outputs


def _fmt(x, digits=3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def _ci(ci) -> str:
    return f"[{_fmt(ci[0])}, {_fmt(ci[1])}]"


def write_markdown(path: Path, metrics: dict) -> None:
    meta = metrics["meta"]
    lines = [f"# Evaluation of `{meta['model']}`", "",
             f"Dataset `{meta['dataset']}`, split `{meta['split']}`: {meta['num_audio']} clips, {meta['num_captions']} captions. "
             f"Features: {meta['features']}.", ""]
    retrieval = metrics.get("retrieval")
    if retrieval:
        ks = [k for k in retrieval["text_to_audio"] if k.startswith("R@")]
        lines += ["## Retrieval", "", "| direction | " + " | ".join(ks) + " | mAP@10 | median rank |",
                  "|---|" + "---:|" * (len(ks) + 2)]
        for direction in ("text_to_audio", "audio_to_text"):
            r = retrieval[direction]
            lines.append(f"| {direction.replace('_', '-')} | " + " | ".join(_fmt(r[k]) for k in ks)
                         + f" | {_fmt(r['mAP@10'])} | {_fmt(r['median_rank'], 1)} |")
        lines.append("")
    modifier = metrics.get("modifier_accuracy")
    if modifier:
        lines += ["## Modifier accuracy (true caption vs one hard negative; chance 0.5; ties miss)", "",
                  f"Bootstrap 95% CI: {meta['bootstrap_resamples']} resamples, seed {meta['seed']}.", "",
                  "| kind | accuracy | 95% CI | pairs |", "|---|---:|---|---:|",
                  f"| **all** | {_fmt(modifier['accuracy'])} | {_ci(modifier['ci95'])} | {modifier['count']} |"]
        for kind, r in modifier["per_kind"].items():
            lines.append(f"| {kind} | {_fmt(r['accuracy'])} | {_ci(r['ci95'])} | {r['count']} |")
        detail = metrics.get("modifier_accuracy_detail", {}).get("per_kind", {})
        refined = {k: v for k, v in detail.items() if ":" in k}
        if refined:
            lines += ["", "Per transform and direction (`modifier:louder`: the clip has a louder event, the negative says quieter) "
                      "and per true relation (`relation:follow`: the clip says \"followed by\", the negative \"while\"):", "",
                      "| kind | accuracy | 95% CI | pairs |", "|---|---:|---|---:|"]
            for kind, r in refined.items():
                lines.append(f"| {kind} | {_fmt(r['accuracy'])} | {_ci(r['ci95'])} | {r['count']} |")
        lines.append("")
    zero = metrics.get("zero_shot")
    if zero:
        lines += ["## Zero-shot classification", "",
                  f"`{zero['dataset']}`: {zero['num_clips']} clips, {zero['num_classes']} classes (chance {_fmt(zero['chance'])}); "
                  "a clip is right when its class scores strictly above all others.", "",
                  "| prompt | example | accuracy |", "|---|---|---:|"]
        for name, r in zero["by_prompt"].items():
            example = next(iter(r["prompts"].values()))
            mark = " (headline)" if name == zero["prompt"] else ""
            lines.append(f"| {name}{mark} | {example} | {_fmt(r['accuracy'])} |")
        lines.append("")
    path.write_text("\n".join(lines))


def write_plots(output_dir: Path, metrics: dict, curves: dict) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    written = []
    if curves:
        fig, ax = plt.subplots(figsize=(6, 4))
        for direction, curve in curves.items():
            ks = np.arange(1, len(curve) + 1)
            ax.plot(ks, curve, marker="." if len(curve) <= 20 else None, label=direction.replace("_", "-"))
        ax.set_xlabel("k")
        ax.set_ylabel("recall@k")
        ax.set_ylim(0, 1.02)
        ax.set_xscale("log")
        ticks = [k for k in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if k <= max(len(c) for c in curves.values())]
        ax.set_xticks(ticks)
        ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.grid(alpha=0.3)
        ax.legend()
        ax.set_title(f"Retrieval recall@k ({metrics['meta']['num_audio']} clips)")
        fig.tight_layout()
        fig.savefig(output_dir / "recall_at_k.png", dpi=120)
        plt.close(fig)
        written.append("recall_at_k.png")
    modifier = metrics.get("modifier_accuracy")
    if modifier:
        detail = {k: v for k, v in metrics.get("modifier_accuracy_detail", {}).get("per_kind", {}).items() if ":" in k}
        panels = [("per negative kind", modifier["per_kind"])] + ([("per transform + direction / relation", detail)] if detail else [])
        fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4), squeeze=False)
        for ax, (title, table) in zip(axes[0], panels):
            names = list(table)
            acc = np.array([table[n]["accuracy"] for n in names])
            lo = np.array([table[n]["ci95"][0] for n in names])
            hi = np.array([table[n]["ci95"][1] for n in names])
            x = np.arange(len(names))
            ax.bar(x, acc, color="tab:blue", alpha=0.8)
            ax.errorbar(x, acc, yerr=[np.maximum(acc - lo, 0), np.maximum(hi - acc, 0)], fmt="none", ecolor="black", capsize=3)
            ax.axhline(0.5, color="gray", linestyle="--", linewidth=1)
            ax.set_xticks(x)
            ax.set_xticklabels([f"{n}\n(n={table[n]['count']})" for n in names], rotation=45, ha="right", fontsize=8)
            ax.set_ylim(0, 1.05)
            ax.set_ylabel("pairwise accuracy")
            ax.set_title(title)
        fig.tight_layout()
        fig.savefig(output_dir / "modifier_accuracy.png", dpi=120)
        plt.close(fig)
        written.append("modifier_accuracy.png")
    return written


# ---------------------------------------------------------------- main


def evaluate_clap(args: argparse.Namespace) -> dict:
    import datasets
    import torch

    started = time.time()
    torch.manual_seed(args.seed)
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model, tokenizer = load_model(args.model, args.tokenizer)
    featurizer = Featurizer(args.model, args.features, uses_time_channel(model.config.audio_config))

    ds = load_split(args.dataset, args.split, args.dataset_config)
    if args.max_rows is not None:
        ds = ds.select(range(min(args.max_rows, len(ds))))
    if len(ds) == 0:
        raise EvaluationError(f"split {args.split!r} of {args.dataset} is empty")
    audio_col = audio_column_of(ds, args.audio_column)
    dataset_rate = getattr(ds.features[audio_col], "sampling_rate", None)
    ds = ds.cast_column(audio_col, datasets.Audio(decode=False))
    texts, owner = captions_of(ds, args.caption_column)
    print(rate_note(featurizer.extractor.sampling_rate, dataset_rate, args.dataset), flush=True)

    print(f"[eval] {len(ds)} clips, {len(texts)} captions; features: {featurizer.kind}", flush=True)
    audio_emb = embed_audio(model, featurizer, _column_iter(ds, audio_col), args.batch_size)
    text_emb = embed_texts(model, tokenizer, texts, args.batch_size)

    t2a_pos, a2t_pos = multi_caption_positives(owner, len(ds))
    retrieval_metric = load_metric("retrieval")
    t2a_scores = text_emb @ audio_emb.T
    a2t_scores = t2a_scores.T
    retrieval = {
        "text_to_audio": retrieval_metric.compute(predictions=t2a_scores, references=t2a_pos, k_values=list(K_VALUES)),
        "audio_to_text": retrieval_metric.compute(predictions=a2t_scores, references=a2t_pos, k_values=list(K_VALUES)),
    }
    max_k_t2a, max_k_a2t = min(args.max_k, len(ds)), min(args.max_k, len(texts))
    curves = {"text_to_audio": recall_curve(t2a_scores, t2a_pos, max_k_t2a),
              "audio_to_text": recall_curve(a2t_scores, a2t_pos, max_k_a2t)}

    metrics = {
        "meta": {"model": args.model, "dataset": args.dataset, "split": args.split, "num_audio": len(ds),
                 "num_captions": len(texts), "features": featurizer.kind, "seed": args.seed,
                 "bootstrap_resamples": args.bootstrap, "k_values": list(K_VALUES)},
        "retrieval": retrieval,
        "recall_curves": curves,
    }

    if "negatives" in ds.column_names:
        first_caption = {}
        for c, row in enumerate(owner):
            first_caption.setdefault(row, c)
        recipes = ds["recipe"] if "recipe" in ds.column_names else [None] * len(ds)
        neg_texts, neg_rows, kinds, details = [], [], [], []
        for i, (negatives, recipe) in enumerate(zip(ds["negatives"], recipes)):
            for negative in negatives or []:
                if not negative or not negative.get("caption"):
                    continue
                neg_texts.append(negative["caption"])
                neg_rows.append(i)
                kinds.append(str(negative["kind"]))
                details.append(negative_detail(recipe, negative))
        if neg_texts:
            neg_emb = embed_texts(model, tokenizer, neg_texts, args.batch_size)
            rows = np.array(neg_rows)
            true_idx = np.array([first_caption[r] for r in neg_rows])
            score_true = np.sum(audio_emb[rows] * text_emb[true_idx], axis=1)
            score_neg = np.sum(audio_emb[rows] * neg_emb, axis=1)
            pairs = np.stack([score_true, score_neg], axis=1).astype(np.float64)
            metric = load_metric("modifier_accuracy")
            metrics["modifier_accuracy"] = modifier_report(pairs, kinds, metric, args.bootstrap, args.seed)
            metrics["modifier_accuracy_detail"] = modifier_report(pairs, details, metric, args.bootstrap, args.seed)
            ids = ds["id"] if "id" in ds.column_names else [str(i) for i in range(len(ds))]
            with open(output_dir / "modifier_pairs.jsonl", "w") as f:
                for r, kind, detail, (st, sn), text in zip(neg_rows, kinds, details, pairs, neg_texts):
                    f.write(json.dumps({"id": ids[r], "kind": kind, "detail": detail, "score_true": float(st),
                                        "score_negative": float(sn), "negative": text}) + "\n")

    if args.zero_shot_dataset:
        cells, labels = load_zero_shot(args.zero_shot_dataset, args.zero_shot_where)
        print(f"[eval] zero-shot: {len(labels)} clips, {len(set(labels))} classes", flush=True)
        zs_audio = embed_audio(model, featurizer, cells, args.batch_size)
        report = zero_shot_report(zs_audio, labels, lambda t: embed_texts(model, tokenizer, t, args.batch_size), args.zero_shot_prompt)
        metrics["zero_shot"] = {"dataset": args.zero_shot_dataset, "where": args.zero_shot_where, **report}

    metrics["meta"]["seconds"] = round(time.time() - started, 2)
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, allow_nan=True) + "\n")
    write_markdown(output_dir / "metrics.md", metrics)
    if not args.no_plots:
        write_plots(output_dir, metrics, curves)
    return metrics


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        check_dataset_arg(args.dataset, "--dataset_dir")  # before the model loads: a mistyped folder is named at once
        for name in METRICS:
            metric_path(name)
        metrics = evaluate_clap(args)
    except (EvaluationError, DatasetPathError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    r = metrics["retrieval"]
    line = (f"[eval] text-to-audio R@1 {r['text_to_audio']['R@1']:.3f}, audio-to-text R@1 {r['audio_to_text']['R@1']:.3f}")
    if "modifier_accuracy" in metrics:
        line += f"; modifier accuracy {metrics['modifier_accuracy']['accuracy']:.3f}"
    if "zero_shot" in metrics:
        line += f"; zero-shot {metrics['zero_shot']['accuracy']:.3f}"
    print(line + f"\n[eval] wrote {Path(args.output_dir) / 'metrics.json'}, metrics.md and plots ({metrics['meta']['seconds']} s)")
    return 0

