"""The CLAP training loss: symmetric in-batch InfoNCE plus a hard-negative term.

Why its own module: `ClapModel(return_loss=True)` in transformers 5 computes the text-to-audio
term twice and never audio-to-text (docs/training.md), and the hard-negative term is what teaches
modifiers. The objective, identical on every process:

    J = (CE(audio -> all captions) + CE(caption -> all audio)) / 2             over the global batch
      + w * mean over rows with negatives of CE(audio -> [own caption, own K negatives])

Across processes (open_clip's `gather_features`, without `local_loss`): every process gathers
all embeddings, puts its own differentiable slice back in place of the gathered copy, and
computes the full J. Each process then holds dJ/d(its own features); DDP *averages*
gradients over the W processes, so the local slice's gradient is multiplied by W on the way
back (`scale_grad`). The logit scales, which every process uses fully, are not scaled. A
test checks the summed per-process gradients against a naive single-process reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F


class _ScaleGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, factor):
        ctx.factor = factor
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.factor, None


def scale_grad(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Identity forward; gradient multiplied by `factor` backward."""
    return x if factor == 1 else _ScaleGrad.apply(x, factor)


def gather_with_local_grad(local: torch.Tensor, all_gather: Callable, rank: int, world_size: int) -> torch.Tensor:
    """Rows of every process in rank order; only this process's rows carry gradient (times W, see above).

    `all_gather` concatenates equal-shaped tensors from all processes along dim 0 without
    gradient (accelerate's `gather`). Every process must call it in the same order.
    """
    if world_size == 1:
        return local
    everything = all_gather(local.detach().contiguous())
    n = local.shape[0]
    mine = scale_grad(local, float(world_size))
    return torch.cat([everything[: rank * n], mine, everything[(rank + 1) * n :]], dim=0)


def accelerator_gather(accelerator) -> Callable[[torch.Tensor], torch.Tensor]:
    """`gather_with_local_grad` bound to an `accelerate.Accelerator`."""
    return lambda x: gather_with_local_grad(x, accelerator.gather, accelerator.process_index, accelerator.num_processes)


@dataclass
class LossOutput:
    loss: torch.Tensor  # J, to backpropagate (same value on every process)
    contrastive: torch.Tensor  # detached
    hard: torch.Tensor  # detached; the term's value even at weight 0; 0 when no row has negatives
    negatives_in_batch: int  # captions each audio is contrasted with, besides its own
    negatives_hard: float  # mean valid hard negatives per audio, global


def clap_loss(
    audio: torch.Tensor,
    text: torch.Tensor,
    negatives: torch.Tensor,
    negative_index: torch.Tensor,
    logit_scale_audio: torch.Tensor,
    logit_scale_text: torch.Tensor,
    hard_negative_weight: float = 1.0,
    logit_scale_max: float = 100.0,
    gather: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> LossOutput:
    """The objective J above for this process's rows.

    audio, text: (B, D) L2-normalised embeddings of matching pairs (row i of each).
    negatives: (N, D) normalised embeddings of this process's hard-negative captions.
    negative_index: (B, K) long; entry k of row i indexes `negatives`, -1 where absent.
    logit_scale_audio / _text: positive scalars (exp of ClapModel's logit_scale_a / _t),
    clamped to `logit_scale_max`; audio->text and the hard term use the audio scale, as
    `ClapModel.logits_per_audio` does; text->audio uses the text scale.
    gather: `gather_with_local_grad` bound to the process group; None for one process.
    """
    gather = gather or (lambda x: x)
    scale_a = logit_scale_audio.clamp(max=logit_scale_max)
    scale_t = logit_scale_text.clamp(max=logit_scale_max)

    all_audio, all_text = gather(audio), gather(text)
    targets = torch.arange(all_audio.shape[0], device=audio.device)
    logits_a2t = scale_a * all_audio @ all_text.T
    logits_t2a = scale_t * all_text @ all_audio.T
    contrastive = (F.cross_entropy(_fp32(logits_a2t), targets) + F.cross_entropy(_fp32(logits_t2a), targets)) / 2
    total = contrastive

    valid = negative_index >= 0
    hard = torch.zeros((), device=audio.device)
    counts = gather(valid.sum(dim=1, keepdim=True).float())  # (G, 1) valid negatives per row
    if negative_index.shape[1] > 0:
        # computed (without gradient) even at weight 0, so a run with a delayed hard term logs it throughout
        with torch.set_grad_enabled(torch.is_grad_enabled() and hard_negative_weight > 0):
            rows = _hard_negative_rows(audio, text, negatives, negative_index, scale_a)
            all_rows = gather(rows)
            with_negatives = (counts[:, 0] > 0).float()
            hard = all_rows.sum() / with_negatives.sum().clamp(min=1)
        if hard_negative_weight > 0:
            total = total + hard_negative_weight * hard
    return LossOutput(
        loss=total,
        contrastive=contrastive.detach(),
        hard=hard.detach(),
        negatives_in_batch=int(all_audio.shape[0]) - 1,
        negatives_hard=float(counts.mean()),
    )


def _fp32(x: torch.Tensor) -> torch.Tensor:
    """Soft-max in at least float32 (bf16 logits lose the small differences hard negatives make)."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def _hard_negative_rows(audio, text, negatives, negative_index, scale) -> torch.Tensor:
    """Per row: CE over [own caption, own valid negatives]; exactly 0 for a row without negatives."""
    batch, k = negative_index.shape
    positive = (audio * text).sum(dim=-1, keepdim=True)  # (B, 1)
    if k == 0 or negatives.shape[0] == 0:
        return torch.zeros(batch, device=audio.device, dtype=_fp32(positive).dtype) + 0 * positive.sum()
    valid = negative_index >= 0
    picked = negatives[negative_index.clamp(min=0)]  # (B, K, D)
    similarity = torch.einsum("bd,bkd->bk", audio, picked)
    logits = _fp32(scale * torch.cat([positive, similarity], dim=1))
    # mask after scaling: scale * -inf would give the scale a NaN gradient
    logits = logits.masked_fill(torch.cat([torch.zeros_like(valid[:, :1]), ~valid], dim=1), float("-inf"))
    # log-sum-exp over [positive, negatives] minus the positive: -log softmax of the true caption
    return torch.logsumexp(logits, dim=1) - logits[:, 0]
