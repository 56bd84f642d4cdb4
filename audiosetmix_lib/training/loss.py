"""The CLAP training loss: symmetric in-batch InfoNCE plus hard-negative terms on both sides.

Why its own module: `ClapModel(return_loss=True)` in transformers 5 computes the text-to-audio
term twice and never audio-to-text (docs/training.md), and the hard-negative terms are what teach
modifiers. The objective, identical on every process:

    J = (CE(audio -> all captions [+ all negative captions]) + CE(caption -> all audio)) / 2
      + w * mean over rows with negatives of CE(audio -> [own caption, own K negatives])     (separate)
      + v * mean over rows with clips of CE(caption -> [own audio, own counterfactual clips])

`hard_negative_mode="separate"` is the middle term. `"in_batch"` drops it and instead puts
every row's negative captions into the audio->text denominator of the in-batch term (the
NegCLIP / CompA way), each negative's exp-logit weighted by w (so w = 0 is plain InfoNCE and
a ramped w phases the negatives in). The last term (`audio_negative_weight` v) is the audio
side: a caption must pick its own clip over the same events rendered with the one change.

Across processes (open_clip's `gather_features`, without `local_loss`): every process gathers
all embeddings, puts its own differentiable slice back in place of the gathered copy, and
computes the full J. Each process then holds dJ/d(its own features); DDP *averages*
gradients over the W processes, so the local slice's gradient is multiplied by W on the way
back (`scale_grad`). The logit scales, which every process uses fully, are not scaled. A
test checks the summed per-process gradients against a naive single-process reference.
"""

from __future__ import annotations

import math
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
    audio_hard: torch.Tensor | None = None  # detached; the audio-negative term (0 when no row has clips)
    audio_negatives: float = 0.0  # mean counterfactual clips per caption, global


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
    hard_negative_mode: str = "separate",
    negative_audio: torch.Tensor | None = None,
    negative_audio_index: torch.Tensor | None = None,
    audio_negative_weight: float = 0.0,
) -> LossOutput:
    """The objective J above for this process's rows.

    audio, text: (B, D) L2-normalised embeddings of matching pairs (row i of each).
    negatives: (N, D) normalised embeddings of this process's hard-negative captions.
    negative_index: (B, K) long; entry k of row i indexes `negatives`, -1 where absent.
    logit_scale_audio / _text: positive scalars (exp of ClapModel's logit_scale_a / _t),
    clamped to `logit_scale_max`; audio->text and the caption hard term use the audio scale, as
    `ClapModel.logits_per_audio` does; text->audio and the audio hard term use the text scale.
    negative_audio: (M, D) normalised embeddings of this process's counterfactual clips;
    negative_audio_index: (B, A) long into them, -1 where absent.
    gather: `gather_with_local_grad` bound to the process group; None for one process.
    """
    if hard_negative_mode not in ("separate", "in_batch"):
        raise ValueError(f"hard_negative_mode must be 'separate' or 'in_batch', got {hard_negative_mode!r}")
    gather = gather or (lambda x: x)
    scale_a = logit_scale_audio.clamp(max=logit_scale_max)
    scale_t = logit_scale_text.clamp(max=logit_scale_max)

    all_audio, all_text = gather(audio), gather(text)
    targets = torch.arange(all_audio.shape[0], device=audio.device)
    logits_a2t = scale_a * all_audio @ all_text.T
    valid = negative_index >= 0
    in_batch = hard_negative_mode == "in_batch" and negative_index.shape[1] > 0 and hard_negative_weight > 0
    if in_batch:
        logits_a2t = torch.cat([_fp32(logits_a2t), _in_batch_negative_logits(all_audio, negatives, negative_index, scale_a,
                                                                      hard_negative_weight, gather)], dim=1)
    logits_t2a = scale_t * all_text @ all_audio.T
    contrastive = (F.cross_entropy(_fp32(logits_a2t), targets) + F.cross_entropy(_fp32(logits_t2a), targets)) / 2
    total = contrastive

    hard = torch.zeros((), device=audio.device)
    counts = gather(valid.sum(dim=1, keepdim=True).float())  # (G, 1) valid negatives per row
    separate = hard_negative_mode == "separate" and hard_negative_weight > 0
    if negative_index.shape[1] > 0:
        # computed (without gradient) even when it does not count, so a delayed term is logged throughout
        with torch.set_grad_enabled(torch.is_grad_enabled() and separate):
            hard = _mean_over_rows(_hard_negative_rows(audio, text, negatives, negative_index, scale_a), counts, gather)
        if separate:
            total = total + hard_negative_weight * hard

    audio_hard, clips = torch.zeros((), device=audio.device), 0.0
    if negative_audio_index is not None and negative_audio_index.shape[1] > 0:
        clip_counts = gather((negative_audio_index >= 0).sum(dim=1, keepdim=True).float())
        clips = float(clip_counts.mean())
        with torch.set_grad_enabled(torch.is_grad_enabled() and audio_negative_weight > 0):
            # the same CE with the roles swapped: the caption chooses among [own audio, own clips]
            rows = _hard_negative_rows(text, audio, negative_audio, negative_audio_index, scale_t)
            audio_hard = _mean_over_rows(rows, clip_counts, gather)
        if audio_negative_weight > 0:
            total = total + audio_negative_weight * audio_hard
    return LossOutput(
        loss=total,
        contrastive=contrastive.detach(),
        hard=hard.detach(),
        negatives_in_batch=int(all_audio.shape[0]) - 1 + (int(gather(valid.sum().reshape(1).float()).sum()) if in_batch else 0),
        negatives_hard=float(counts.mean()),
        audio_hard=audio_hard.detach(),
        audio_negatives=clips,
    )


def _mean_over_rows(rows: torch.Tensor, counts: torch.Tensor, gather) -> torch.Tensor:
    """Sum of the per-row terms over the global batch / the number of rows that have any."""
    return gather(rows).sum() / (counts[:, 0] > 0).float().sum().clamp(min=1)


def _in_batch_negative_logits(all_audio, negatives, negative_index, scale, weight, gather) -> torch.Tensor:
    """(G, G*K) logits of every audio against every row's negative captions, + log(weight); -inf where absent.

    Negatives travel padded to (B*K, D) with the index's mask, so every process gathers the
    same shape whatever its rows' counts.
    """
    batch, k = negative_index.shape
    valid = negative_index >= 0
    if negatives.shape[0] == 0:
        picked = torch.zeros(batch, k, all_audio.shape[1], device=all_audio.device, dtype=all_audio.dtype)
    else:
        picked = negatives[negative_index.clamp(min=0)]
    all_negatives = gather(picked.reshape(batch * k, -1))
    all_valid = gather(valid.reshape(batch * k, 1).float())[:, 0] > 0
    logits = _fp32(scale * all_audio @ all_negatives.T) + math.log(weight)
    # mask after scaling: scale * -inf would give the scale a NaN gradient
    return logits.masked_fill(~all_valid[None, :], float("-inf"))


def _fp32(x: torch.Tensor) -> torch.Tensor:
    """Soft-max in at least float32 (bf16 logits lose the small differences hard negatives make)."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def _hard_negative_rows(audio, text, negatives, negative_index, scale) -> torch.Tensor:
    """Per row: CE of `audio` over [own `text`, own valid negatives]; exactly 0 for a row without negatives.

    Used both ways: audio anchors vs caption negatives, and caption anchors vs counterfactual clips.
    """
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
