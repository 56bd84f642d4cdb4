"""The training objective of saved CLAP models, term by term, on the same training batches.

    python eval/objective_terms.py --dataset_dir DIR --models DIR [DIR ...] --batches 8

`train_clap.py` minimises J = in-batch term + w * hard-negative term (audiosetmix_lib.training.loss).
When a run with the hard-negative term ends up worse than one without it, this asks whether the
*objective* is at fault (the run without the term sits at a higher J) or the *optimisation* (the
run without the term reaches a lower J, hard term included, than the run that minimised it).
For each model, on the same seeded training batches (eval mode, so no dropout noise):

- `contrastive`, `hard` and `J` (with --weight), and the hard term per negative kind as a
  pairwise loss softplus(scale * (s(x, n) - s(x, c))) (log 2 = 0.693: caption and negative tied),
  with the mean cosine margin s(x, c) - s(x, n) and the pairwise loss those pairs would have with
  every margin doubled (lower: at these weights the term rewards a larger margin for that kind);
- the gradient norm of each term and the cosine between the two gradients (`train_clap.py`
  clips the total at --max_grad_norm, 1.0 by default: a norm far above it means every step is
  a normalised step, and the terms share one step length).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
from pathlib import Path

from ..negatives import NEGATIVE_KINDS
from ..training import loop
from ..training.args import TrainClapArguments
from ..training.features import LogMel, uses_time_channel
from ..training.loss import clap_loss
from ..training.model import ClapTrainModule, text_length_limit
from .errors import EvaluationError


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--dataset_dir", "--dataset", dest="dataset", required=True, help="an AudioSetMix build (rows with captions and negatives)")
    p.add_argument("--dataset_config")
    p.add_argument("--split", default="train")
    p.add_argument("--models", nargs="+", required=True, help="saved ClapModel folders sharing one tokenizer (the first one's is used)")
    p.add_argument("--batches", type=int, default=8)
    p.add_argument("--batch_size", type=int, default=32)
    p.add_argument("--max_negatives", type=int, default=3)
    p.add_argument("--weight", type=float, default=1.0, help="w in J = contrastive + w * hard")
    p.add_argument("--seed", type=int, default=0, help="which batches (the data order and crops, as train_clap.py --seed)")
    p.add_argument("--output", help="also write the table as JSON here")
    return p.parse_args(argv)


def training_batches(args, model_dir: str) -> list[dict]:
    """`--batches` batches exactly as train_clap.py draws them (captions + hard negatives), seeded."""
    from transformers import ClapConfig, ClapProcessor

    train_args = TrainClapArguments(
        dataset=args.dataset, dataset_config=args.dataset_config, train_split=args.split, output_dir="unused",
        caption_mode="caption", max_negatives=args.max_negatives, hard_negative_weight=1.0,
        per_device_train_batch_size=args.batch_size, seed=args.seed, dataloader_num_workers=0,
    )
    processor = ClapProcessor.from_pretrained(model_dir)
    max_length = text_length_limit(ClapConfig.from_pretrained(model_dir), processor.tokenizer, train_args.max_text_length)
    loader = loop.train_dataloader(train_args, loop.load_tables(train_args), processor.tokenizer,
                                   processor.feature_extractor, max_length, 1)
    return list(itertools.islice(iter(loader), args.batches))


def objective_terms(model_dir: str, batches: list[dict], weight: float) -> dict:
    """Mean over batches of the two terms, J, per-kind pairwise hard losses and the gradient geometry."""
    import torch
    import torch.nn.functional as F
    from transformers import ClapModel, ClapProcessor

    model = ClapModel.from_pretrained(model_dir).eval()
    fe = ClapProcessor.from_pretrained(model_dir).feature_extractor
    logmel = LogMel.from_feature_extractor(fe, uses_time_channel(model.config.audio_config))
    module = ClapTrainModule(model)
    params = [p for p in module.parameters() if p.requires_grad]
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}

    def add(key, value):
        sums[key] = sums.get(key, 0.0) + value.item()
        counts[key] = counts.get(key, 0) + 1

    for batch in batches:
        audio, text, scale_a, scale_t = module(logmel(batch["waveforms"]), batch["input_ids"], batch["attention_mask"])
        b = audio.shape[0]
        terms = [audio, text[:b], text[b:], batch["negative_index"], scale_a, scale_t]
        contrastive = clap_loss(*terms, hard_negative_weight=0.0).loss
        hard = clap_loss(*terms, hard_negative_weight=1.0).loss - contrastive
        grads = {}
        for name, value in (("contrastive", contrastive), ("hard", hard)):
            g = torch.autograd.grad(value, params, retain_graph=True, allow_unused=True)
            grads[name] = torch.cat([(x if x is not None else torch.zeros_like(p)).flatten() for x, p in zip(g, params, strict=True)])
        add("contrastive", contrastive)
        add("hard", hard)
        add("J", contrastive + weight * hard)
        add("grad_norm/contrastive", grads["contrastive"].norm())
        add("grad_norm/hard", grads["hard"].norm())
        add("grad_norm/J", (grads["contrastive"] + weight * grads["hard"]).norm())
        add("grad_cosine", F.cosine_similarity(grads["contrastive"], grads["hard"], dim=0))
        with torch.no_grad():
            index, kind = batch["negative_index"], batch["negative_kind"]
            positive = (audio * text[:b]).sum(-1, keepdim=True)
            negative = torch.einsum("bd,bkd->bk", audio, text[b:][index.clamp(min=0)])
            margin = positive - negative  # cosine margin of the caption over each negative
            for k, name in enumerate(NEGATIVE_KINDS):
                chosen = (kind == k) & (index >= 0)
                if chosen.any():
                    add(f"pairwise/{name}", F.softplus(-scale_a * margin[chosen]).mean())
                    add(f"margin/{name}", margin[chosen].mean())
                    # the same pairs with every margin doubled: below `pairwise`, the term rewards a larger margin
                    add(f"pairwise_margin_x2/{name}", F.softplus(-2 * scale_a * margin[chosen]).mean())
    return {key: sums[key] / counts[key] for key in sums}


def write_table(rows: dict[str, dict]) -> str:
    keys = ["contrastive", "hard", "J", "grad_norm/contrastive", "grad_norm/hard", "grad_norm/J", "grad_cosine"]
    kinds = sorted({k for r in rows.values() for k in r if k.startswith(("pairwise/", "margin/", "pairwise_margin_x2/"))},
                   key=lambda k: (k.split("/")[1], k))
    header = "| model | " + " | ".join(keys + kinds) + " |"
    lines = [header, "|---|" + "---:|" * (len(keys) + len(kinds))]
    for model, r in rows.items():
        cells = [f"{r[k]:.3f}" if k in r and math.isfinite(r[k]) else "-" for k in keys + kinds]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    batches = training_batches(args, args.models[0])
    if not batches:
        raise EvaluationError(f"split {args.split!r} of {args.dataset} gave no batch of {args.batch_size}")
    rows = {model: objective_terms(model, batches, args.weight) for model in dict.fromkeys(args.models)}
    table = write_table(rows)
    print(f"{len(batches)} batches of {args.batch_size} from {args.dataset} ({args.split}), seed {args.seed}, w = {args.weight}\n")
    print(table)
    if args.output:
        Path(args.output).write_text(json.dumps({"args": vars(args), "models": rows}, indent=2) + "\n")
    return 0

