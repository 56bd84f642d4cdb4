"""eval/evaluate_clap.py (audiosetmix_lib.evaluation) end to end: a tiny randomly initialised ClapModel (built here, with an
offline tokenizer) on the tiny built dataset, plus zero-shot on a tiny audiofolder made here."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from audiosetmix_lib.evaluation import clap_cli, clap_model, clip_audio, metric_modules, negative_pairs, zero_shot

pytestmark = pytest.mark.slow  # end to end: deselect with -m "not slow"

ROOT = Path(__file__).resolve().parents[1]
EVAL_SCRIPT = ROOT / "eval" / "evaluate_clap.py"


@pytest.fixture(scope="module")
def evaluate_clap():
    from audiosetmix_lib.evaluation import evaluate_clap

    return evaluate_clap


def make_tiny_clap(out: Path, texts: list[str], time_channel: bool = False, size: str = "tiny-fast") -> Path:
    """The training code's own tiny ClapModel (`build_model(size)`, randomly initialised) with its
    own offline tokenizer (`train_tokenizer`) on `texts`, saved as a model folder.
    `time_channel`: the audio encoder takes [log-mel, time] (train_clap.py --audio_time_channel).
    `tiny-fast` by default: these tests check the evaluation's mechanics, and its quarter-size input is
    what keeps them quick; the time-channel model stays `tiny` (CLAP's own 1,001-frame features)."""
    import torch
    from transformers import AutoTokenizer

    from audiosetmix_lib.training.model import build_model
    from audiosetmix_lib.training.tokenizer import train_tokenizer

    tokenizer = train_tokenizer(texts, vocab_size=500, model_max_length=64)
    torch.manual_seed(0)
    model, processor = build_model(size, tokenizer, max_text_length=64, time_channel=time_channel)
    processor.save_pretrained(out)
    model.save_pretrained(out)
    reloaded = AutoTokenizer.from_pretrained(out)
    assert len(reloaded) == len(tokenizer) > 260 and reloaded.model_max_length == 64
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
    fitted = clip_audio.fit_clip(short, 16000)
    assert fitted.shape == (480000,) and fitted.dtype == np.float32
    assert np.abs(fitted[1000:47000] - 1).max() < 0.05 and np.all(fitted[49000:] == 0)  # zero-padded, not repeated
    ramp = np.arange(12 * 48000, dtype=np.float32)
    cropped = clip_audio.fit_clip(ramp, 48000)
    assert cropped.shape == (480000,) and cropped[0] == 48000 and cropped[-1] == 11 * 48000 - 1


def test_negative_detail_names_the_flipped_modifier(evaluate_clap, tiny_dataset_dir):
    import datasets

    from audiosetmix_lib.transforms import MODIFIER_NAMES

    ds = datasets.load_dataset(str(tiny_dataset_dir), split="train").remove_columns("audio")
    seen = {"modifier": 0, "relation": 0}
    for recipe, negatives in zip(ds["recipe"], ds["negatives"], strict=True):
        for negative in negatives:
            detail = negative_pairs.negative_detail(recipe, negative)
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

    assert negative_pairs.negative_detail(None, {"kind": "modifier", "caption": "a quiet dog", "direction": "louder"}) == "modifier:louder"
    assert negative_pairs.negative_detail(None, {"kind": "modifier", "caption": "a quiet dog"}) == "modifier"
    ds = datasets.load_dataset(str(tiny_dataset_dir), split="train").remove_columns(["audio", "negative_audio"])
    for recipe, negatives in zip(ds["recipe"], ds["negatives"], strict=True):
        for negative in negatives:  # the builder's field agrees with what the recipes say
            derived = negative_pairs.negative_detail(recipe, {k: v for k, v in negative.items() if k != "direction"})
            assert negative_pairs.negative_detail(None, negative) == derived


def test_zero_shot_ties_miss(evaluate_clap):
    audio = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    labels = ["Dog", "Siren", "Siren"]
    report = zero_shot.zero_shot_report(audio, labels, lambda texts: np.array([[1.0, 0.0], [0.0, 1.0]]), "sound_of")
    assert report["accuracy"] == pytest.approx(2 / 3) and report["num_classes"] == 2
    constant = zero_shot.zero_shot_report(audio, labels, lambda texts: np.ones((2, 2)), "lexicon")
    assert constant["accuracy"] == 0.0
    assert constant["by_prompt"]["lexicon"]["prompts"] == {"Dog": "a dog barks", "Siren": "a siren wails"}


def naive_text_to_audio_ranks(evaluate_clap, model_dir: Path, dataset_dir: Path) -> np.ndarray:
    """The rank of each caption's own clip among all clips, by a plain loop over the similarity
    matrix of the model's embeddings (the oracle for the retrieval metric's numbers)."""
    import datasets

    model, tokenizer = clap_model.load_model(str(model_dir), None)
    featurizer = clap_model.Featurizer(str(model_dir), "auto")
    ds = datasets.load_dataset(str(dataset_dir), split="test").cast_column("audio", datasets.Audio(decode=False))
    audio = clap_model.embed_audio(model, featurizer, [row["audio"] for row in ds], 3)
    text = clap_model.embed_texts(model, tokenizer, list(ds["caption"]), 3)
    ranks = []
    for i in range(len(ds)):
        scores = [float(np.dot(text[i], audio[j])) for j in range(len(ds))]
        ranks.append(1 + sum(score > scores[i] for j, score in enumerate(scores) if j != i))
    return np.array(ranks)


def test_evaluate_clap_end_to_end(tmp_path, evaluate_clap, tiny_model_dir, tiny_dataset_dir, tiny_audiofolder):
    """Run the script as a user would, from another directory, and check all three outputs."""
    out = tmp_path / "eval-out"
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", MPLBACKEND="Agg")
    cmd = [sys.executable, str(EVAL_SCRIPT), "--model", str(tiny_model_dir), "--dataset", str(tiny_dataset_dir),
           "--split", "test", "--output_dir", str(out), "--batch_size", "3", "--bootstrap", "200",
           "--zero_shot_dataset", str(tiny_audiofolder), "--zero_shot_where", "fold=1,2"]
    run = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "the model expects 48000 Hz audio" in run.stdout and "is 16000 Hz: every clip is resampled" in run.stdout

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["meta"]["num_audio"] == 8 and metrics["meta"]["num_captions"] == 8
    for direction in ("text_to_audio", "audio_to_text"):
        r = metrics["retrieval"][direction]
        assert set(r) == {"R@1", "R@5", "R@10", "mAP@10", "median_rank"}
        assert len(metrics["recall_curves"][direction]) == 8
    ranks = naive_text_to_audio_ranks(evaluate_clap, tiny_model_dir, tiny_dataset_dir)
    t2a = metrics["retrieval"]["text_to_audio"]
    assert t2a["R@1"] == pytest.approx(np.mean(ranks <= 1)) and t2a["R@5"] == pytest.approx(np.mean(ranks <= 5))
    assert t2a["median_rank"] == pytest.approx(np.median(ranks))
    assert t2a["mAP@10"] == pytest.approx(np.mean(1.0 / ranks))  # one relevant clip per query: AP = 1 / rank
    assert metrics["recall_curves"]["text_to_audio"] == pytest.approx([np.mean(ranks <= k) for k in range(1, 9)])

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
    check_group_scores(metrics["group_scores"], pairs, test)

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


def check_group_scores(group: dict, pairs: list[dict], test) -> None:
    """Every counterfactual clip of the split makes one quadruple, and the reported scores are the
    DESIGN's formulas applied to the pairs file (ties miss; corrected: each caption's and clip's prior subtracted)."""
    assert group["quadruples"] == sum(len(r) for r in test["negative_audio_index"]) > 0
    quads = [p for p in pairs if p["cf_true"] is not None]
    assert len(quads) == group["quadruples"]

    def won(p, priors):
        caption, negative, clip, cf = priors
        xc, xn = p["score_true"] - caption - clip, p["score_negative"] - negative - clip
        cc, cn = p["cf_true"] - caption - cf, p["cf_negative"] - negative - cf
        return {"text": xc > xn and cn > cc, "audio": xc > cc and cn > xn, "group": xc > xn and cn > cc and xc > cc and cn > xn}

    for variant, priors in (("raw", lambda p: (0.0, 0.0, 0.0, 0.0)),
                            ("corrected", lambda p: (p["prior_true"], p["prior_negative"], p["prior_clip"], p["prior_cf"]))):
        for score in ("text", "audio", "group"):
            expected = np.mean([won(p, priors(p))[score] for p in quads])
            assert group["per_group"]["all"][variant][score]["value"] == pytest.approx(expected)
    corrected = np.mean([p["score_true"] - p["prior_true"] > p["score_negative"] - p["prior_negative"] for p in pairs])
    assert group["per_group"]["all"]["corrected"]["pairwise"]["value"] == pytest.approx(corrected)


def test_zero_shot_where_filters(evaluate_clap, tiny_audiofolder):
    cells, labels = zero_shot.load_zero_shot(str(tiny_audiofolder), "fold=2")
    assert len(labels) == 3 and sorted(labels) == ["Dog", "Siren", "Siren"]


def test_multi_caption_dataset_without_negatives(tmp_path, evaluate_clap, tiny_model_dir, tiny_dataset_dir):
    """A plain (audio, captions list) dataset saved with save_to_disk: retrieval only, multi-caption protocol."""
    import datasets

    test = datasets.load_dataset(str(tiny_dataset_dir), split="test").select(range(5))
    test = test.map(lambda row: {"captions": [row["caption"], row["caption"].lower(), "something " + row["caption"]]},
                    remove_columns=[c for c in test.column_names if c != "audio"])
    test.save_to_disk(str(tmp_path / "multi"))
    out = tmp_path / "out"
    assert clap_cli.main(["--model", str(tiny_model_dir), "--dataset", str(tmp_path / "multi"), "--split", "test",
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
    return make_tiny_clap(tmp_path_factory.mktemp("tiny-time-clap") / "model", tokenizer_texts(tiny_dataset_dir), time_channel=True,
                          size="tiny")


def test_a_time_channel_model_gets_its_time_channel(tmp_path, evaluate_clap, tiny_time_model_dir, tiny_dataset_dir):
    """A model trained with --audio_time_channel has 2 input channels; the script adds the ramp itself."""
    import torch
    from transformers import ClapModel

    model = ClapModel.from_pretrained(tiny_time_model_dir).eval()
    featurizer = clap_model.Featurizer(str(tiny_time_model_dir), "auto", time_channel=True)
    features = featurizer([np.zeros(480000, dtype=np.float32)])["input_features"]
    assert features.shape == (1, 2, 1001, 64)
    with pytest.raises(RuntimeError):  # the stock 1-channel features do not fit this model
        with torch.no_grad():
            model.get_audio_features(input_features=features[:, :1])
    out = tmp_path / "out"
    assert clap_cli.main(["--model", str(tiny_time_model_dir), "--dataset", str(tiny_dataset_dir), "--split", "test",
                               "--output_dir", str(out), "--no_plots", "--bootstrap", "10"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["meta"]["num_audio"] == 8 and "modifier_accuracy" in metrics


PROBE_SCRIPT = EVAL_SCRIPT.parent / "probe_counterfactual.py"


@pytest.fixture(scope="module")
def probe_counterfactual():
    from audiosetmix_lib.evaluation import probe_counterfactual

    return probe_counterfactual


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
           "--split", "test", "--output_dir", str(out), "--kinds", "order,modifier,relation,event", "--max_pairs", "3",
           "--batch_size", "1"]  # one clip per forward pass, as the oracle below: the same float arithmetic
    run = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads((out / "probe.json").read_text())
    test = datasets.load_dataset(str(tiny_dataset_dir), split="test").remove_columns("audio")
    kinds = [n["kind"] for row in test["negatives"] for n in row if n["kind"] in ("order", "modifier", "relation", "event")]
    assert {k: v["count"] for k, v in result["kinds"].items()} == {k: min(3, kinds.count(k)) for k in set(kinds)}
    # oracle: the same pairs scored by plain dot products of embeddings made here, the
    # counterfactual clip rendered here from the negative's recipe (rows.rerender_pcm)
    from audiosetmix_lib.audio_io import PCM_MAX
    from audiosetmix_lib.rows import rerender_pcm

    model, tokenizer = clap_model.load_model(str(tiny_model_dir), None)
    featurizer = clap_model.Featurizer(str(tiny_model_dir), "auto")
    rows = datasets.load_dataset(str(tiny_dataset_dir), split="test").cast_column("audio", datasets.Audio(decode=False))
    taken, expected = Counter(), defaultdict(lambda: defaultdict(list))
    for row in rows:
        for negative in row["negatives"]:
            kind = negative["kind"]
            if kind not in ("order", "modifier", "relation", "event") or taken[kind] == 3:
                continue
            taken[kind] += 1
            pcm, sr = rerender_pcm(negative["recipe"])
            counterfactual = {"array": pcm.astype(np.float32) / (PCM_MAX + 1), "sampling_rate": sr}
            (x,), (x_cf,) = (clap_model.embed_audio(model, featurizer, [cell], 1) for cell in (row["audio"], counterfactual))
            (c,), (n,) = (clap_model.embed_texts(model, tokenizer, [text], 1) for text in (row["caption"], negative["caption"]))
            expected[kind]["text"].append(float(x @ c) > float(x @ n))
            expected[kind]["audio"].append(float(x @ c) > float(x_cf @ c))
            expected[kind]["counterfactual"].append(float(x_cf @ n) > float(x_cf @ c))
    for kind, entry in result["kinds"].items():
        assert entry["text_accuracy"] == pytest.approx(np.mean(expected[kind]["text"])), kind
        assert entry["audio_accuracy"] == pytest.approx(np.mean(expected[kind]["audio"])), kind
        assert entry["counterfactual_text_accuracy"] == pytest.approx(np.mean(expected[kind]["counterfactual"])), kind
        assert entry["audio_change"] > 0 and entry["text_change"] > 0  # every kind changes both the clip and the text
    assert result["meta"]["unrelated_audio_distance"] > 0
    assert "| kind |" in (out / "probe.md").read_text() and "| kind |" in run.stdout


OBJECTIVE_SCRIPT = EVAL_SCRIPT.parent / "objective_terms.py"


def test_objective_terms_of_two_models_on_the_same_batches(tmp_path, tiny_model_dir, tiny_time_model_dir, tiny_dataset_dir):
    """The script's J is the training loss at its weight; a model listed twice is scored once."""
    import torch

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
    # oracle: J is the training loss at w = 0.5, `clap_loss(hard_negative_weight=0.5)`, on the same
    # batches (drawn again here, in this process, with the script's own batch sampler)
    from transformers import ClapModel, ClapProcessor

    from audiosetmix_lib.evaluation import objective_terms as ot
    from audiosetmix_lib.training.features import LogMel, uses_time_channel
    from audiosetmix_lib.training.loss import clap_loss
    from audiosetmix_lib.training.model import ClapTrainModule

    args = ot.parse_args(["--dataset", str(tiny_dataset_dir), "--models", str(tiny_model_dir), "--batches", "2",
                          "--batch_size", "4", "--weight", "0.5"])
    batches = ot.training_batches(args, str(tiny_model_dir))
    for model_dir, r in ((tiny_model_dir, plain), (tiny_time_model_dir, timed)):
        model = ClapModel.from_pretrained(model_dir).eval()
        logmel = LogMel.from_feature_extractor(ClapProcessor.from_pretrained(model_dir).feature_extractor,
                                               uses_time_channel(model.config.audio_config))
        module, losses = ClapTrainModule(model), []
        with torch.no_grad():
            for batch in batches:
                audio, text, scale_a, scale_t = module(logmel(batch["waveforms"]), batch["input_ids"], batch["attention_mask"])
                b = audio.shape[0]
                losses.append(clap_loss(audio, text[:b], text[b:], batch["negative_index"], scale_a, scale_t,
                                        hard_negative_weight=0.5).loss.item())
        assert r["J"] == pytest.approx(np.mean(losses), rel=1e-4)
        assert r["contrastive"] > 0 and r["hard"] > 0 and r["grad_norm/contrastive"] > 0 and r["grad_norm/hard"] > 0
        assert any(k.startswith("pairwise/") for k in r) and all(v > 0 for k, v in r.items() if k.startswith("pairwise/"))
    assert plain != timed
    assert "| model |" in run.stdout and str(tiny_time_model_dir) in run.stdout


def readme_zero_shot_example() -> str:
    """The README's zero-shot Python block, as a user would copy it."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    found = [b for b in blocks if "logits_per_audio" in b]
    assert len(found) == 1
    return found[0]


@pytest.mark.parametrize("which", ["plain", "time_channel"])
def test_readme_zero_shot_example_resamples_to_48k_and_runs(which, tmp_path, tiny_model_dir, tiny_time_model_dir,
                                                            tiny_dataset_dir, capsys):
    code = readme_zero_shot_example()
    assert 'cast_column("audio", Audio(sampling_rate=48000))' in code
    model = tiny_model_dir if which == "plain" else tiny_time_model_dir
    code = code.replace('"out/clap-tiny"', repr(str(model))).replace('"output/audiosetmix-synth-small"', repr(str(tiny_dataset_dir)))
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out
    scores = eval(printed.strip().splitlines()[-1])
    labels = ["a dog barking", "rain falling", "a siren wailing"]
    assert list(scores) == labels
    # oracle: the evaluation's own route (its featurizer with CLAP's extractor, normalised embeddings),
    # scaled by the model's audio temperature and put through a softmax written here
    import datasets


    clap, tokenizer = clap_model.load_model(str(model), None)
    row = datasets.load_dataset(str(tiny_dataset_dir), split="test").cast_column("audio", datasets.Audio(sampling_rate=48000))[0]
    featurizer = clap_model.Featurizer(str(model), "extractor", time_channel=which == "time_channel")
    (audio,) = clap_model.embed_audio(clap, featurizer, [{"array": row["audio"]["array"], "sampling_rate": 48000}], 1)
    logits = float(clap.logit_scale_a.detach().exp()) * (clap_model.embed_texts(clap, tokenizer, labels, 3) @ audio)
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    assert [scores[label] for label in labels] == pytest.approx(expected.tolist(), abs=1e-4)


def test_without_the_metric_modules_one_error_line_says_to_reinstall(evaluate_clap, tiny_dataset_dir, tmp_path,
                                                                     monkeypatch, capsys):
    """A package installed without its data files: say so before any model is loaded."""
    monkeypatch.setattr(metric_modules, "metrics_dir", lambda: tmp_path / "site-packages" / "metrics")
    code = clap_cli.main(["--model", str(tmp_path / "no-model"), "--dataset", str(tiny_dataset_dir),
                               "--output_dir", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and "reinstall" in err[0]


def test_the_metric_modules_ship_inside_the_package():
    for name in metric_modules.METRICS:
        path = metric_modules.metric_path(name)
        assert path.is_relative_to(Path(metric_modules.__file__).parent) and (path / f"{name}.py").is_file()


def test_evaluate_clap_says_which_rate_the_model_expects(evaluate_clap):
    note = clip_audio.rate_note(48000, 16000, "out/ds")
    assert "expects 48000 Hz" in note and "16000 Hz" in note and "resampled to 48000 Hz" in note
    assert "no resampling" in clip_audio.rate_note(48000, 48000, "out/ds")
