"""eval/evaluate_clap.py end to end: a tiny randomly initialised ClapModel (built here, with an
offline tokenizer) on the tiny built dataset, plus zero-shot on a tiny audiofolder made here."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EVAL_SCRIPT = Path(__file__).resolve().parents[1] / "eval" / "evaluate_clap.py"


def load_script(path: Path):
    """A script of eval/ as a module, loaded by path (scripts are not part of the package)."""
    spec = importlib.util.spec_from_file_location(f"{path.stem}_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def evaluate_clap():
    return load_script(EVAL_SCRIPT)


def make_tiny_clap(out: Path, texts: list[str], time_channel: bool = False) -> Path:
    """A ~1.6 M-parameter ClapModel (DESIGN.md's calibration config), randomly initialised, saved with a
    byte-level BPE tokenizer trained offline on `texts` and a rand_trunc/pad feature extractor.
    `time_channel`: the audio encoder takes [log-mel, time] (train_clap.py --audio_time_channel)."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import AutoTokenizer, ClapConfig, ClapFeatureExtractor, ClapModel, ClapProcessor, RobertaTokenizer

    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # RoBERTa ids 0..4: pad 1, as ClapTextConfig expects
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=500, special_tokens=specials, show_progress=False,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in json.loads(bpe.to_str())["model"]["merges"]]
    # vocab=/merges= (not vocab_file=/merges_file=, which can silently give a 5-token vocabulary)
    tokenizer = RobertaTokenizer(vocab=bpe.get_vocab(), merges=merges, model_max_length=64)
    assert len(tokenizer) > 260
    assert tokenizer.pad_token_id == 1
    torch.manual_seed(0)
    config = ClapConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=128, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=256, max_position_embeddings=66, projection_dim=64),
        audio_config=dict(depths=[1, 1, 1, 1], num_attention_heads=[4, 4, 8, 8], patch_embeds_hidden_size=32,
                          hidden_size=256, enable_fusion=False, projection_dim=64,
                          patch_embed_input_channels=2 if time_channel else 1),
        projection_dim=64,
    )
    model = ClapModel(config)
    ClapProcessor(feature_extractor=ClapFeatureExtractor(truncation="rand_trunc", padding="pad"), tokenizer=tokenizer).save_pretrained(out)
    model.save_pretrained(out)
    reloaded = AutoTokenizer.from_pretrained(out)
    assert len(reloaded) == len(tokenizer) and reloaded.model_max_length == 64
    assert reloaded("a loud siren")["input_ids"] != reloaded("a quiet bell")["input_ids"]
    return out


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory, tiny_dataset_dir) -> Path:
    return make_tiny_clap(tmp_path_factory.mktemp("tiny-clap") / "model", tokenizer_texts(tiny_dataset_dir))


def tokenizer_texts(dataset_dir: Path) -> list[str]:
    """The training split's captions and negatives, plus the zero-shot prompts the tests use."""
    import datasets

    ds = datasets.load_dataset(str(dataset_dir), split="train").remove_columns("audio")
    return list(ds["caption"]) + [n["caption"] for row in ds["negatives"] for n in row] + ["the sound of a dog", "a dog barks"]


@pytest.fixture(scope="module")
def tiny_audiofolder(tmp_path_factory) -> Path:
    """2 classes x 3 clips in the audiofolder layout, at odd rates and lengths (one stereo, one > 10 s)."""
    import soundfile as sf

    root = tmp_path_factory.mktemp("zero-shot")
    (root / "audio").mkdir()
    rng = np.random.default_rng(0)
    rows = []
    specs = [("Dog", 16000, 1.5, 1), ("Dog", 44100, 12.0, 1), ("Dog", 22050, 0.7, 2),
             ("Siren", 16000, 3.0, 1), ("Siren", 48000, 2.0, 2), ("Siren", 8000, 11.0, 1)]
    for i, (label, sr, seconds, channels) in enumerate(specs):
        t = np.arange(int(sr * seconds)) / sr
        tone = 0.3 * np.sin(2 * np.pi * (300 if label == "Dog" else 900) * t) + 0.01 * rng.standard_normal(len(t))
        data = np.stack([tone] * channels, axis=1) if channels > 1 else tone
        name = f"audio/{label.lower()}-{i}.{'flac' if i % 2 else 'wav'}"
        sf.write(root / name, data.astype(np.float32), sr)
        rows.append({"file_name": name, "label": label, "fold": 1 + i % 2})
    with open(root / "metadata.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["file_name", "label", "fold"])
        writer.writeheader()
        writer.writerows(rows)
    return root


def test_fit_clip_pads_at_the_end_and_crops_centrally(evaluate_clap):
    short = np.ones(16000, dtype=np.float32)  # 1 s at 16 kHz
    fitted = evaluate_clap.fit_clip(short, 16000)
    assert fitted.shape == (480000,) and fitted.dtype == np.float32
    assert np.abs(fitted[1000:47000] - 1).max() < 0.05 and np.all(fitted[49000:] == 0)  # zero-padded, not repeated
    ramp = np.arange(12 * 48000, dtype=np.float32)
    cropped = evaluate_clap.fit_clip(ramp, 48000)
    assert cropped.shape == (480000,) and cropped[0] == 48000 and cropped[-1] == 11 * 48000 - 1


def test_negative_detail_names_the_flipped_modifier(evaluate_clap, tiny_dataset_dir):
    import datasets

    from audiosetmix_lib.transforms import MODIFIER_NAMES

    ds = datasets.load_dataset(str(tiny_dataset_dir), split="train").remove_columns("audio")
    seen = {"modifier": 0, "relation": 0}
    for recipe, negatives in zip(ds["recipe"], ds["negatives"]):
        for negative in negatives:
            detail = evaluate_clap.negative_detail(recipe, negative)
            if negative["kind"] == "modifier":
                seen["modifier"] += 1
                assert detail.split(":")[1] in MODIFIER_NAMES.values()
                # the negative's caption says the opposite word family of the true modifier
                true_events = json.loads(recipe)["events"]
                flipped = [(name, p["direction"]) for e in true_events for name, p in e["transforms"].items()
                           if MODIFIER_NAMES[(name, p["direction"])] == detail.split(":")[1]]
                assert flipped
            elif negative["kind"] == "relation":
                seen["relation"] += 1
                assert detail in ("relation:follow", "relation:overlap")
            else:
                assert detail == negative["kind"]
    assert seen["modifier"] > 0 and seen["relation"] > 0


def test_negative_detail_reads_the_direction_field_without_recipes(evaluate_clap, tiny_dataset_dir):
    """Datasets from elsewhere carry no recipe: the optional `direction` field still splits the kinds."""
    import datasets

    assert evaluate_clap.negative_detail(None, {"kind": "modifier", "caption": "a quiet dog", "direction": "louder"}) == "modifier:louder"
    assert evaluate_clap.negative_detail(None, {"kind": "modifier", "caption": "a quiet dog"}) == "modifier"
    ds = datasets.load_dataset(str(tiny_dataset_dir), split="train").remove_columns(["audio", "negative_audio"])
    for recipe, negatives in zip(ds["recipe"], ds["negatives"]):
        for negative in negatives:  # the builder's field agrees with what the recipes say
            derived = evaluate_clap.negative_detail(recipe, {k: v for k, v in negative.items() if k != "direction"})
            assert evaluate_clap.negative_detail(None, negative) == derived


def test_zero_shot_ties_miss(evaluate_clap):
    audio = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    labels = ["Dog", "Siren", "Siren"]
    report = evaluate_clap.zero_shot_report(audio, labels, lambda texts: np.array([[1.0, 0.0], [0.0, 1.0]]), "sound_of")
    assert report["accuracy"] == pytest.approx(2 / 3) and report["num_classes"] == 2
    constant = evaluate_clap.zero_shot_report(audio, labels, lambda texts: np.ones((2, 2)), "lexicon")
    assert constant["accuracy"] == 0.0
    assert constant["by_prompt"]["lexicon"]["prompts"] == {"Dog": "a dog barks", "Siren": "a siren wails"}


def test_evaluate_clap_end_to_end(tmp_path, tiny_model_dir, tiny_dataset_dir, tiny_audiofolder):
    """Run the script as a user would, from another directory, and check all three outputs."""
    out = tmp_path / "eval-out"
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", MPLBACKEND="Agg")
    cmd = [sys.executable, str(EVAL_SCRIPT), "--model", str(tiny_model_dir), "--dataset", str(tiny_dataset_dir),
           "--split", "test", "--output_dir", str(out), "--batch_size", "3", "--bootstrap", "200",
           "--zero_shot_dataset", str(tiny_audiofolder), "--zero_shot_where", "fold=1,2"]
    run = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["meta"]["num_audio"] == 8 and metrics["meta"]["num_captions"] == 8
    for direction in ("text_to_audio", "audio_to_text"):
        r = metrics["retrieval"][direction]
        assert set(r) == {"R@1", "R@5", "R@10", "mAP@10", "median_rank"}
        assert 0 <= r["R@1"] <= r["R@5"] <= r["R@10"] == 1.0  # 8 items: everything is within the top 10
        assert 1 <= r["median_rank"] <= 8
        assert len(metrics["recall_curves"][direction]) == 8

    import datasets

    test = datasets.load_dataset(str(tiny_dataset_dir), split="test").remove_columns("audio")
    kinds = [n["kind"] for row in test["negatives"] for n in row]
    modifier = metrics["modifier_accuracy"]
    assert modifier["count"] == len(kinds)
    assert {k: v["count"] for k, v in modifier["per_kind"].items()} == {k: kinds.count(k) for k in set(kinds)}
    for kind, entry in modifier["per_kind"].items():
        assert entry["ci95"][0] <= entry["accuracy"] <= entry["ci95"][1]
        assert modifier["evaluate"][f"accuracy/{kind}"] == entry["accuracy"]
    detail = metrics["modifier_accuracy_detail"]["per_kind"]
    assert sum(v["count"] for k, v in detail.items() if k.startswith("modifier")) == kinds.count("modifier")
    pairs = [json.loads(line) for line in (out / "modifier_pairs.jsonl").read_text().splitlines()]
    assert len(pairs) == len(kinds)
    wins = np.mean([p["score_true"] > p["score_negative"] for p in pairs])
    assert modifier["accuracy"] == pytest.approx(wins)

    zero = metrics["zero_shot"]
    assert zero["num_clips"] == 6 and zero["num_classes"] == 2 and zero["chance"] == 0.5
    assert set(zero["by_prompt"]) == {"sound_of", "lexicon", "label"}
    assert zero["accuracy"] == zero["by_prompt"]["sound_of"]["accuracy"]

    markdown = (out / "metrics.md").read_text()
    for heading in ("## Retrieval", "## Modifier accuracy", "## Zero-shot classification", "| text-to-audio |", "| order |"):
        assert heading in markdown
    for png in ("recall_at_k.png", "modifier_accuracy.png"):
        data = (out / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_zero_shot_where_filters(evaluate_clap, tiny_audiofolder):
    cells, labels = evaluate_clap.load_zero_shot(str(tiny_audiofolder), "fold=2")
    assert len(labels) == 3 and sorted(labels) == ["Dog", "Siren", "Siren"]


def test_multi_caption_dataset_without_negatives(tmp_path, evaluate_clap, tiny_model_dir, tiny_dataset_dir):
    """A plain (audio, captions list) dataset saved with save_to_disk: retrieval only, multi-caption protocol."""
    import datasets

    test = datasets.load_dataset(str(tiny_dataset_dir), split="test").select(range(5))
    test = test.map(lambda row: {"captions": [row["caption"], row["caption"].lower(), "something " + row["caption"]]},
                    remove_columns=[c for c in test.column_names if c != "audio"])
    test.save_to_disk(str(tmp_path / "multi"))
    out = tmp_path / "out"
    assert evaluate_clap.main(["--model", str(tiny_model_dir), "--dataset", str(tmp_path / "multi"), "--split", "test",
                               "--output_dir", str(out), "--no_plots", "--bootstrap", "10"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["meta"]["num_audio"] == 5 and metrics["meta"]["num_captions"] == 15
    assert "modifier_accuracy" not in metrics and "zero_shot" not in metrics
    assert len(metrics["recall_curves"]["text_to_audio"]) == 5 and len(metrics["recall_curves"]["audio_to_text"]) == 15
    # audio-to-text: 15 candidate captions, 3 relevant per clip -> R@13 must be 1 (at most 12 non-relevant ahead)
    assert metrics["recall_curves"]["audio_to_text"][12] == 1.0
    assert (out / "metrics.md").is_file()


@pytest.fixture(scope="module")
def tiny_time_model_dir(tmp_path_factory, tiny_dataset_dir) -> Path:
    return make_tiny_clap(tmp_path_factory.mktemp("tiny-time-clap") / "model", tokenizer_texts(tiny_dataset_dir), time_channel=True)


def test_a_time_channel_model_gets_its_time_channel(tmp_path, evaluate_clap, tiny_time_model_dir, tiny_dataset_dir):
    """A model trained with --audio_time_channel has 2 input channels; the script adds the ramp itself."""
    import torch
    from transformers import ClapModel

    model = ClapModel.from_pretrained(tiny_time_model_dir).eval()
    featurizer = evaluate_clap.Featurizer(str(tiny_time_model_dir), "auto", time_channel=True)
    features = featurizer([np.zeros(480000, dtype=np.float32)])["input_features"]
    assert features.shape == (1, 2, 1001, 64)
    with pytest.raises(RuntimeError):  # the stock 1-channel features do not fit this model
        with torch.no_grad():
            model.get_audio_features(input_features=features[:, :1])
    out = tmp_path / "out"
    assert evaluate_clap.main(["--model", str(tiny_time_model_dir), "--dataset", str(tiny_dataset_dir), "--split", "test",
                               "--output_dir", str(out), "--no_plots", "--bootstrap", "10"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["meta"]["num_audio"] == 8 and "modifier_accuracy" in metrics


PROBE_SCRIPT = EVAL_SCRIPT.parent / "probe_counterfactual.py"


@pytest.fixture(scope="module")
def probe_counterfactual():
    return load_script(PROBE_SCRIPT)


def test_counterfactual_of_a_rows_own_recipe_is_its_stored_audio(probe_counterfactual, tiny_dataset_dir):
    """The counterfactual is rendered and quantised exactly as the build stored the row itself."""
    import datasets

    from audiosetmix_lib.audio_io import read_audio_bytes

    row = datasets.load_dataset(str(tiny_dataset_dir), split="test").cast_column("audio", datasets.Audio(decode=False))[0]
    stored, sr = read_audio_bytes(row["audio"]["bytes"])
    rendered, rendered_sr = probe_counterfactual.counterfactual_audio(row["recipe"])
    assert rendered_sr == sr and np.array_equal(rendered, stored)


def test_probe_summary_on_hand_made_embeddings(probe_counterfactual):
    """Pair 0: both encoders see the change. Pair 1: the audio encoder is blind (x' == x), so every
    audio comparison ties, and ties miss."""
    e = np.eye(4, dtype=np.float32)
    audio, audio_cf = np.stack([e[0], e[2]]), np.stack([e[1], e[2]])
    caption, negative = np.stack([e[0], e[2]]), np.stack([e[1], e[3]])
    scores = probe_counterfactual.probe_scores(audio, audio_cf, caption, negative)
    report = probe_counterfactual.summarize(scores, ["order", "modifier"], audio_scale=0.5, text_scale=1.0)
    assert report["order"] == {"count": 1, "text_accuracy": 1.0, "audio_accuracy": 1.0, "counterfactual_text_accuracy": 1.0,
                               "audio_change": 2.0, "text_change": 1.0}
    assert report["modifier"]["audio_accuracy"] == 0.0 and report["modifier"]["audio_change"] == 0.0
    assert report["modifier"]["text_accuracy"] == 1.0 and report["modifier"]["counterfactual_text_accuracy"] == 0.0


def test_unrelated_clips_preference_counts_ties_half_and_skips_the_own_clip(probe_counterfactual):
    """Pair 0 (row 0): both other clips score its caption above its negative -> 1.0, although its
    own clip does not. Pair 1 (row 1): clip 0 ties (0.5), clip 2 prefers the negative (0) -> 0.25."""
    e = np.eye(4, dtype=np.float32)
    audio = np.stack([e[0], (e[1] + e[3]) / np.sqrt(2), (e[2] + e[3]) / np.sqrt(2)])
    caption, negative = np.stack([e[3], e[1]]), np.stack([e[0], e[2]])
    preference = probe_counterfactual.unrelated_preference(audio, np.array([0, 1]), caption, negative)
    assert preference.tolist() == [1.0, 0.25]


def test_probe_end_to_end(tmp_path, tiny_model_dir, tiny_dataset_dir):
    import datasets

    out = tmp_path / "probe"
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    cmd = [sys.executable, str(PROBE_SCRIPT), "--model", str(tiny_model_dir), "--dataset", str(tiny_dataset_dir),
           "--split", "test", "--output_dir", str(out), "--kinds", "order,modifier,relation,event", "--max_pairs", "3"]
    run = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads((out / "probe.json").read_text())
    test = datasets.load_dataset(str(tiny_dataset_dir), split="test").remove_columns("audio")
    kinds = [n["kind"] for row in test["negatives"] for n in row if n["kind"] in ("order", "modifier", "relation", "event")]
    assert {k: v["count"] for k, v in result["kinds"].items()} == {k: min(3, kinds.count(k)) for k in set(kinds)}
    for entry in result["kinds"].values():
        for name in ("text_accuracy", "audio_accuracy", "counterfactual_text_accuracy"):
            assert 0.0 <= entry[name] <= 1.0
        assert entry["audio_change"] >= 0.0 and entry["text_change"] >= 0.0
        assert 0.0 <= entry["unrelated_prefers_caption"] <= 1.0
    assert result["meta"]["unrelated_audio_distance"] > 0
    assert "| kind |" in (out / "probe.md").read_text() and "| kind |" in run.stdout


OBJECTIVE_SCRIPT = EVAL_SCRIPT.parent / "objective_terms.py"


def test_objective_terms_of_two_models_on_the_same_batches(tmp_path, tiny_model_dir, tiny_time_model_dir, tiny_dataset_dir):
    """The script's J is the training loss: contrastive + w * hard, with the terms recomputed by
    train_clap.py's own clap_loss; a model listed twice is scored once."""
    out = tmp_path / "terms.json"
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", OMP_NUM_THREADS="1")
    cmd = [sys.executable, str(OBJECTIVE_SCRIPT), "--dataset", str(tiny_dataset_dir), "--models", str(tiny_model_dir),
           str(tiny_time_model_dir), str(tiny_model_dir), "--batches", "2", "--batch_size", "4", "--weight", "0.5",
           "--output", str(out)]
    run = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = json.loads(out.read_text())["models"]
    assert len(rows) == 2  # a model listed twice is one row
    plain, timed = rows[str(tiny_model_dir)], rows[str(tiny_time_model_dir)]
    for r in (plain, timed):
        assert r["J"] == pytest.approx(r["contrastive"] + 0.5 * r["hard"], rel=1e-6)
        assert r["contrastive"] > 0 and r["hard"] > 0 and r["grad_norm/contrastive"] > 0 and r["grad_norm/hard"] > 0
        assert -1 <= r["grad_cosine"] <= 1
        assert any(k.startswith("pairwise/") for k in r) and all(v > 0 for k, v in r.items() if k.startswith("pairwise/"))
        kinds = {k.split("/")[1] for k in r if k.startswith("pairwise/")}
        assert all(-2 <= r[f"margin/{kind}"] <= 2 and r[f"pairwise_margin_x2/{kind}"] > 0 for kind in kinds)
    assert plain != timed
    assert "| model |" in run.stdout and str(tiny_time_model_dir) in run.stdout
