"""Counterfactual clips in the dataset (issue 12, part 2): schema, decoding, choice, bit-exact re-render."""

import io
import json

import numpy as np
import soundfile as sf
from conftest import build_dataset

from audiosetmix_lib.cli import main

PREFERRED = ("order", "modifier", "relation")


def test_load_dataset_decodes_the_counterfactual_clips_like_the_audio(tiny_dataset_dir):
    import datasets

    ds = datasets.load_dataset(str(tiny_dataset_dir), split="train")
    features = ds.features
    assert isinstance(features["negative_audio"], datasets.List)
    assert features["negative_audio"].feature == features["audio"]  # same rate and codec settings
    assert features["negative_audio_index"].feature.dtype == "int32"
    rows_with_clips = 0
    for row in ds:
        index = row["negative_audio_index"]
        assert len(row["negative_audio"]) == len(index) == min(1, len(row["negatives"]))
        for k, clip in zip(index, row["negative_audio"], strict=True):
            samples = np.asarray(clip["array"]).reshape(-1)
            assert clip["sampling_rate"] == row["audio"]["sampling_rate"] == 16000
            recipe = json.loads(row["negatives"][k]["recipe"])
            assert len(samples) / 16000 <= recipe["render"]["max_duration"] + 1e-9
            # not an empty clip (how loud: tests/test_negative_clips.py; a high-passed wind can sit near -80 dBFS)
            assert np.abs(samples).max() > 0
            kinds = [n["kind"] for n in row["negatives"]]
            if any(kind in PREFERRED for kind in kinds):
                assert kinds[k] in PREFERRED, kinds
            rows_with_clips += 1
    assert rows_with_clips >= 20


def test_every_stored_recipe_event_carries_onset_and_end(tiny_dataset_dir):
    import datasets

    ds = datasets.load_dataset(str(tiny_dataset_dir), split="validation").remove_columns(["audio", "negative_audio"])
    for row in ds:
        recipes = [json.loads(row["recipe"])] + [json.loads(n["recipe"]) for n in row["negatives"]]
        for recipe in recipes:
            for event in recipe["events"]:
                assert 0 <= event["onset"] < event["end"] <= recipe["render"]["max_duration"] + 1e-3, event


def test_negatives_carry_the_true_direction(tiny_dataset_dir):
    """`direction` = what the true clip has: for `modifier`, the caption's modifier word's meaning."""
    import datasets

    ds = datasets.load_dataset(str(tiny_dataset_dir), split="train").remove_columns(["audio", "negative_audio"])
    from audiosetmix_lib.transforms import MODIFIER_NAMES

    names = set(MODIFIER_NAMES.values())  # louder, quieter, ..., thinner, muffled
    seen = set()
    for row in ds:
        for negative in row["negatives"]:
            if negative["kind"] == "modifier":
                assert negative["direction"] in row["modifiers"] and negative["direction"] in names
            elif negative["kind"] == "relation":
                assert negative["direction"] in ("follow", "overlap")
                relations = [e["relation"] for e in json.loads(row["recipe"])["events"]]
                assert negative["direction"] in relations
            else:
                assert negative["direction"] == ""
            seen.add(negative["kind"])
    assert {"modifier", "relation"} <= seen


def test_render_negative_reproduces_the_stored_clip_bit_for_bit(tiny_dataset_dir, tmp_path, capsys):
    import datasets

    ds = datasets.load_dataset(str(tiny_dataset_dir), split="test").cast_column(
        "negative_audio", datasets.List(datasets.Audio(decode=False)))
    checked = 0
    for i in (0, 3, 6):
        row = ds[i]
        capsys.readouterr()
        for j, (k, clip) in enumerate(zip(row["negative_audio_index"], row["negative_audio"], strict=True)):
            # the stored clip j is negative negative_audio_index[j]; the output says so (issue 28 item 7)
            out = tmp_path / f"{row['id']}-{k}.wav"
            assert main(["render", "--dataset_dir", str(tiny_dataset_dir), "--id", row["id"], "--negative", str(k), "--out", str(out)]) == 0
            assert f"stored as negative_audio[{j}]" in capsys.readouterr().out
            rendered, sr = sf.read(out, dtype="int16")
            stored, sr2 = sf.read(io.BytesIO(clip["bytes"]), dtype="int16")
            assert sr == sr2 and np.array_equal(rendered, stored)
            checked += 1
        unstored = next(k for k in range(len(row["negatives"])) if k not in row["negative_audio_index"])
        assert main(["render", "--dataset_dir", str(tiny_dataset_dir), "--id", row["id"], "--negative", str(unstored),
                     "--out", str(tmp_path / "unstored.wav")]) == 0
        assert f"not stored as audio (this row's negative_audio holds negatives {row['negative_audio_index']}" in capsys.readouterr().out
    assert checked == 3
    code = main(["render", "--dataset_dir", str(tiny_dataset_dir), "--id", "test-0", "--negative", "9", "--out", str(tmp_path / "x.wav")])
    assert code == 2 and "--negative must be in" in capsys.readouterr().err  # one error line, exit 2


def test_audio_negatives_count_is_the_flag(tmp_path):
    import datasets

    args = ["--train", "6", "--validation", "0", "--test", "0", "--sample_rate", "8000", "--seed", "4"]
    three = datasets.load_dataset(str(build_dataset(tmp_path / "three", *args, "--audio_negatives", "3")), split="train")
    none = datasets.load_dataset(str(build_dataset(tmp_path / "none", *args, "--audio_negatives", "0")), split="train")
    for a, b in zip(three, none, strict=True):
        assert sorted(a["negative_audio_index"]) == list(range(len(a["negatives"])))
        assert b["negative_audio"] == [] and b["negative_audio_index"] == []
        # the clips change nothing else (a rendered negative's recipe also records what rendering
        # measured: the limiter, a filter's cut-off), so the same plans, texts and timing
        def plain(negatives):
            return [(n["caption"], n["kind"], n["direction"],
                     [(e["event"]["label"], e["onset"], e["end"], sorted(e["transforms"])) for e in json.loads(n["recipe"])["events"]])
                    for n in negatives]
        assert a["caption"] == b["caption"] and plain(a["negatives"]) == plain(b["negatives"])
    card = (tmp_path / "none" / "README.md").read_text()
    assert "(`negative_audio`) | 0 (" in card


def test_counterfactual_clips_rendered_with_the_rows_events_equal_clips_rendered_alone():
    """The per-row memo (a negative reuses the row's rendered events) changes no sample: the oracle renders each
    negative's recipe from scratch, without the memo."""
    from audiosetmix_lib.builder import AudioSetMix
    from audiosetmix_lib.render import render

    maker = AudioSetMix(config_name="synth-small", train=12, validation=0, test=0, audio_negatives=3).row_maker()
    reused = 0
    for index in range(12):
        recipe, chosen, _ = maker.plan("train", index)
        memo: dict = {}
        render(recipe, maker.source, memo)
        events_of_row = len(memo)
        for negative in chosen:
            with_memo = render(negative.recipe, maker.source, memo).samples
            alone = render(negative.recipe, maker.source).samples
            assert np.array_equal(with_memo, alone), (index, negative.kind)
        reused += events_of_row + sum(len(n.recipe.events) for n in chosen) - len(memo)
    assert reused > 0  # the negatives did share events with their rows


def test_the_cards_storage_line_states_the_shards_audio_bytes(tiny_dataset_dir):
    """Issue 28 item 6: the card said "1 (no audio)" because it measured rows read without their audio."""
    import re

    from helpers import undecoded_rows

    rows = undecoded_rows(tiny_dataset_dir, splits=("train", "validation", "test"))
    own = sum(len(r["audio"]["bytes"]) for r in rows)
    extra = sum(len(clip["bytes"]) for r in rows for clip in r["negative_audio"])
    card = (tiny_dataset_dir / "README.md").read_text()
    line = next(x for x in card.splitlines() if "(`negative_audio`)" in x)
    assert "no audio" not in line
    per_row, per_row_own, ratio = map(float, re.search(r"([\d.]+) KiB of FLAC per row beside ([\d.]+) KiB .*x([\d.]+) the", line).groups())
    # the footers count Parquet's 4-byte length prefixes too: within 0.1 KiB of the bytes themselves
    assert abs(per_row - extra / len(rows) / 1024) <= 0.1 and abs(per_row_own - own / len(rows) / 1024) <= 0.1
    assert abs(ratio - (own + extra) / own) <= 0.01
