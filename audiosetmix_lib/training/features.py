"""Log-mel features on the training device, matching `ClapFeatureExtractor`.

`ClapFeatureExtractor` costs ~25 ms per 10 s clip on one CPU core (docs/training.md), far too slow
to feed a GPU, so the training loop computes the same features with `torch.stft` on the
device. A pretrained CLAP must see the features it was trained on: `LogMel` takes its filter
bank (Slaney scale, Slaney norm for `rand_trunc`) and STFT settings from the feature
extractor itself, and the tests compare both outputs (tolerance in `LOGMEL_TOLERANCE_DB`).
"""

from __future__ import annotations

import torch

# The only settings that keep "A then B" intact on an unfused model (docs/training.md):
# `fusion` (4 channels) is rejected by an unfused model, `repeatpad` turns A-then-B into A, B, A, B.
FEATURE_EXTRACTOR_SETTINGS = {"truncation": "rand_trunc", "padding": "pad"}

# Agreement with ClapFeatureExtractor on the same zero-padded 10 s waveform, in dB (float32
# torch vs the extractor's float64 numpy): bins at or above LOGMEL_QUIET_DB agree to
# LOGMEL_TOLERANCE_DB (measured <= 0.0011 dB); quieter bins to LOGMEL_FLOOR_TOLERANCE_DB
# (measured <= 0.084 dB: float32 round-off in bins 60+ dB below their frame's peak). Measured
# on 8 synth rows, noise, full-scale and -80 dB sines, clicks and 16-bit LSB noise.
# Both are asserted in tests/test_training_units.py.
LOGMEL_TOLERANCE_DB = 0.01
LOGMEL_FLOOR_TOLERANCE_DB = 0.25
LOGMEL_QUIET_DB = -60.0

# The optional time channel (`--audio_time_channel`): HTSAT has no absolute position and
# average-pools its last feature map, so on its own it maps "A then B" and "B then A" to
# nearly the same embedding (eval/probe_counterfactual.py measures it; docs/experiment.md).
# A second input channel holding each frame's time gives every patch its position. The ramp
# spans the log-mel's own range (floor to 0 dB) because the encoder's BatchNorm pools both
# channels per mel bin.
TIME_CHANNEL_RANGE_DB = (-100.0, 0.0)


def clap_feature_extractor(base=None, **settings):
    """A `ClapFeatureExtractor` with the settings above (a fresh one with `settings`, or `base` adjusted)."""
    from transformers import ClapFeatureExtractor

    fe = base if base is not None else ClapFeatureExtractor(**FEATURE_EXTRACTOR_SETTINGS, **settings)
    for name, value in FEATURE_EXTRACTOR_SETTINGS.items():
        setattr(fe, name, value)
    return fe


def uses_time_channel(audio_config) -> bool:
    """Whether a CLAP audio encoder expects [log-mel, time] inputs (2 input channels, unfused)."""
    return int(getattr(audio_config, "patch_embed_input_channels", 1)) == 2 and not getattr(audio_config, "enable_fusion", False)


def add_time_channel(features: torch.Tensor) -> torch.Tensor:
    """(batch, 1, frames, mels) -> (batch, 2, frames, mels): channel 1 is the frame's time as a ramp."""
    batch, _, frames, mels = features.shape
    ramp = torch.linspace(*TIME_CHANNEL_RANGE_DB, frames, device=features.device, dtype=features.dtype)
    return torch.cat([features, ramp.view(1, 1, frames, 1).expand(batch, 1, frames, mels)], dim=1)


class LogMel(torch.nn.Module):
    """(batch, samples) waveforms at the extractor's rate -> (batch, 1, frames, mels) log-mel in dB.

    With `time_channel`, (batch, 2, frames, mels): the log-mel plus `add_time_channel`'s ramp.
    """

    def __init__(self, mel_filters, n_fft: int, hop_length: int, floor: float = 1e-10, time_channel: bool = False):
        super().__init__()
        self.time_channel = bool(time_channel)
        self.n_fft = int(n_fft)
        self.hop_length = int(hop_length)
        self.floor = float(floor)
        filters = torch.as_tensor(mel_filters, dtype=torch.float32)  # (freq bins, mels)
        # Only the bins some filter covers (below frequency_max): about 40 % less matmul, same sums.
        used = torch.nonzero(filters.abs().sum(dim=1)).flatten()
        self.bins = slice(int(used.min()), int(used.max()) + 1)
        self.register_buffer("window", torch.hann_window(self.n_fft, periodic=True), persistent=False)
        self.register_buffer("mel_filters", filters[self.bins].contiguous(), persistent=False)

    @classmethod
    def from_feature_extractor(cls, fe, time_channel: bool = False) -> "LogMel":
        """Same filter bank and STFT as `fe` with `truncation="rand_trunc"` (Slaney filters)."""
        if fe.truncation != "rand_trunc":
            raise ValueError(f"LogMel reproduces truncation='rand_trunc' only; the extractor has {fe.truncation!r}")
        return cls(fe.mel_filters_slaney, fe.fft_window_size, fe.hop_length, time_channel=time_channel)

    @torch.no_grad()
    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=waveforms.device.type, enabled=False):
            spec = torch.stft(
                waveforms.float(), self.n_fft, hop_length=self.hop_length, window=self.window,
                center=True, pad_mode="reflect", return_complex=True,
            )
            spec = spec[:, self.bins]
            power = spec.real.square() + spec.imag.square()  # (batch, freq, frames)
            mel = torch.matmul(power.transpose(1, 2), self.mel_filters)  # (batch, frames, mels)
            features = (10.0 * torch.log10(mel.clamp_min(self.floor))).unsqueeze(1)
            return add_time_channel(features) if self.time_channel else features
