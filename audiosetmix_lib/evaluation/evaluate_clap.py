"""Evaluate a CLAP model: text-audio retrieval, scores on hard negatives, zero-shot.

    python eval/evaluate_clap.py --model PATH_OR_HUB_ID --dataset_dir DIR_OR_HUB_ID --split test \
        --output_dir DIR [--zero_shot_dataset DIR] [--batch_size 32]
    python eval/evaluate_clap.py --compare RUN_A RUN_B --output_dir DIR   # paired differences of two evaluations

Writes to DIR:
  metrics.json           every number below, plus bootstrap 95% confidence intervals
  metrics.md             the same as Markdown tables
  recall_at_k.png        R@k curves, text-to-audio and audio-to-text
  modifier_accuracy.png  pairwise accuracy per negative kind, and per transform + direction
  modifier_pairs.jsonl   one line per (clip, negative) pair: every similarity the scores use (for --compare)

Retrieval runs on any `datasets` dataset with an audio column and a `caption` (string) or
`captions` (list of strings) column (multi-caption protocol: text-to-audio, every caption is a
query; audio-to-text, an audio is found if any of its captions is). Rows that carry `negatives`
(AudioSetMix rows) get, per negative kind and per transform + true direction (`modifier:louder`
= the clip has a louder event, the negative says quieter; `relation:follow`):

- pairwise accuracy: is the clip x closer to its caption c than to the negative c'? (ties miss)
- where the row holds the negative's counterfactual clip x' (`negative_audio`), the Winoground /
  CompA scores of the quadruple (x, c, x', c'): text (each clip picks its caption), audio (each
  caption picks its clip) and group (both);
- all of them again after removing each caption's prior, its mean similarity to all clips of
  the split, and each clip's prior, its mean similarity to all captions of the split (CSLS /
  QB-Norm), so a caption (or a clip) the model prefers everywhere cannot score.

`--compare RUN_A RUN_B` reads two evaluations' modifier_pairs.jsonl (output folders, or model
folders with an `eval/` inside) and writes compare.json and compare.md to DIR: B - A per kind,
direction and score, paired over the test pairs both scored, with paired bootstrap CIs.

Audio: mono, 48 kHz, cropped centrally to 10 s or zero-padded at the end (`clip_audio`); the
model's front end and embeddings: `clap_model`. The `evaluate` metric modules ship inside the
package (`metric_modules`), so the script runs from any directory and from an installed wheel.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from ..dataset_path import check_dataset_arg
from ..retrieval import first_relevant_ranks, multi_caption_positives
from ..training.features import uses_time_channel
from .clap_model import Featurizer, embed_audio, embed_texts, load_model
from .clap_plots import write_plots
from .clap_report import write_markdown
from .clip_audio import rate_note
from .compare import write_comparison
from .errors import EvaluationError
from .group_scores import QuadSimilarities, mean_similarity
from .metric_modules import METRICS, load_metric, metric_path
from .negative_pairs import NegativePairs, negative_pairs
from .pair_records import PAIRS_FILE, write_pairs
from .score_report import group_score_report, modifier_report
from .split_data import audio_column_of, captions_of, column_iter, load_split
from .zero_shot import load_zero_shot, zero_shot_report

K_VALUES = (1, 5, 10)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="a ClapModel: local folder or Hub id (required unless --compare)")
    p.add_argument("--tokenizer", help="tokenizer folder or Hub id (default: the model's)")
    p.add_argument("--dataset_dir", "--dataset", dest="dataset",
                   help="a datasets dataset: local folder (Hub layout or save_to_disk) or Hub id (required unless --compare)")
    p.add_argument("--dataset_config", help="dataset config name, if any")
    p.add_argument("--split", default="test")
    p.add_argument("--output_dir", required=True)
    p.add_argument("--compare", nargs=2, metavar=("RUN_A", "RUN_B"),
                   help="write the paired differences RUN_B - RUN_A of two evaluations (their output folders) instead")
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
    if not args.compare and not (args.model and args.dataset):
        p.error("--model and --dataset_dir are required (or --compare RUN_A RUN_B)")
    return args


def recall_curve(scores: np.ndarray, positives: list[list[int]], max_k: int) -> list[float]:
    ranks, _ = first_relevant_ranks(scores, positives)
    return [float(np.mean(ranks <= k)) for k in range(1, max_k + 1)]


def retrieval_scores(text_emb: np.ndarray, audio_emb: np.ndarray, owner: list[int], max_k: int) -> tuple[dict, dict]:
    """Retrieval both ways (multi-caption protocol) and the recall@k curves."""
    t2a_pos, a2t_pos = multi_caption_positives(owner, len(audio_emb))
    metric = load_metric("retrieval")
    t2a = text_emb @ audio_emb.T
    retrieval = {"text_to_audio": metric.compute(predictions=t2a, references=t2a_pos, k_values=list(K_VALUES)),
                 "audio_to_text": metric.compute(predictions=t2a.T, references=a2t_pos, k_values=list(K_VALUES))}
    curves = {"text_to_audio": recall_curve(t2a, t2a_pos, min(max_k, len(audio_emb))),
              "audio_to_text": recall_curve(t2a.T, a2t_pos, min(max_k, len(text_emb)))}
    return retrieval, curves


def pair_similarities(pairs: NegativePairs, audio_emb, text_emb, true_emb, neg_emb, clip_emb) -> QuadSimilarities:
    """The four similarities of every pair (x' NaN without a clip), the priors of both captions (over the
    split's clips) and of both clips (over the split's captions)."""
    x = audio_emb[pairs.rows]
    cf_c, cf_n, prior_cf = (np.full(len(pairs), np.nan) for _ in range(3))
    with_clip = pairs.with_clip
    if with_clip:
        cf_c[with_clip] = np.sum(clip_emb * true_emb[with_clip], axis=1)
        cf_n[with_clip] = np.sum(clip_emb * neg_emb[with_clip], axis=1)
        prior_cf[with_clip] = mean_similarity(clip_emb, text_emb)
    return QuadSimilarities.of(np.sum(x * true_emb, axis=1), np.sum(x * neg_emb, axis=1), cf_c, cf_n,
                               mean_similarity(true_emb, audio_emb), mean_similarity(neg_emb, audio_emb),
                               mean_similarity(x, text_emb), prior_cf)


def negative_scores(ds, encoders, audio_emb, text_emb, owner: list[int], args, output_dir: Path) -> dict:
    """Pairwise accuracy, the group scores (raw and bias-corrected), and modifier_pairs.jsonl."""
    model, tokenizer, featurizer = encoders
    pairs = negative_pairs(ds)
    if not len(pairs):
        return {}
    first_caption = {}
    for c, row in enumerate(owner):
        first_caption.setdefault(row, c)
    true_emb = text_emb[[first_caption[r] for r in pairs.rows]]
    neg_emb = embed_texts(model, tokenizer, pairs.texts, args.batch_size)
    clip_emb = embed_audio(model, featurizer, [pairs.clips[j] for j in pairs.with_clip], args.batch_size)
    sim = pair_similarities(pairs, audio_emb, text_emb, true_emb, neg_emb, clip_emb)
    metric = load_metric("modifier_accuracy")
    scored = np.stack([sim.x_c, sim.x_n], axis=1)
    ids = ds["id"] if "id" in ds.column_names else [str(i) for i in range(len(ds))]
    write_pairs(output_dir / PAIRS_FILE, ids, pairs.rows, pairs.kinds, pairs.details, pairs.texts, sim)
    return {"modifier_accuracy": modifier_report(scored, pairs.kinds, metric, args.bootstrap, args.seed),
            "modifier_accuracy_detail": modifier_report(scored, pairs.details, metric, args.bootstrap, args.seed),
            "group_scores": group_score_report(sim, pairs.kinds, pairs.details, args.bootstrap, args.seed)}


def prepared_split(args):
    """The split, cut to --max_rows, with undecoded audio; its audio column and stored rate."""
    import datasets

    ds = load_split(args.dataset, args.split, args.dataset_config)
    if args.max_rows is not None:
        ds = ds.select(range(min(args.max_rows, len(ds))))
    if len(ds) == 0:
        raise EvaluationError(f"split {args.split!r} of {args.dataset} is empty")
    audio_col = audio_column_of(ds, args.audio_column)
    dataset_rate = getattr(ds.features[audio_col], "sampling_rate", None)
    return ds.cast_column(audio_col, datasets.Audio(decode=False)), audio_col, dataset_rate


def zero_shot_scores(args, encoders) -> dict:
    model, tokenizer, featurizer = encoders
    cells, labels = load_zero_shot(args.zero_shot_dataset, args.zero_shot_where)
    print(f"[eval] zero-shot: {len(labels)} clips, {len(set(labels))} classes", flush=True)
    zs_audio = embed_audio(model, featurizer, cells, args.batch_size)
    report = zero_shot_report(zs_audio, labels, lambda t: embed_texts(model, tokenizer, t, args.batch_size), args.zero_shot_prompt)
    return {"dataset": args.zero_shot_dataset, "where": args.zero_shot_where, **report}


def evaluate_clap(args: argparse.Namespace) -> dict:
    import torch

    started = time.time()
    torch.manual_seed(args.seed)
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model, tokenizer = load_model(args.model, args.tokenizer)
    featurizer = Featurizer(args.model, args.features, uses_time_channel(model.config.audio_config))
    encoders = (model, tokenizer, featurizer)
    ds, audio_col, dataset_rate = prepared_split(args)
    texts, owner = captions_of(ds, args.caption_column)
    print(rate_note(featurizer.extractor.sampling_rate, dataset_rate, args.dataset), flush=True)
    print(f"[eval] {len(ds)} clips, {len(texts)} captions; features: {featurizer.kind}", flush=True)
    audio_emb = embed_audio(model, featurizer, column_iter(ds, audio_col), args.batch_size)
    text_emb = embed_texts(model, tokenizer, texts, args.batch_size)
    retrieval, curves = retrieval_scores(text_emb, audio_emb, owner, args.max_k)
    metrics = {
        "meta": {"model": args.model, "dataset": args.dataset, "split": args.split, "num_audio": len(ds),
                 "num_captions": len(texts), "features": featurizer.kind, "seed": args.seed,
                 "bootstrap_resamples": args.bootstrap, "k_values": list(K_VALUES)},
        "retrieval": retrieval,
        "recall_curves": curves,
    }
    if "negatives" in ds.column_names:
        metrics.update(negative_scores(ds, encoders, audio_emb, text_emb, owner, args, output_dir))
    if args.zero_shot_dataset:
        metrics["zero_shot"] = zero_shot_scores(args, encoders)
    metrics["meta"]["seconds"] = round(time.time() - started, 2)
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, allow_nan=True) + "\n")
    write_markdown(output_dir / "metrics.md", metrics)
    if not args.no_plots:
        write_plots(output_dir, metrics, curves)
    return metrics


def summary_line(metrics: dict) -> str:
    r = metrics["retrieval"]
    line = f"[eval] text-to-audio R@1 {r['text_to_audio']['R@1']:.3f}, audio-to-text R@1 {r['audio_to_text']['R@1']:.3f}"
    if "modifier_accuracy" in metrics:
        line += f"; modifier accuracy {metrics['modifier_accuracy']['accuracy']:.3f}"
    group = metrics.get("group_scores", {}).get("per_group", {}).get("all", {}).get("raw", {}).get("group")
    if group and group["value"] is not None:
        line += f"; group score {group['value']:.3f}"
    if "zero_shot" in metrics:
        line += f"; zero-shot {metrics['zero_shot']['accuracy']:.3f}"
    return line


def run(args: argparse.Namespace) -> str:
    """One evaluation or one comparison; returns what to print."""
    if args.compare:
        write_comparison(Path(args.compare[0]), Path(args.compare[1]), Path(args.output_dir), args.bootstrap, args.seed)
        return (Path(args.output_dir) / "compare.md").read_text()
    check_dataset_arg(args.dataset, "--dataset_dir")  # before the model loads: a mistyped folder is named at once
    for name in METRICS:
        metric_path(name)
    metrics = evaluate_clap(args)
    return (summary_line(metrics) + f"\n[eval] wrote {Path(args.output_dir) / 'metrics.json'}, metrics.md and plots "
            f"({metrics['meta']['seconds']} s)")
