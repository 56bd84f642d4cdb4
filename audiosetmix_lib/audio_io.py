"""Reading, resampling, trimming and encoding audio: the only place that touches codecs."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .stop_signals import stops_deferred

PCM_BITS = 16
PCM_MAX = 2 ** (PCM_BITS - 1) - 1


class AudioReadError(ValueError):
    """An audio file that cannot be decoded (corrupt, empty or missing)."""


class TruncatedAudioError(AudioReadError):
    """A file whose header promises more audio than the file holds (an interrupted copy or download)."""


def wav_declared_bytes(path: Path) -> tuple[int, int] | None:
    """(bytes the WAV `data` chunk declares, bytes actually there), None if not a RIFF WAV or unknown size.

    libsndfile quietly shortens a truncated WAV to what is there, so the header is read here.
    """
    with open(path, "rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        size = path.stat().st_size
        position = 12
        while position + 8 <= size:
            handle.seek(position)
            chunk = handle.read(8)
            length = int.from_bytes(chunk[4:8], "little")
            if chunk[:4] == b"data":
                if length in (0, 0xFFFFFFFF):  # streamed WAV: length not known when the header was written
                    return None
                return length, size - position - 8
            position += 8 + length + (length & 1)
    return None


def _check_complete(path: Path, frames: int, sr: int) -> None:
    declared = wav_declared_bytes(path) if path.suffix.lower() in (".wav", ".wave") else None
    if declared is not None and declared[1] < declared[0]:
        raise TruncatedAudioError(f"{path}: truncated: the header promises {declared[0]} bytes of samples, "
                                  f"the file holds {max(0, declared[1])} ({frames / sr:.3f} s readable)")


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Decode a file to mono float32. soundfile first (wav/flac/ogg/mp3), torchcodec/FFmpeg second."""
    path = Path(path)
    if not path.is_file():
        raise AudioReadError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise AudioReadError(f"{path}: empty file")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as sf_error:  # noqa: BLE001 - fall back to FFmpeg for any libsndfile failure
        try:
            data, sr = _read_with_torchcodec(path)
        except Exception as ff_error:  # noqa: BLE001
            promised = _header_frames(path)
            if promised:  # a valid header, then data that stops decoding: cut short (or damaged) after the header
                raise TruncatedAudioError(f"{path}: truncated or damaged: the header promises {promised} frames, "
                                          f"the data cannot be decoded ({sf_error})") from ff_error
            raise AudioReadError(f"{path}: cannot decode ({sf_error}; FFmpeg: {ff_error})") from ff_error
        promised = _header_frames(path)
        if promised and len(data) < promised * 0.99:  # libsndfile stopped mid-stream, FFmpeg read what was left
            raise TruncatedAudioError(f"{path}: truncated: the header promises {promised / sr:.3f} s, "
                                      f"{len(data) / sr:.3f} s decodable ({sf_error})") from sf_error
    samples = data.mean(axis=1).astype(np.float32)
    _check_complete(path, len(samples), int(sr))
    if samples.size == 0:
        raise AudioReadError(f"{path}: no audio samples")
    if not np.all(np.isfinite(samples)):
        raise AudioReadError(f"{path}: non-finite samples")
    return samples, int(sr)


def _header_frames(path: Path) -> int | None:
    try:
        return int(sf.info(str(path)).frames)
    except Exception:  # noqa: BLE001 - no readable header: nothing promised
        return None


def read_audio_bytes(data: bytes) -> tuple[np.ndarray, int]:
    """Decode in-memory audio (e.g. a dataset's `{bytes}` cell) to mono float32."""
    samples, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return samples.mean(axis=1).astype(np.float32), int(sr)


def _read_with_torchcodec(path: Path) -> tuple[np.ndarray, int]:
    from torchcodec.decoders import AudioDecoder

    decoder = AudioDecoder(str(path))
    result = decoder.get_all_samples()
    data = result.data.numpy().T  # (time, channels)
    return data.astype(np.float32), int(result.sample_rate)


def resample(samples: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """High-quality, deterministic resampling with soxr."""
    if sr_in == sr_out:
        return samples.astype(np.float32, copy=False)
    return soxr.resample(samples, sr_in, sr_out, quality="HQ").astype(np.float32)


def trim_silence(samples: np.ndarray, sr: int, threshold_db: float = -40.0, frame_s: float = 0.02) -> tuple[int, int]:
    """Return [begin, end) sample bounds without leading/trailing frames quieter than peak + threshold_db."""
    frame = max(1, int(round(frame_s * sr)))
    n_frames = int(np.ceil(len(samples) / frame))
    padded = np.zeros(n_frames * frame, dtype=np.float32)
    padded[: len(samples)] = samples
    peaks = np.abs(padded.reshape(n_frames, frame)).max(axis=1)
    top = peaks.max()
    if top <= 0:
        return 0, 0
    active = np.nonzero(peaks >= top * 10 ** (threshold_db / 20))[0]
    begin = int(active[0] * frame)
    end = int(min(len(samples), (active[-1] + 1) * frame))
    return begin, end


def quantize(samples: np.ndarray) -> np.ndarray:
    """Float [-1, 1] to the stored PCM integers; the one rounding rule used by build and render."""
    return np.clip(np.round(samples.astype(np.float64) * PCM_MAX), -PCM_MAX - 1, PCM_MAX).astype(np.int16)


def encode_flac(pcm: np.ndarray, sr: int) -> bytes:
    """Encode 16-bit PCM as FLAC bytes (lossless: decoding gives these integers back)."""
    buffer = io.BytesIO()
    with stops_deferred():  # the encoder writes through a Python callback, where a raised stop would be lost
        sf.write(buffer, pcm, sr, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()


def write_wav(path: str | Path, pcm: np.ndarray, sr: int) -> None:
    sf.write(str(path), pcm, sr, format="WAV", subtype="PCM_16")
