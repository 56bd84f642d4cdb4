"""A CLAP model and its front end: load it, turn waveforms into its features, embed texts and clips.

Embeddings are the normalised `get_audio_features` / `get_text_features` pooler outputs, so a
similarity is their dot product. Features: the training code's torch log-mel when it can be
built from the model's `ClapFeatureExtractor`, else the extractor itself with
`truncation="rand_trunc", padding="pad"`.
"""

from __future__ import annotations

import numpy as np

from ..training.features import LogMel, add_time_channel
from .clip_audio import TARGET_SR, decode_audio, fit_clip
from .errors import EvaluationError


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


def _torch_logmel(extractor):
    """The training code's torch log-mel built from `extractor` (same filters and STFT), if it can be built."""
    try:
        return LogMel.from_feature_extractor(extractor).eval()
    except (AttributeError, TypeError, ValueError):
        return None


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


def max_text_length(model, tokenizer) -> int:
    positions = getattr(model.config.text_config, "max_position_embeddings", 514)
    limit = positions - 2 if positions > 2 else positions  # RoBERTa position ids start after the padding index
    return int(min(limit, tokenizer.model_max_length or limit))


def embed_texts(model, tokenizer, texts: list[str], batch_size: int) -> np.ndarray:
    import torch

    max_length = max_text_length(model, tokenizer)
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
