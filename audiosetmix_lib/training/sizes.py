"""The from-scratch CLAP sizes for CPU, as plain data (no torch import: the argument parser and the
experiment runner read them).

Both have a 2-layer, 128-wide text encoder, 64-d projections and HTSAT depths [1,1,1,1] with
32-wide patch embeddings (about 1.7 M parameters); they differ in what the audio encoder sees:

- `tiny`: HTSAT's usual 256x256 input (CLAP's 10 ms log-mel, 1,001 frames; 8x8 windows). The
  calibrated size (docs/training.md): every recorded experiment before issue 12 used it.
- `tiny-fast`: a 128x128 input. Its own feature extractor hops 40 ms (251 frames per 10 s) with
  2048-point windows, so no sample is skipped; 4x4 attention windows. A quarter of the audio
  tokens: 2.8x the training samples/s on 2 cores (`python bench/train.py --size tiny-fast
  --baseline tiny`). Calibrated in part and unstable (docs/experiment.md, "Issue 12"): at 40k
  samples on a 6,000-row build its captions arm learned `order` and the modifiers about as `tiny`
  did at one training seed and left `order` at chance at another. So it is not the default; the
  tests use it where they check mechanics, not learning. The saved processor carries the
  extractor, so `pipeline(...)` and the evaluation read the same features.
"""

from __future__ import annotations

TINY_AUDIO = {
    "depths": [1, 1, 1, 1],
    "num_attention_heads": [4, 4, 8, 8],
    "patch_embeds_hidden_size": 32,
    "hidden_size": 256,  # = patch_embeds_hidden_size * 2 ** (len(depths) - 1)
    "enable_fusion": False,
}
# 251 frames <= spec_size * (spec_size // 64 mels) = 256; the 4x4 windows divide every stage's
# grid (32, 16, 8, 4), which 8x8 windows would not.
TINY_FAST_AUDIO = dict(TINY_AUDIO, spec_size=128, window_size=4)
TINY_FAST_FEATURES = {"hop_length": 1920, "fft_window_size": 2048}
# size -> its audio config and its ClapFeatureExtractor settings (beyond features.FEATURE_EXTRACTOR_SETTINGS)
TINY_SIZES = {
    "tiny": {"audio": TINY_AUDIO, "features": {}},
    "tiny-fast": {"audio": TINY_FAST_AUDIO, "features": TINY_FAST_FEATURES},
}
TINY_TEXT = {"num_hidden_layers": 2, "hidden_size": 128, "num_attention_heads": 4, "intermediate_size": 512}
TINY_PROJECTION = 64


def is_tiny(model_name: str) -> bool:
    """Whether `model_name` is one of the from-scratch CPU sizes (they need a project tokenizer)."""
    return model_name in TINY_SIZES
