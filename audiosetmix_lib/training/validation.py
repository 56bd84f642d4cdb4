"""Validation during training: retrieval both ways and hard-negative (modifier) accuracy.

Always on the dataset's own captions, whatever `--caption_mode` trains on, so the label-only
baseline and the caption run report comparable numbers. The metrics are the pure functions of
`audiosetmix_lib.retrieval` that the evaluation scripts wrap.
"""

from __future__ import annotations

import numpy as np
import torch

from audiosetmix_lib.negatives import NEGATIVE_KINDS
from audiosetmix_lib.retrieval import modifier_accuracy, multi_caption_positives, retrieval_metrics


@torch.no_grad()
def evaluate(module, logmel, dataloader, accelerator) -> dict[str, float]:
    """Embeds the whole split (gathered across processes) and scores it."""
    was_training = module.training
    module.eval()
    audio_parts, text_parts, pair_parts, kind_parts = [], [], [], []
    for batch in dataloader:
        audio, text, _, _ = module(logmel(batch["waveforms"]), batch["input_ids"], batch["attention_mask"])
        audio, text = audio.float(), text.float()
        captions, negatives = text[: len(audio)], text[len(audio) :]
        index = batch["negative_index"]
        positive = (audio * captions).sum(-1, keepdim=True).expand(index.shape)
        negative = torch.zeros_like(positive)
        if negatives.shape[0]:
            negative = torch.einsum("bd,bkd->bk", audio, negatives[index.clamp(min=0)])
        pairs = torch.stack([positive, negative], dim=-1)  # (B, K, 2)
        kinds = torch.where(index >= 0, batch["negative_kind"], torch.full_like(index, -1))
        audio, captions, pairs, kinds = accelerator.gather_for_metrics((audio, captions, pairs, kinds))
        audio_parts.append(audio.cpu())
        text_parts.append(captions.cpu())
        pair_parts.append(pairs.cpu())
        kind_parts.append(kinds.cpu())
    module.train(was_training)
    return score(torch.cat(audio_parts), torch.cat(text_parts), torch.cat(pair_parts), torch.cat(kind_parts))


def score(audio: torch.Tensor, captions: torch.Tensor, pairs: torch.Tensor, kinds: torch.Tensor) -> dict[str, float]:
    """Retrieval metrics (one caption per audio) and modifier accuracy over valid (true, negative) pairs."""
    n = len(audio)
    similarity = (audio @ captions.T).numpy()  # (audio, captions)
    t2a, a2t = multi_caption_positives(list(range(n)), n)
    metrics = {f"val/t2a/{k}": v for k, v in retrieval_metrics(similarity.T, t2a).items()}
    metrics.update({f"val/a2t/{k}": v for k, v in retrieval_metrics(similarity, a2t).items()})
    valid = kinds >= 0
    if valid.any():
        names = list(NEGATIVE_KINDS) + ["other"]
        kind_names = [names[k] for k in kinds[valid].tolist()]
        accuracy = modifier_accuracy(pairs[valid].numpy().astype(np.float64), kind_names)
        metrics.update({f"val/negatives/{k}": float(v) for k, v in accuracy.items() if not k.startswith("count/")})
    return metrics
