"""ClapModel + ClapProcessor: a tiny from-scratch size (sizes.py) or a pretrained checkpoint."""

from __future__ import annotations

import math

import torch

from audiosetmix_lib.training.features import clap_feature_extractor
from audiosetmix_lib.training.sizes import TINY_PROJECTION, TINY_SIZES, TINY_TEXT, is_tiny


def tiny_config(tokenizer, max_text_length: int, time_channel: bool = False, size: str = "tiny"):
    """A ClapConfig sized for CPU (`size`: a key of TINY_SIZES), its text side fitted to `tokenizer`.

    `time_channel`: the audio encoder takes [log-mel, time] (features.add_time_channel).
    """
    from transformers import ClapConfig

    text = dict(
        TINY_TEXT,
        vocab_size=len(tokenizer),
        # Roberta positions start after the padding index: room for max_text_length + 2
        max_position_embeddings=max_text_length + 2,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        projection_dim=TINY_PROJECTION,
    )
    audio = dict(TINY_SIZES[size]["audio"], projection_dim=TINY_PROJECTION, patch_embed_input_channels=2 if time_channel else 1)
    return ClapConfig(text_config=text, audio_config=audio, projection_dim=TINY_PROJECTION)


def build_model(model_name: str, tokenizer=None, max_text_length: int = 128, time_channel: bool = False):
    """(ClapModel, ClapProcessor); `tokenizer` and `time_channel` are for (and only used by) the tiny sizes.

    The processor's feature extractor always uses rand_trunc + pad (features.py); it makes the
    log-mel only, so a time-channel model gets its second channel from `LogMel(time_channel=True)`.
    """
    from transformers import ClapModel, ClapProcessor

    if is_tiny(model_name):
        if tokenizer is None:
            raise ValueError("the tiny model needs a tokenizer")
        model = ClapModel(tiny_config(tokenizer, max_text_length, time_channel, model_name))
        processor = ClapProcessor(feature_extractor=clap_feature_extractor(**TINY_SIZES[model_name]["features"]), tokenizer=tokenizer)
        return model, processor
    model = ClapModel.from_pretrained(model_name)
    if model.config.audio_config.enable_fusion:
        raise ValueError(f"{model_name} is a fusion model; train_clap.py trains unfused models (rand_trunc features)")
    processor = ClapProcessor.from_pretrained(model_name)
    processor.feature_extractor = clap_feature_extractor(processor.feature_extractor)
    return model, processor


def text_length_limit(config, tokenizer, requested: int) -> int:
    """Longest caption (in tokens, specials included) the text encoder of a `ClapConfig` accepts."""
    positions = config.text_config.max_position_embeddings - 2
    return max(8, min(requested, positions, int(tokenizer.model_max_length)))


class ClapTrainModule(torch.nn.Module):
    """One forward for audio, captions and negatives, so DDP sees every parameter used.

    Calling `get_audio_features` / `get_text_features` on a DDP-wrapped model directly would
    bypass DDP's forward. Returns normalised audio (B, D) and text (B + N, D) embeddings and
    the two logit scales (exp of the learnable parameters).
    """

    def __init__(self, clap):
        super().__init__()
        self.clap = clap

    def forward(self, input_features, input_ids, attention_mask):
        audio = self.clap.get_audio_features(input_features=input_features).pooler_output
        text = self.clap.get_text_features(input_ids=input_ids, attention_mask=attention_mask).pooler_output
        return audio, text, self.clap.logit_scale_a.exp(), self.clap.logit_scale_t.exp()


def parameter_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """AdamW groups: no weight decay on biases, norms and logit scales."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if param.ndim < 2 or "logit_scale" in name or "norm" in name.lower():
            no_decay.append(param)
        else:
            decay.append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


@torch.no_grad()
def clamp_logit_scales(clap, max_scale: float) -> None:
    """Keep the stored parameters inside the clamp the loss applies (open_clip does the same)."""
    for param in (clap.logit_scale_a, clap.logit_scale_t):
        param.clamp_(max=math.log(max_scale))


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
