"""train_clap.py end to end on the tiny built dataset (CPU, offline, a few steps each)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # end to end: deselect with -m "not slow"

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--dataloader_num_workers", "0", "--report_to", "none", "--checkpointing_steps", "0"]


def run(argv: list[str]):
    """`train_clap.py` in-process (its parser and train()); the accelerate singletons reset after.
    The size is `tiny-fast` unless the test names one: these tests check mechanics, not learning."""
    from accelerate.state import AcceleratorState

    from audiosetmix_lib.training.args import parse_args
    from audiosetmix_lib.training.loop import train

    if "--model" not in argv:
        argv = ["--model", "tiny-fast", *argv]
    try:
        return train(parse_args(argv))
    finally:
        AcceleratorState._reset_state(reset_partial_state=True)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """The tiny model is too small to gain from threads, and the test machines are shared."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def shared_tokenizer(tiny_dataset_dir, tmp_path_factory) -> Path:
    """`python train_clap.py --tokenizer_only`, run as a script: one vocabulary for several runs."""
    out = tmp_path_factory.mktemp("tokenizer")
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", OMP_NUM_THREADS="1")
    cmd = [sys.executable, str(ROOT / "train_clap.py"), "--dataset", str(tiny_dataset_dir), "--output_dir", str(out), "--tokenizer_only"]
    subprocess.run(cmd, check=True, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    return out


@pytest.fixture(scope="module")
def overfit_run(tiny_dataset_dir, shared_tokenizer, tmp_path_factory):
    """48 steps on one fixed batch of 4 rows (lr 1e-3 after 12 warm-up steps: the first full-size
    Adam steps of a from-scratch model overshoot), validation at 12 and at the end; plus the same
    run stopped before its first step, to keep the initial weights."""
    out, initial = tmp_path_factory.mktemp("overfit"), tmp_path_factory.mktemp("initial")
    common = [
        "--dataset", str(tiny_dataset_dir), "--tokenizer", str(shared_tokenizer), "--seed", "1",
        "--max_train_samples", "4", "--per_device_train_batch_size", "4", "--dataloader_num_workers", "0",
        "--hard_negative_start", "0", "--hard_negative_ramp", "0",  # the full objective from the first step
    ]
    result = run(common + [
        "--output_dir", str(out), "--max_steps", "48", "--learning_rate", "1e-3", "--warmup_ratio", "0.25",
        "--eval_steps", "12", "--logging_steps", "1", "--checkpointing_steps", "0",
    ])
    run(common + ["--output_dir", str(initial), "--num_train_epochs", "0", "--validation_split=", "--report_to", "none"])
    return out, result, initial


def fixed_batch_loss(model_dir: Path, dataset_dir: Path, rows: int = 4) -> float:
    """The training objective on the overfitted rows, in eval mode (no dropout noise)."""
    import torch
    from transformers import ClapModel, ClapProcessor

    from audiosetmix_lib.training.data import AudioCaptionDataset, CaptionTable, Collator, SampleKey, load_split
    from audiosetmix_lib.training.features import LogMel
    from audiosetmix_lib.training.loss import clap_loss
    from audiosetmix_lib.training.model import ClapTrainModule

    model, processor = ClapModel.from_pretrained(model_dir).eval(), ClapProcessor.from_pretrained(model_dir)
    fe = processor.feature_extractor
    dataset = AudioCaptionDataset([CaptionTable(load_split(str(dataset_dir), "train"), max_rows=rows)], fe.sampling_rate, fe.nb_max_samples)
    batch = Collator(processor.tokenizer, 128, 3)([dataset[SampleKey(0, r)] for r in range(rows)])
    with torch.no_grad():
        features = LogMel.from_feature_extractor(fe)(batch["waveforms"])
        audio, text, scale_a, scale_t = ClapTrainModule(model)(features, batch["input_ids"], batch["attention_mask"])
        return clap_loss(audio, text[:rows], text[rows:], batch["negative_index"], scale_a, scale_t).loss.item()


def test_tokenizer_only_saves_just_a_tokenizer(shared_tokenizer):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(shared_tokenizer)
    trained = json.loads((shared_tokenizer / "tokenizer.json").read_text())["model"]["vocab"]
    assert len(tokenizer) == len(trained) > 100
    assert tokenizer.model_max_length == 128
    assert not (shared_tokenizer / "model.safetensors").exists()


def test_loss_goes_down_and_everything_is_logged(overfit_run, tiny_dataset_dir, shared_tokenizer):
    out, result, initial = overfit_run
    losses = [h["train/loss"] for h in result.history]
    assert len(losses) == 48 and all(math.isfinite(x) for x in losses)
    # the logged losses carry dropout noise (about +-0.5 here): compare the objective on the
    # overfitted batch in eval mode, before and after (48 steps: with the filter in the clips, 24 left it at 0.99x)
    before, after = fixed_batch_loss(initial, tiny_dataset_dir), fixed_batch_loss(out, tiny_dataset_dir)
    assert after < 0.8 * before, (before, after, losses)
    first = result.history[0]
    # batch 4, one process, 3 negative captions per row, --hard_negative_mode in_batch (the default): each audio's
    # softmax runs over the 3 other captions and all 4 x 3 negative captions of the batch
    assert first["train/negatives_in_batch"] == 3 + 4 * 3
    assert first["train/negatives_hard_per_audio"] == 3
    assert first["train/negatives_per_audio"] == 15
    wanted = {f"val/{d}/R@{k}" for d in ("t2a", "a2t") for k in (1, 5, 10)} | {"val/negatives/accuracy"}
    assert wanted <= set(result.eval_metrics)
    assert any(k.startswith("val/negatives/accuracy/") for k in result.eval_metrics)  # per negative kind
    assert json.loads((out / "eval_results.json").read_text()) == result.eval_metrics
    assert list((out / "logs").rglob("events.out.tfevents.*")), "no TensorBoard events"

    from transformers import AutoTokenizer, ClapModel, ClapProcessor

    model = ClapModel.from_pretrained(out)
    processor = ClapProcessor.from_pretrained(out)
    assert model.config.text_config.vocab_size == len(processor.tokenizer) == len(AutoTokenizer.from_pretrained(shared_tokenizer))
    fe = processor.feature_extractor
    assert (fe.truncation, fe.padding, fe.sampling_rate) == ("rand_trunc", "pad", 48_000)


def test_zero_shot_pipeline_on_the_saved_model(overfit_run, tiny_dataset_dir):
    import datasets
    from transformers import pipeline

    from audiosetmix_lib import audio_io

    out = overfit_run[0]
    row = datasets.load_dataset(str(tiny_dataset_dir), split="test").cast_column("audio", datasets.Audio(decode=False))[0]
    samples, sr = audio_io.read_audio_bytes(row["audio"]["bytes"])
    classify = pipeline("zero-shot-audio-classification", model=str(out))
    labels = ["siren", "rain", "bell", "a dog barking loudly"]
    scores = classify(audio_io.resample(samples, sr, 48_000), candidate_labels=labels)
    assert sorted(s["label"] for s in scores) == sorted(labels)
    # oracle: the saved model's own embeddings, scaled cosine similarities and a softmax written here
    import numpy as np
    import torch
    from transformers import ClapModel, ClapProcessor

    model, processor = ClapModel.from_pretrained(out).eval(), ClapProcessor.from_pretrained(out)
    texts = processor.tokenizer([f"This is a sound of {label}." for label in labels], padding=True, return_tensors="pt")
    features = processor.feature_extractor([audio_io.resample(samples, sr, 48_000)], sampling_rate=48_000, return_tensors="pt")
    with torch.no_grad():
        a = model.get_audio_features(input_features=features["input_features"]).pooler_output
        t = model.get_text_features(input_ids=texts["input_ids"], attention_mask=texts["attention_mask"]).pooler_output
    a, t = (torch.nn.functional.normalize(x, dim=-1).numpy().astype(np.float64) for x in (a, t))
    logits = float(np.exp(model.logit_scale_a.item())) * (a @ t.T)[0]
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    got = {s["label"]: s["score"] for s in scores}
    assert [got[label] for label in labels] == pytest.approx(expected.tolist(), abs=1e-4)


def test_resume_gives_the_same_next_step_loss(tiny_dataset_dir, shared_tokenizer, tmp_path):
    """Stop after step 2 (mid-epoch: 4 steps per epoch), resume: step 3 is the uninterrupted step 3."""
    common = [
        "--dataset", str(tiny_dataset_dir), "--tokenizer", str(shared_tokenizer), "--max_train_samples", "16",
        "--per_device_train_batch_size", "4", "--max_steps", "3", "--seed", "5", "--validation_split=",
        "--dataloader_num_workers", "0", "--report_to", "none",
    ]
    straight = run(common + ["--output_dir", str(tmp_path / "a"), "--checkpointing_steps", "2"])
    assert (tmp_path / "a" / "checkpoint-2" / "train_state.json").is_file()
    shutil.copytree(tmp_path / "a" / "checkpoint-2", tmp_path / "b" / "checkpoint-2")
    resumed = run(common + ["--output_dir", str(tmp_path / "b"), "--checkpointing_steps", "0", "--resume_from_checkpoint", "latest"])
    assert [h["step"] for h in resumed.history] == [3]
    assert resumed.history[0]["train/loss"] == pytest.approx(straight.history[2]["train/loss"], rel=1e-6, abs=1e-7)
    assert resumed.history[0]["train/learning_rate"] == pytest.approx(straight.history[2]["train/learning_rate"])


def test_label_captions_with_an_extra_dataset(tiny_dataset_dir, shared_tokenizer, tmp_path):
    """The label-only baseline: no modifiers, no negatives; an extra caption dataset mixed in by weight."""
    import datasets

    from audiosetmix_lib.training.data import CaptionTable

    extra = datasets.load_dataset(str(tiny_dataset_dir), split="test").select_columns(["audio", "caption", "labels"])
    extra.save_to_disk(str(tmp_path / "extra"))
    table = CaptionTable(datasets.load_dataset(str(tiny_dataset_dir), split="train"), caption_mode="labels")
    caption, negatives = table.text(0)
    assert negatives == [] and caption == ", ".join(sorted({x.lower() for x in table.labels[0]}))

    result = run([
        "--dataset", str(tiny_dataset_dir), "--output_dir", str(tmp_path / "out"), "--tokenizer", str(shared_tokenizer),
        "--caption_mode", "labels", "--extra_datasets", str(tmp_path / "extra"), "--extra_weights", "0.5",
        "--per_device_train_batch_size", "4", "--max_steps", "2", "--validation_split=", *FAST,
    ])
    assert all(h["train/negatives_hard_per_audio"] == 0 and h["train/hard_negative"] == 0 for h in result.history)
    assert json.loads((tmp_path / "out" / "train_args.json").read_text())["caption_mode"] == "labels"
    assert (tmp_path / "out" / "model.safetensors").is_file()


def test_time_channel_model_trains_and_saves_two_input_channels(tiny_dataset_dir, shared_tokenizer, tmp_path, capsys):
    from transformers import ClapModel

    result = run([
        "--dataset", str(tiny_dataset_dir), "--output_dir", str(tmp_path / "out"), "--tokenizer", str(shared_tokenizer),
        "--audio_time_channel", "--per_device_train_batch_size", "4", "--max_steps", "2", "--validation_split=", *FAST,
    ])
    assert len(result.history) == 2 and all(math.isfinite(h["train/loss"]) for h in result.history)
    model = ClapModel.from_pretrained(tmp_path / "out")
    assert model.config.audio_config.patch_embed_input_channels == 2
    assert json.loads((tmp_path / "out" / "train_args.json").read_text())["audio_time_channel"] is True
    # the summary does not send this model to the pipeline, which cannot feed it two channels (issue 28 item 9)
    printed = capsys.readouterr().out
    usage = next(line for line in printed.splitlines() if line.startswith("  use it:"))
    assert "cannot feed it" in usage and "add_time_channel" in printed
    assert "python eval/evaluate_clap.py --model" in printed and "=== train_clap summary ===" in printed


def test_hard_negative_term_switches_on_at_its_start(tiny_dataset_dir, shared_tokenizer, tmp_path):
    """--hard_negative_start 0.5 of 4 steps: steps 1-2 train on the in-batch term alone, steps 3-4 add the hard term
    (the separate term, whose share of the loss is logged on its own)."""
    result = run([
        "--dataset", str(tiny_dataset_dir), "--output_dir", str(tmp_path / "out"), "--tokenizer", str(shared_tokenizer),
        "--per_device_train_batch_size", "4", "--max_steps", "4", "--hard_negative_start", "0.5", "--hard_negative_ramp", "0",
        "--hard_negative_mode", "separate",
        "--validation_split=", *FAST,
    ])
    weights = [h["train/hard_negative_weight"] for h in result.history]
    assert weights == [0.0, 0.0, 1.0, 1.0]
    # the term is logged before it counts (so a delayed start can be watched), and counted after
    assert all(h["train/hard_negative"] > 0 and h["train/negatives_hard_per_audio"] > 0 for h in result.history)
    assert all(h["train/loss"] == pytest.approx(h["train/contrastive"] + h["train/hard_negative_weight"] * h["train/hard_negative"], rel=1e-5)
               for h in result.history)


def test_training_says_which_rate_the_saved_model_expects(tiny_dataset_dir, shared_tokenizer, tmp_path, capsys):
    run(["--dataset", str(tiny_dataset_dir), "--tokenizer", str(shared_tokenizer), "--output_dir", str(tmp_path / "m"),
         "--num_train_epochs", "0", "--validation_split=", "--report_to", "none", "--max_train_samples", "4",
         "--per_device_train_batch_size", "4"])
    printed = capsys.readouterr().out
    assert "expect 48000 Hz audio" in printed and "Audio(sampling_rate=48000)" in printed
    # a model without the time channel: the pipeline is the way; the summary says where everything is (item 11)
    assert f"pipeline('zero-shot-audio-classification', model={str(tmp_path / 'm')!r})" in printed
    assert f"logs: {tmp_path / 'm' / 'logs'}" in printed and "time: " in printed


def test_audio_negatives_and_in_batch_negatives_train(tiny_dataset_dir, shared_tokenizer, tmp_path):
    """--audio_negative_weight: the stored counterfactual clips reach the loss (one per caption in the tiny
    build), on the shared schedule; --hard_negative_mode in_batch: no separate term, the negative captions
    widen the audio->text softmax."""
    result = run([
        "--dataset", str(tiny_dataset_dir), "--output_dir", str(tmp_path / "out"), "--tokenizer", str(shared_tokenizer),
        "--per_device_train_batch_size", "4", "--max_steps", "2", "--hard_negative_start", "0.5", "--hard_negative_ramp", "0",
        "--audio_negative_weight", "0.5", "--hard_negative_mode", "in_batch", "--validation_split=", *FAST,
    ])
    first, second = result.history
    assert first["train/audio_negative_weight"] == 0.0 and second["train/audio_negative_weight"] == 0.5
    # before the start the clips are not encoded at all (no cost, no BatchNorm statistics from them)
    assert first["train/audio_negatives_per_caption"] == 0.0 and first["train/audio_negative"] == 0.0
    assert second["train/audio_negatives_per_caption"] == 1.0 and second["train/audio_negative"] > 0
    assert first["train/negatives_in_batch"] == 3  # before the start: plain in-batch softmax
    assert second["train/negatives_in_batch"] > 3  # then every row's negative captions join it
    # no separate caption term in in_batch mode: the loss is the (widened) in-batch term + the audio term
    assert second["train/loss"] == pytest.approx(second["train/contrastive"] + 0.5 * second["train/audio_negative"], rel=1e-5)


def test_collator_stacks_counterfactual_clips_after_the_rows():
    import numpy as np

    from audiosetmix_lib.training.data import Collator
    from audiosetmix_lib.training.tokenizer import train_tokenizer

    tokenizer = train_tokenizer(["a dog barks", "a bell"], 300, 16)
    items = [
        {"waveform": np.zeros(8, np.float32), "caption": "a dog barks", "negatives": [],
         "negative_waveforms": [np.full(8, 2, np.float32), np.full(8, 3, np.float32)]},
        {"waveform": np.ones(8, np.float32), "caption": "a bell", "negatives": [], "negative_waveforms": []},
        {"waveform": np.ones(8, np.float32), "caption": "a bell", "negatives": [], "negative_waveforms": [np.full(8, 4, np.float32)]},
    ]
    batch = Collator(tokenizer, 16, max_negatives=0, max_audio_negatives=1)(items)
    assert batch["negative_audio_index"].tolist() == [[0], [-1], [1]]  # the first A clips of each row
    assert batch["negative_waveforms"][:, 0].tolist() == [2.0, 4.0]
    none = Collator(tokenizer, 16, max_negatives=0, max_audio_negatives=1)(items[1:2])
    assert none["negative_waveforms"].shape == (0, 8)
    assert "negative_waveforms" not in Collator(tokenizer, 16, max_negatives=0)(items)
