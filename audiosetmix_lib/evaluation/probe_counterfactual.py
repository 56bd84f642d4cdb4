"""Which side of a CLAP model misses a modifier: the audio encoder or the text encoder?

    python eval/probe_counterfactual.py --model DIR --dataset_dir DIR --split test --output_dir DIR

`evaluate_clap.py` asks the text question: for a clip x, does the true caption c outscore the
hard negative n? When a kind stays at chance that does not say why. Every AudioSetMix negative
stores the perturbed recipe it was captioned from, so its *counterfactual audio* x' (the same
events, rendered with the one change) can be rendered too, and the four scores s(x, c),
s(x, n), s(x', c), s(x', n) separate the two encoders:

- `text_accuracy`   s(x, c) > s(x, n)   the usual pairwise accuracy (pick the caption)
- `audio_accuracy`  s(x, c) > s(x', c)  given the caption, pick the audio
- `unrelated_prefers_caption`  over the *other* clips y of the split, how often s(y, c) > s(y, n)
  (a tie counts half): 0.5 when the preference for the caption comes from the audio; far from
  0.5, the text encoder ranks caption over negative whatever the clip (a text-only cue)
- `audio_change`    1 - cos(a(x), a(x')), and `text_change` 1 - cos(t(c), t(n)), each divided
  by the same distance between unrelated items (other rows of the split), so 0 means the
  encoder maps the two to the same point and 1 means as far apart as two unrelated items.

An encoder whose change is near 0 for a kind cannot tell that kind's two sides apart, whatever
the loss. The counterfactual is rendered from the recipe, so the dataset's source must be
available (the embedded synth source always is).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..audio_io import PCM_MAX
from ..rows import rerender_pcm
from ..sources import from_spec
from ..training.features import uses_time_channel
from .clap_model import Featurizer, embed_audio, embed_texts, load_model
from .errors import EvaluationError
from .split_data import audio_column_of, column_iter, load_split

DEFAULT_KINDS = ("order", "modifier", "relation")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--model", required=True, help="a saved ClapModel folder or Hub id")
    p.add_argument("--tokenizer", help="default: the model's")
    p.add_argument("--dataset_dir", "--dataset", dest="dataset", required=True, help="an AudioSetMix build (its rows must carry negatives with recipes)")
    p.add_argument("--dataset_config")
    p.add_argument("--split", default="test")
    p.add_argument("--output_dir", required=True)
    p.add_argument("--kinds", default=",".join(DEFAULT_KINDS), help="negative kinds to probe, comma-separated")
    p.add_argument("--max_pairs", type=int, default=150, help="at most this many (clip, negative) pairs per kind")
    p.add_argument("--batch_size", type=int, default=32)
    p.add_argument("--features", choices=["auto", "torch", "extractor"], default="auto")
    return p.parse_args(argv)


def select_pairs(ds, kinds: tuple[str, ...], max_pairs: int) -> list[tuple[int, dict]]:
    """(row, negative) pairs of the wanted kinds, at most `max_pairs` per kind, in row order."""
    taken: dict[str, int] = defaultdict(int)
    pairs = []
    for i, negatives in enumerate(ds["negatives"]):
        for negative in negatives or []:
            kind = negative.get("kind")
            if kind in kinds and negative.get("recipe") and taken[kind] < max_pairs:
                taken[kind] += 1
                pairs.append((i, negative))
    return pairs


def counterfactual_audio(recipe_json: str, sources: dict | None = None) -> tuple[np.ndarray, int]:
    """The negative's recipe rendered and quantised exactly as a stored row would be, as float32.

    `sources` caches the rebuilt source per spec: a fresh source per clip made rendering ~7x slower.
    """

    spec = json.loads(recipe_json)["source"]
    key = json.dumps(spec, sort_keys=True)
    sources = {} if sources is None else sources
    if key not in sources:
        sources[key] = from_spec(spec)
    pcm, sr = rerender_pcm(recipe_json, sources[key])
    return pcm.astype(np.float32) / (PCM_MAX + 1), sr


def unrelated_distance(emb: np.ndarray) -> float:
    """Mean 1 - cos between each item and the next one (a different row): the scale of 'unrelated'."""
    if len(emb) < 2:
        return float("nan")
    return float(np.mean(1.0 - np.sum(emb * np.roll(emb, 1, axis=0), axis=1)))


def probe_scores(audio, audio_cf, caption, negative) -> dict[str, np.ndarray]:
    """Per pair: the four similarities and the two embedding changes (all inputs L2-normalised, (n, d))."""
    return {
        "s_x_c": np.sum(audio * caption, axis=1),
        "s_x_n": np.sum(audio * negative, axis=1),
        "s_xcf_c": np.sum(audio_cf * caption, axis=1),
        "s_xcf_n": np.sum(audio_cf * negative, axis=1),
        "audio_change": 1.0 - np.sum(audio * audio_cf, axis=1),
        "text_change": 1.0 - np.sum(caption * negative, axis=1),
    }


def unrelated_preference(audio_rows: np.ndarray, pair_rows: np.ndarray, caption: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """Per pair: the share of the other rows' clips y with s(y, c) > s(y, n), ties counting half."""
    diff = audio_rows @ caption.T - audio_rows @ negative.T  # (rows, pairs)
    votes = (diff > 0) + 0.5 * (diff == 0)
    others = np.ones_like(diff, dtype=bool)
    others[pair_rows, np.arange(len(pair_rows))] = False
    with np.errstate(invalid="ignore"):
        return np.where(others.sum(axis=0) > 0, (votes * others).sum(axis=0) / others.sum(axis=0), np.nan)


def summarize(scores: dict[str, np.ndarray], kinds: list[str], audio_scale: float, text_scale: float) -> dict:
    """Per kind: accuracies (ties miss), relative changes and, when scored, the unrelated-clip preference."""
    kinds_arr = np.array(kinds)
    report = {}
    for kind in sorted(set(kinds)):
        m = kinds_arr == kind
        extra = {}
        if "unrelated_prefers_caption" in scores:
            extra["unrelated_prefers_caption"] = float(np.nanmean(scores["unrelated_prefers_caption"][m]))
        report[kind] = {
            "count": int(m.sum()),
            "text_accuracy": float(np.mean(scores["s_x_c"][m] > scores["s_x_n"][m])),
            "audio_accuracy": float(np.mean(scores["s_x_c"][m] > scores["s_xcf_c"][m])),
            "counterfactual_text_accuracy": float(np.mean(scores["s_xcf_n"][m] > scores["s_xcf_c"][m])),
            "audio_change": float(np.mean(scores["audio_change"][m]) / audio_scale),
            "text_change": float(np.mean(scores["text_change"][m]) / text_scale),
            **extra,
        }
    return report


def write_markdown(path: Path, report: dict, meta: dict) -> None:
    lines = [
        f"# Counterfactual probe: {meta['model']}",
        "",
        f"Dataset `{meta['dataset']}` split `{meta['split']}`. Changes are relative to unrelated items "
        f"(audio {meta['unrelated_audio_distance']:.4f}, text {meta['unrelated_text_distance']:.4f} mean 1 - cos).",
        "",
        "| kind | n | text acc. s(x,c)>s(x,n) | audio acc. s(x,c)>s(x',c) | s(x',n)>s(x',c) | audio change | text change "
        "| other clips y: s(y,c)>s(y,n) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, r in report.items():
        lines.append(f"| {kind} | {r['count']} | {r['text_accuracy']:.3f} | {r['audio_accuracy']:.3f} | "
                     f"{r['counterfactual_text_accuracy']:.3f} | {r['audio_change']:.3f} | {r['text_change']:.3f} | "
                     f"{r.get('unrelated_prefers_caption', float('nan')):.3f} |")
    path.write_text("\n".join(lines) + "\n")


def probe(args: argparse.Namespace) -> dict:
    import datasets
    from tqdm.auto import tqdm

    started = time.time()
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model, tokenizer = load_model(args.model, args.tokenizer)
    featurizer = Featurizer(args.model, args.features, uses_time_channel(model.config.audio_config))
    ds = load_split(args.dataset, args.split, args.dataset_config)
    if "negatives" not in ds.column_names:
        raise EvaluationError(f"split {args.split!r} of {args.dataset} has no negatives column")
    audio_col = audio_column_of(ds, None)
    ds = ds.cast_column(audio_col, datasets.Audio(decode=False))
    pairs = select_pairs(ds, kinds, args.max_pairs)
    if not pairs:
        raise EvaluationError(f"no negatives of kinds {list(kinds)} with a recipe in split {args.split!r}")
    rows = sorted({i for i, _ in pairs})
    position = {r: j for j, r in enumerate(rows)}
    subset = ds.select(rows)
    audio = embed_audio(model, featurizer, column_iter(subset, audio_col), args.batch_size)
    sources: dict = {}
    rendered = (counterfactual_audio(n["recipe"], sources) for _, n in tqdm(pairs, desc="counterfactual audio"))
    audio_cf = embed_audio(model, featurizer, ({"array": x, "sampling_rate": sr} for x, sr in rendered), args.batch_size)
    captions = embed_texts(model, tokenizer, list(subset["caption"]), args.batch_size)
    negatives = embed_texts(model, tokenizer, [n["caption"] for _, n in pairs], args.batch_size)
    index = np.array([position[i] for i, _ in pairs])
    scores = probe_scores(audio[index], audio_cf, captions[index], negatives)
    scores["unrelated_prefers_caption"] = unrelated_preference(audio, index, captions[index], negatives)
    audio_scale, text_scale = unrelated_distance(audio), unrelated_distance(captions)
    report = summarize(scores, [n["kind"] for _, n in pairs], audio_scale, text_scale)
    meta = {"model": args.model, "dataset": args.dataset, "split": args.split, "pairs": len(pairs),
            "unrelated_audio_distance": audio_scale, "unrelated_text_distance": text_scale,
            "features": featurizer.kind, "seconds": round(time.time() - started, 1)}
    result = {"meta": meta, "kinds": report}
    (output_dir / "probe.json").write_text(json.dumps(result, indent=2) + "\n")
    write_markdown(output_dir / "probe.md", report, meta)
    return result


def main(argv=None) -> int:
    args = parse_args(argv)
    probe(args)
    print((Path(args.output_dir) / "probe.md").read_text())
    return 0

