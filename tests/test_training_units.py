"""Training building blocks: loss vs a naive reference (1 and 2 processes), log-mel vs
ClapFeatureExtractor, tokenizer, data pipeline, and the argument contract of train_clap.py."""

from __future__ import annotations

import ast
import json
import math
import threading
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import torch

from audiosetmix_lib import audio_io
from audiosetmix_lib.training.args import TrainClapArguments, parse_args
from audiosetmix_lib.training.data import Collator, MixtureSampler, label_caption, load_waveform
from audiosetmix_lib.training.features import (
    LOGMEL_FLOOR_TOLERANCE_DB,
    LOGMEL_QUIET_DB,
    LOGMEL_TOLERANCE_DB,
    LogMel,
    clap_feature_extractor,
)
from audiosetmix_lib.training.loss import clap_loss, gather_with_local_grad

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- loss


def naive_loss(audio, text, negatives_per_row, log_scale_a, log_scale_t, weight, scale_max=100.0,
               mode="separate", clips_per_row=None, audio_weight=0.0):
    """The objective written out one sample at a time (open_clip-style reference).

    mode "in_batch": audio i's softmax runs over every caption and every row's negative
    captions, each negative's exp weighted by `weight`. clips_per_row: counterfactual audio
    embeddings per row; caption i's softmax over [audio i, its clips], weighted by `audio_weight`.
    """
    scale_a = torch.clamp(log_scale_a.exp(), max=scale_max)
    scale_t = torch.clamp(log_scale_t.exp(), max=scale_max)
    n = len(audio)
    all_negatives = [v for row in negatives_per_row for v in row]
    a2t = t2a = 0.0
    for i in range(n):
        row = [scale_a * torch.dot(audio[i], text[j]) for j in range(n)]
        if mode == "in_batch" and weight > 0:
            row += [scale_a * torch.dot(audio[i], v) + math.log(weight) for v in all_negatives]
        row = torch.stack(row)
        a2t = a2t - (row[i] - torch.logsumexp(row, 0))
        col = torch.stack([scale_t * torch.dot(text[i], audio[j]) for j in range(n)])
        t2a = t2a - (col[i] - torch.logsumexp(col, 0))
    total = (a2t / n + t2a / n) / 2
    if mode == "separate":
        hard, rows = 0.0, 0
        for i in range(n):
            if not negatives_per_row[i]:
                continue
            logits = torch.stack([scale_a * torch.dot(audio[i], v) for v in [text[i], *negatives_per_row[i]]])
            hard = hard - (logits[0] - torch.logsumexp(logits, 0))
            rows += 1
        total = total + weight * (hard / max(rows, 1))
    if clips_per_row is not None:
        term, rows = 0.0, 0
        for i in range(n):
            if not len(clips_per_row[i]):
                continue
            logits = torch.stack([scale_t * torch.dot(text[i], v) for v in [audio[i], *clips_per_row[i]]])
            term = term - (logits[0] - torch.logsumexp(logits, 0))
            rows += 1
        total = total + audio_weight * (term / max(rows, 1))
    return total


def unit_rows(generator, n, d=6):
    return torch.nn.functional.normalize(torch.randn(n, d, generator=generator, dtype=torch.float64), dim=-1)


def make_problem(seed=0, n=8, k=3, counts=(3, 0, 1, 2, 3, 0, 2, 1)):
    g = torch.Generator().manual_seed(seed)
    audio, text = unit_rows(g, n), unit_rows(g, n)
    negatives = [unit_rows(g, c) for c in counts]  # per row, 0..k negatives
    return audio, text, negatives, k


def pack(negatives, k, d=6):
    """Rows' negatives -> (flat (N, D), index (B, K) with -1 where absent)."""
    index = torch.full((len(negatives), k), -1, dtype=torch.long)
    flat = []
    for i, row in enumerate(negatives):
        for j, vector in enumerate(row):
            index[i, j] = len(flat)
            flat.append(vector)
    return (torch.stack(flat) if flat else torch.zeros(0, d, dtype=torch.float64)), index


@pytest.mark.parametrize("weight", [0.0, 0.7])
def test_loss_matches_naive_reference(weight):
    audio, text, negatives, k = make_problem()
    log_a = torch.tensor(math.log(12.0), dtype=torch.float64, requires_grad=True)
    log_t = torch.tensor(math.log(9.0), dtype=torch.float64, requires_grad=True)
    leaves = [audio.requires_grad_(), text.requires_grad_()]
    flat, index = pack(negatives, k)
    flat.requires_grad_()
    out = clap_loss(audio, text, flat, index, log_a.exp(), log_t.exp(), hard_negative_weight=weight)
    got = torch.autograd.grad(out.loss, leaves + [flat, log_a, log_t], allow_unused=True, materialize_grads=True)

    rows = [flat[index[i][index[i] >= 0]] for i in range(len(audio))]
    ref = naive_loss(audio, text, [list(r) for r in rows], log_a, log_t, weight)
    want = torch.autograd.grad(ref, leaves + [flat, log_a, log_t], allow_unused=True, materialize_grads=True)
    assert out.loss.item() == pytest.approx(ref.item(), rel=1e-10)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-9, atol=1e-12)
    assert out.negatives_in_batch == len(audio) - 1
    assert out.negatives_hard == pytest.approx(12 / 8)
    # the hard term is reported at weight 0 too (a delayed term is logged before it switches on)
    naive_hard = naive_loss(audio, text, [list(r) for r in rows], log_a, log_t, 1.0) - naive_loss(audio, text, [list(r) for r in rows], log_a, log_t, 0.0)
    assert out.hard.item() == pytest.approx(naive_hard.item(), rel=1e-10)


@pytest.mark.parametrize("mode,weight,audio_weight", [("in_batch", 0.7, 0.0), ("in_batch", 1.0, 0.4), ("separate", 0.5, 0.8),
                                                     ("separate", 0.0, 1.0)])
def test_in_batch_negatives_and_audio_negatives_match_naive_reference(mode, weight, audio_weight):
    audio, text, negatives, k = make_problem(seed=5)
    g = torch.Generator().manual_seed(9)
    clips = [unit_rows(g, c) for c in (1, 0, 2, 1, 0, 1, 1, 2)]  # counterfactual audio per row
    log_a = torch.tensor(math.log(12.0), dtype=torch.float64, requires_grad=True)
    log_t = torch.tensor(math.log(9.0), dtype=torch.float64, requires_grad=True)
    leaves = [audio.requires_grad_(), text.requires_grad_()]
    flat, index = pack(negatives, k)
    clip_flat, clip_index = pack(clips, 2)
    flat.requires_grad_()
    clip_flat.requires_grad_()
    out = clap_loss(audio, text, flat, index, log_a.exp(), log_t.exp(), hard_negative_weight=weight, hard_negative_mode=mode,
                    negative_audio=clip_flat, negative_audio_index=clip_index, audio_negative_weight=audio_weight)
    wrt = leaves + [flat, clip_flat, log_a, log_t]
    got = torch.autograd.grad(out.loss, wrt, allow_unused=True, materialize_grads=True)
    rows = [list(flat[index[i][index[i] >= 0]]) for i in range(len(audio))]
    clip_rows = [list(clip_flat[clip_index[i][clip_index[i] >= 0]]) for i in range(len(audio))]
    ref = naive_loss(audio, text, rows, log_a, log_t, weight, mode=mode, clips_per_row=clip_rows, audio_weight=audio_weight)
    want = torch.autograd.grad(ref, wrt, allow_unused=True, materialize_grads=True)
    assert out.loss.item() == pytest.approx(ref.item(), rel=1e-10)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
    # the audio term is reported whatever its weight
    with_term = naive_loss(audio, text, rows, log_a, log_t, weight, mode=mode, clips_per_row=clip_rows, audio_weight=1.0)
    without = naive_loss(audio, text, rows, log_a, log_t, weight, mode=mode, clips_per_row=clip_rows, audio_weight=0.0)
    assert out.audio_hard.item() == pytest.approx((with_term - without).item(), rel=1e-10)
    assert out.audio_negatives == pytest.approx(8 / 8)
    if mode == "in_batch":
        assert out.negatives_in_batch == len(audio) - 1 + sum(len(r) for r in rows)
        if weight > 0:  # in_batch mode has no separate term: the gradient of a negative comes from every audio
            assert all(torch.count_nonzero(g) > 0 for g in got[2])


def test_logit_scale_is_clamped():
    audio, text, negatives, k = make_problem(seed=1)
    flat, index = pack(negatives, k)
    log_a = torch.tensor(math.log(500.0), dtype=torch.float64, requires_grad=True)
    out = clap_loss(audio, text, flat, index, log_a.exp(), log_a.exp(), logit_scale_max=100.0)
    at_max = clap_loss(audio, text, flat, index, torch.tensor(100.0, dtype=torch.float64), torch.tensor(100.0, dtype=torch.float64))
    assert out.loss.item() == pytest.approx(at_max.loss.item())
    (grad,) = torch.autograd.grad(out.loss, [log_a])
    assert grad.item() == 0.0


class FakeProcessGroup:
    """all_gather between threads: each thread plays one process."""

    def __init__(self, world):
        self.barrier = threading.Barrier(world)
        self.slots = [None] * world

    def all_gather(self, rank, x):
        self.barrier.wait()  # everyone has read the previous round
        self.slots[rank] = x
        self.barrier.wait()
        return torch.cat(self.slots)


@pytest.mark.parametrize("mode,audio_weight", [("separate", 0.0), ("in_batch", 0.6), ("separate", 0.6)])
def test_two_process_gradients_match_one_big_batch(mode, audio_weight):
    """DDP semantics: per-process gradients, averaged, equal the single-process gradient of J (every term)."""
    world, weight = 2, 0.5
    audio, text, negatives, k = make_problem(seed=2)
    g = torch.Generator().manual_seed(4)
    clips = [unit_rows(g, c) for c in (1, 0, 2, 1, 2, 1, 0, 1)]
    log_a0, log_t0 = math.log(11.0), math.log(13.0)
    per = len(audio) // world
    group, results, errors = FakeProcessGroup(world), [None] * world, []

    def process(rank):
        try:
            rows = slice(rank * per, (rank + 1) * per)
            a = audio[rows].clone().requires_grad_()
            t = text[rows].clone().requires_grad_()
            flat, index = pack(negatives[rows], k)
            clip_flat, clip_index = pack(clips[rows], 2)
            flat.requires_grad_()
            clip_flat.requires_grad_()
            log_a = torch.tensor(log_a0, dtype=torch.float64, requires_grad=True)
            log_t = torch.tensor(log_t0, dtype=torch.float64, requires_grad=True)
            gather = lambda x: gather_with_local_grad(x, lambda y: group.all_gather(rank, y), rank, world)  # noqa: E731
            out = clap_loss(a, t, flat, index, log_a.exp(), log_t.exp(), hard_negative_weight=weight, gather=gather,
                            hard_negative_mode=mode, negative_audio=clip_flat, negative_audio_index=clip_index,
                            audio_negative_weight=audio_weight)
            results[rank] = (out, torch.autograd.grad(out.loss, [a, t, flat, log_a, log_t, clip_flat], allow_unused=True,
                                                      materialize_grads=True))
        except Exception as error:  # noqa: BLE001 - surface thread errors in the test
            errors.append(error)
            group.barrier.abort()

    threads = [threading.Thread(target=process, args=(r,)) for r in range(world)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors

    a, t = audio.clone().requires_grad_(), text.clone().requires_grad_()
    flat_all = [n.clone().requires_grad_() for n in negatives]
    clips_all = [c.clone().requires_grad_() for c in clips]
    log_a = torch.tensor(log_a0, dtype=torch.float64, requires_grad=True)
    log_t = torch.tensor(log_t0, dtype=torch.float64, requires_grad=True)
    ref = naive_loss(a, t, [list(n) for n in flat_all], log_a, log_t, weight, mode=mode,
                     clips_per_row=[list(c) for c in clips_all], audio_weight=audio_weight)
    negs, cl = [n for n in flat_all if len(n)], [c for c in clips_all if len(c)]
    want = torch.autograd.grad(ref, [a, t, log_a, log_t] + negs + cl, allow_unused=True, materialize_grads=True)

    for out, _ in results:  # every process computes the same global objective
        assert out.loss.item() == pytest.approx(ref.item(), rel=1e-10)
    # DDP averages parameter gradients over processes: features feed the same parameters
    avg = lambda i: torch.cat([results[r][1][i] for r in range(world)]) / world  # noqa: E731
    torch.testing.assert_close(avg(0), want[0], rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(avg(1), want[1], rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(avg(2), torch.cat(want[4:4 + len(negs)]), rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(avg(5), torch.cat(want[4 + len(negs):]), rtol=1e-9, atol=1e-12)
    for i in (3, 4):  # logit scales: one shared parameter, averaged
        got = sum(results[r][1][i] for r in range(world)) / world
        torch.testing.assert_close(got, want[i - 1], rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------- features


def _padded_10s(samples: np.ndarray) -> np.ndarray:
    out = np.zeros(480_000, dtype=np.float32)
    out[: min(len(samples), len(out))] = samples[: len(out)]
    return out


@pytest.mark.parametrize(("settings", "frames"), [({}, 1001), ({"hop_length": 1920, "fft_window_size": 2048}, 251)],
                         ids=["clap", "tiny-fast"])
def test_torch_logmel_matches_clap_feature_extractor(tiny_dataset_dir, settings, frames):
    import datasets

    fe = clap_feature_extractor(**settings)
    assert (fe.truncation, fe.padding) == ("rand_trunc", "pad")
    logmel = LogMel.from_feature_extractor(fe)
    ds = datasets.load_dataset(str(tiny_dataset_dir), split="validation").cast_column("audio", datasets.Audio(decode=False))
    samples, sr = audio_io.read_audio_bytes(ds[0]["audio"]["bytes"])
    t = np.arange(480_000) / 48_000
    waveforms = [
        _padded_10s(audio_io.resample(samples, sr, 48_000)),  # a real row, zero-padded to 10 s
        _padded_10s((0.99 * np.sin(2 * np.pi * 1000 * t[:144_000])).astype(np.float32)),  # full scale, then silence
    ]
    got = logmel(torch.from_numpy(np.stack(waveforms))).numpy()
    assert got.shape == (2, 1, frames, 64)
    for i, waveform in enumerate(waveforms):
        want = fe(waveform, sampling_rate=48_000, return_tensors="np")["input_features"][0, 0]
        diff = np.abs(got[i, 0] - want)
        loud = want >= LOGMEL_QUIET_DB
        assert loud.any() and (~loud).any()
        assert diff[loud].max() <= LOGMEL_TOLERANCE_DB
        assert diff.max() <= LOGMEL_FLOOR_TOLERANCE_DB


def test_logmel_rejects_fusion_extractor():
    from transformers import ClapFeatureExtractor

    with pytest.raises(ValueError, match="rand_trunc"):
        LogMel.from_feature_extractor(ClapFeatureExtractor())


# ---------------------------------------------------------------- tokenizer


def test_tiny_tokenizer_has_its_trained_vocabulary(tmp_path):
    from transformers import AutoTokenizer

    from audiosetmix_lib.training.tokenizer import train_tokenizer

    texts = ["A loud siren wails, then a dog barks.", "Quiet rain falls while wind blows.", "bell, siren"] * 3
    tokenizer = train_tokenizer(texts, vocab_size=300, model_max_length=64)
    again = train_tokenizer(list(reversed(texts)), vocab_size=300, model_max_length=64)
    assert len(tokenizer) > 100 and tokenizer.get_vocab() == again.get_vocab()
    assert (tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id) == (1, 0, 2)
    ids = tokenizer(["a loud siren", "a quiet siren"])["input_ids"]
    assert ids[0] != ids[1] and ids[0][0] == 0 and ids[0][-1] == 2
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert len(loaded) == len(tokenizer) and loaded.model_max_length == 64
    assert loaded(["a loud siren"])["input_ids"][0] == ids[0]


# ---------------------------------------------------------------- data


def test_label_caption_is_a_sorted_set():
    assert label_caption(["Siren", "Bell", "siren"]) == "bell, siren"
    assert label_caption(["Bird vocalization, bird call, bird song"]) == "bird vocalization, bird call, bird song"


def _flac(samples: np.ndarray, sr: int) -> dict:
    return {"bytes": audio_io.encode_flac(audio_io.quantize(samples), sr), "path": None}


def test_waveform_is_zero_padded_never_repeated_and_crops_are_seeded():
    sr = 16_000
    short = 0.5 * np.sin(2 * np.pi * 440 * np.arange(3 * sr) / sr).astype(np.float32)
    out = load_waveform(_flac(short, sr), 48_000, 480_000, crop_seed=5)
    assert out.shape == (480_000,) and out.dtype == np.float32
    assert np.abs(out[: 3 * 48_000 - 100]).max() > 0.3
    assert not out[3 * 48_000 + 100 :].any()  # silence after the clip, not a repeat

    long = np.random.default_rng(0).uniform(-0.5, 0.5, 12 * sr).astype(np.float32)
    cell = _flac(long, sr)
    first = load_waveform(cell, 48_000, 480_000, crop_seed=None)
    same = load_waveform(cell, 48_000, 480_000, crop_seed=11)
    assert np.array_equal(same, load_waveform(cell, 48_000, 480_000, crop_seed=11))
    assert not np.array_equal(same, load_waveform(cell, 48_000, 480_000, crop_seed=12))
    full = audio_io.resample(audio_io.read_audio_bytes(cell["bytes"])[0], sr, 48_000)
    assert np.array_equal(first, full[:480_000])


def test_mixture_sampler_is_seeded_and_weighted():
    sampler = MixtureSampler([10, 50, 40], [0.5, 0.3, 0.2], seed=3, num_samples=4000)
    keys = list(sampler)
    assert keys == list(sampler)  # same epoch, same keys
    sampler.set_epoch(1)
    assert keys != list(sampler)
    shares = np.bincount([k.source for k in keys], minlength=3) / len(keys)
    np.testing.assert_allclose(shares, [0.5, 0.3, 0.2], atol=0.03)
    assert all(0 <= k.row < [10, 50, 40][k.source] for k in keys)

    single = MixtureSampler([7], [1.0], seed=0, num_samples=7)
    assert sorted(k.row for k in single) == list(range(7))  # a plain shuffled epoch


def test_collator_puts_captions_first_and_indexes_negatives():
    from audiosetmix_lib.training.tokenizer import train_tokenizer

    tokenizer = train_tokenizer(["a dog barks", "a loud bell", "quiet rain", "a bell"], 300, 32)
    items = [
        {"waveform": np.zeros(10, np.float32), "caption": "a dog barks", "negatives": [("a bell", "event"), ("quiet rain", "weird")]},
        {"waveform": np.ones(10, np.float32), "caption": "a loud bell", "negatives": []},
    ]
    batch = Collator(tokenizer, 32, max_negatives=3)(items)
    assert batch["waveforms"].shape == (2, 10)
    assert batch["input_ids"].shape[0] == 4
    assert batch["negative_index"].tolist() == [[0, 1, -1], [-1, -1, -1]]
    assert batch["negative_kind"].tolist() == [[3, 6, -1], [-1, -1, -1]]  # 'weird' -> unknown kind
    decoded = tokenizer.batch_decode(batch["input_ids"], skip_special_tokens=True)
    assert decoded == ["a dog barks", "a loud bell", "a bell", "quiet rain"]


# ---------------------------------------------------------------- arguments


def _args_reads(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    reads = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "args":
            reads.add(node.attr)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "getattr" and node.args:
            first = node.args[0]
            assert not (isinstance(first, ast.Name) and first.id == "args"), f"{path}: getattr(args, ...) hides reads"
    return reads


def test_every_argument_the_script_reads_is_defined():
    defined = {f.name for f in fields(TrainClapArguments)}
    files = [ROOT / "train_clap.py", ROOT / "bench" / "train.py", *sorted((ROOT / "audiosetmix_lib" / "training").glob("*.py"))]
    reads = {}
    for path in files:
        for name in _args_reads(path):
            reads.setdefault(name, []).append(path.name)
    assert len(reads) > 30  # the check is looking at the real code
    undefined = {name: where for name, where in reads.items() if name not in defined}
    assert not undefined, f"read but not defined: {undefined}"
    unused = defined - set(reads)
    assert not unused, f"defined but never read: {sorted(unused)}"


def test_arguments_from_command_line_json_and_yaml(tmp_path):
    import yaml

    cli = parse_args(["--dataset", "d", "--output_dir", "o", "--max_steps", "7", "--caption_mode", "labels", "--validation_split="])
    assert (cli.max_steps, cli.caption_mode, cli.validation_split, cli.model) == (7, "labels", "", "tiny")
    values = {"dataset": "d", "output_dir": "o", "hard_negative_weight": 0.0, "extra_datasets": "x,y", "extra_weights": "0.2,0.1"}
    (tmp_path / "a.json").write_text(json.dumps(values))
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(values))
    for name in ("a.json", "a.yaml"):
        args = parse_args([str(tmp_path / name)])
        assert (args.hard_negative_weight, args.extra_datasets, args.extra_weights) == (0.0, "x,y", "0.2,0.1")
    with pytest.raises(ValueError, match="sum to < 1"):
        parse_args(["--dataset", "d", "--output_dir", "o", "--extra_datasets", "x", "--extra_weights", "1.2"])
    with pytest.raises(ValueError, match="tiny"):
        parse_args(["--dataset", "d", "--output_dir", "o", "--model", "laion/clap-htsat-unfused", "--tokenizer", "t"])


def test_time_channel_is_a_ramp_beside_the_unchanged_logmel():
    from transformers import ClapConfig

    from audiosetmix_lib.training.features import LogMel, clap_feature_extractor, uses_time_channel

    fe = clap_feature_extractor()
    waves = torch.from_numpy(np.random.default_rng(0).normal(0, 0.1, (2, 48000)).astype(np.float32))
    plain = LogMel.from_feature_extractor(fe)(waves)
    timed = LogMel.from_feature_extractor(fe, time_channel=True)(waves)
    assert plain.shape == (2, 1, 101, 64) and timed.shape == (2, 2, 101, 64)
    assert torch.equal(timed[:, :1], plain)
    ramp = timed[:, 1]
    assert torch.equal(ramp, ramp[:1, :, :1].expand_as(ramp))  # the same for every clip and mel bin
    assert ramp[0, 0, 0] == -100.0 and ramp[0, -1, 0] == 0.0  # the time channel spans the log-mel's dB range
    assert bool((ramp[0, 1:, 0] > ramp[0, :-1, 0]).all())
    assert not uses_time_channel(ClapConfig().audio_config)
    assert uses_time_channel(ClapConfig(audio_config={"patch_embed_input_channels": 2}).audio_config)


def test_tiny_sizes_differ_in_input_only():
    """`tiny-fast` hops 40 ms with 2048-point windows (no sample skipped); `tiny` keeps CLAP's 10 ms."""
    from audiosetmix_lib.training.model import build_model

    tokenizer = _tiny_tokenizer()
    fast, fast_processor = build_model("tiny-fast", tokenizer, 32)
    v1, v1_processor = build_model("tiny", tokenizer, 32)
    fe, fe_v1 = fast_processor.feature_extractor, v1_processor.feature_extractor
    assert (fe.hop_length, fe.fft_window_size) == (1920, 2048) and fe.fft_window_size >= fe.hop_length
    assert (fe_v1.hop_length, fe_v1.fft_window_size) == (480, 1024)
    assert fe.truncation == fe_v1.truncation == "rand_trunc"
    assert (fast.config.audio_config.spec_size, v1.config.audio_config.spec_size) == (128, 256)
    # the same layers; only the relative-position tables shrink with the 4x4 windows (< 1 %)
    assert abs(sum(p.numel() for p in fast.parameters()) / sum(p.numel() for p in v1.parameters()) - 1) < 0.01


def test_tiny_fast_model_takes_a_ten_second_clip_at_a_40_ms_hop():
    from transformers import ClapModel

    from audiosetmix_lib.training.features import LogMel, clap_feature_extractor
    from audiosetmix_lib.training.model import tiny_config
    from audiosetmix_lib.training.sizes import TINY_FAST_FEATURES

    fe = clap_feature_extractor(**TINY_FAST_FEATURES)
    model = ClapModel(tiny_config(_tiny_tokenizer(), 32, time_channel=True, size="tiny-fast")).eval()
    features = LogMel.from_feature_extractor(fe, time_channel=True)(torch.zeros(1, fe.nb_max_samples))
    assert features.shape == (1, 2, 251, 64)  # 10 s at a 40 ms hop
    with torch.no_grad():
        assert model.get_audio_features(input_features=features).pooler_output.shape == (1, 64)


def test_time_channel_is_for_the_tiny_model_only():
    base = ["--dataset", "d", "--output_dir", "o", "--audio_time_channel"]
    assert parse_args(base).audio_time_channel
    with pytest.raises(ValueError, match="--audio_time_channel"):
        parse_args(base + ["--model", "laion/clap-htsat-unfused"])


def test_hard_negative_schedule_is_off_then_ramps_to_the_weight():
    from audiosetmix_lib.training.args import hard_negative_weight_at

    args = parse_args(["--dataset", "d", "--output_dir", "o", "--hard_negative_weight", "0.8",
                       "--hard_negative_start", "0.5", "--hard_negative_ramp", "0.2"])
    weights = [hard_negative_weight_at(args, step, 10) for step in range(10)]
    assert weights == pytest.approx([0, 0, 0, 0, 0, 0, 0.4, 0.8, 0.8, 0.8])
    pretrained = parse_args(["--dataset", "d", "--output_dir", "o", "--hard_negative_weight", "0.8", "--model", "laion/clap-htsat-unfused"])
    assert {hard_negative_weight_at(pretrained, step, 10) for step in range(10)} == {0.8}  # on from the first step
    tiny = parse_args(["--dataset", "d", "--output_dir", "o"])  # from scratch: off for half the steps, ramp over 10 %
    assert [hard_negative_weight_at(tiny, step, 20) for step in (9, 10, 11, 12, 19)] == pytest.approx([0, 0, 0.5, 1, 1])


@pytest.mark.parametrize("bad", [["--hard_negative_start", "1"], ["--hard_negative_start", "-0.1"],
                                 ["--hard_negative_ramp", "-1"], ["--hard_negative_start", "0.6", "--hard_negative_ramp", "0.5"]])
def test_hard_negative_schedule_is_validated(bad):
    with pytest.raises(ValueError, match="--hard_negative_start"):
        parse_args(["--dataset", "d", "--output_dir", "o", *bad])


def _tiny_tokenizer():
    from audiosetmix_lib.training.tokenizer import train_tokenizer

    return train_tokenizer(["a dog barks", "a loud bell", "quiet rain", "a bell"], 300, 32)
