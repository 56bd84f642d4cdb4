"""The builder end to end: Hub layout, load_dataset round trip, determinism, re-render, CLI, bad inputs."""

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import build_dataset

from audiosetmix_lib.cli import main
from audiosetmix_lib.recipe import RECIPE_VERSION

COLUMNS = ["id", "audio", "caption", "caption_source", "prompt_version", "negatives", "labels", "modifiers", "recipe", "duration",
           "negative_audio", "negative_audio_index"]


def files_of(folder: Path) -> dict[str, bytes]:
    """The dataset's files (the build's own `.audiosetmix/` bookkeeping left out)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".audiosetmix" not in p.relative_to(folder).parts}


def test_hub_layout_and_card(tiny_dataset_dir):
    names = sorted(files_of(tiny_dataset_dir))
    assert names == ["README.md", "data/test-00000-of-00001.parquet", "data/train-00000-of-00003.parquet",
                     "data/train-00001-of-00003.parquet", "data/train-00002-of-00003.parquet",
                     "data/validation-00000-of-00001.parquet"]
    card = (tiny_dataset_dir / "README.md").read_text()
    header = card.split("---")[1]
    assert "configs:" in header and "path: data/train-*" in header and "dataset_info:" in header
    assert "num_examples: 24" in header
    assert "seed | 7" in card and "16-bit PCM" in card and "arXiv" in card


def test_load_dataset_round_trip_with_decoded_audio(tiny_dataset_dir):
    import datasets

    ds = datasets.load_dataset(str(tiny_dataset_dir))
    assert {s: len(ds[s]) for s in ds} == {"train": 24, "validation": 8, "test": 8}
    assert ds["train"].column_names == COLUMNS
    assert ds["train"]["id"][:3] == ["train-0", "train-1", "train-2"]
    row = ds["test"][1]
    audio = row["audio"]
    decoded = np.asarray(audio["array"]).reshape(-1)
    assert audio["sampling_rate"] == 16000
    assert len(decoded) / 16000 == pytest.approx(row["duration"], abs=1e-4)
    raw = ds["test"].cast_column("audio", datasets.Audio(decode=False))[1]["audio"]["bytes"]
    pcm, sr = sf.read(io.BytesIO(raw), dtype="int16")
    assert sr == 16000 and np.allclose(decoded, pcm / 32768.0, atol=1e-4)
    assert row["caption_source"] == "template" and row["prompt_version"] == "template-v1"
    assert 1 <= len(row["labels"]) <= 5 and 1 <= len(row["negatives"]) <= 3
    recipe = json.loads(row["recipe"])
    assert [e["event"]["label"] for e in recipe["events"]] == row["labels"]
    for negative in row["negatives"]:
        assert negative["kind"] in {"order", "modifier", "relation", "event", "missing", "extra"}
        assert negative["caption"] != row["caption"] and json.loads(negative["recipe"])["version"] == RECIPE_VERSION


def test_every_row_has_three_negatives_when_the_recipe_allows(tiny_dataset_dir):
    import datasets

    ds = datasets.load_dataset(str(tiny_dataset_dir)).remove_columns("audio")
    classes = {label for split in ds for labels in ds[split]["labels"] for label in labels}
    # Every recipe allows 3: swapping the label of any one event for another class of the pool is a negative with
    # its own caption, and the pool has far more than 4 classes. So a row with fewer than 3 lost one.
    assert len(classes) >= 4
    for split in ds:
        for caption, negatives in zip(ds[split]["caption"], ds[split]["negatives"], strict=True):
            texts = [n["caption"] for n in negatives]
            assert len(texts) == 3 and len(set(texts)) == 3 and caption not in texts, (caption, texts)


def test_splits_are_disjoint_by_recording(tiny_dataset_dir):
    import datasets

    ds = datasets.load_dataset(str(tiny_dataset_dir)).remove_columns("audio")
    recordings = {}
    for split in ds:
        recs = set()
        for text, negatives in zip(ds[split]["recipe"], ds[split]["negatives"], strict=True):
            for recipe in [json.loads(text)] + [json.loads(n["recipe"]) for n in negatives]:
                recs |= {e["event"]["recording_id"] for e in recipe["events"]}
                assert {e["event"]["split"] for e in recipe["events"]} == {split}
        recordings[split] = recs
    assert not (recordings["train"] & recordings["validation"])
    assert not (recordings["train"] & recordings["test"])
    assert not (recordings["validation"] & recordings["test"])


def test_same_seed_gives_byte_identical_files_for_any_num_proc_and_process(tmp_path):
    """One build in a fresh interpreter (its own hash seed), one here with two worker processes."""
    args = ["--train", "9", "--validation", "3", "--test", "3", "--rows_per_shard", "4", "--seed", "11"]
    one = tmp_path / "one" / "ds"
    env = dict(os.environ, PYTHONHASHSEED="12345", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    fresh = subprocess.run([sys.executable, "-m", "audiosetmix_lib.cli", "build", "--output_dir", str(one), *args,
                            "--num_proc", "1"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    two = build_dataset(tmp_path / "two" / "ds", *args, "--num_proc", "2")
    a, b = files_of(one), files_of(two)
    assert list(a) == list(b) and len(a) == 6
    for name in a:
        assert a[name] == b[name], name
    other = build_dataset(tmp_path / "other" / "ds", *args[:-1], "12")
    assert files_of(other)["data/train-00000-of-00003.parquet"] != a["data/train-00000-of-00003.parquet"]


def test_render_command_reproduces_the_stored_samples_exactly(tiny_dataset_dir, tmp_path):
    import datasets

    ds = datasets.load_dataset(str(tiny_dataset_dir), split="validation").cast_column("audio", datasets.Audio(decode=False))
    for row_id in ("validation-0", "validation-5"):
        out = tmp_path / f"{row_id}.wav"
        assert main(["render", "--dataset_dir", str(tiny_dataset_dir), "--id", row_id, "--out", str(out)]) == 0
        rendered, sr = sf.read(out, dtype="int16")
        stored, sr2 = sf.read(io.BytesIO(ds[int(row_id.split("-")[1])]["audio"]["bytes"]), dtype="int16")
        assert sr == sr2 and np.array_equal(rendered, stored)


def test_builder_works_through_the_datasets_api(tmp_path):
    from audiosetmix import AudioSetMix

    builder = AudioSetMix(config_name="synth-small", cache_dir=str(tmp_path), train=3, validation=0, test=2, rows_per_shard=2)
    assert builder.name == "audiosetmix"
    builder.download_and_prepare()
    ds = builder.as_dataset()
    assert set(ds) == {"train", "test"} and len(ds["train"]) == 3
    assert ds["train"].info.builder_name == "audiosetmix"
    assert [c.name for c in AudioSetMix.BUILDER_CONFIGS][:1] == ["synth-small"]
    default = AudioSetMix(cache_dir=str(tmp_path / "d")).config
    assert (default.train, default.validation, default.test, default.sample_rate) == (2000, 250, 250, 16000)


def test_show_and_push_dry_run(tiny_dataset_dir, capsys):
    assert main(["show", "--dataset_dir", str(tiny_dataset_dir), "--n", "2"]) == 0
    out = capsys.readouterr().out
    assert "load_dataset(" in out and "negative [" in out
    assert main(["push", "--dataset_dir", str(tiny_dataset_dir), "--repo_id", "someone/audiosetmix", "--dry_run"]) == 0
    out = capsys.readouterr().out
    assert "README.md" in out and "data/train-00000-of-00003.parquet" in out and "would upload 6 files" in out
    published = [p for p in tiny_dataset_dir.rglob("*") if p.is_file() and ".audiosetmix" not in p.relative_to(tiny_dataset_dir).parts]
    assert f"total: {sum(p.stat().st_size for p in published) / 2**20:.1f} MiB ({sum(p.stat().st_size for p in published)} bytes) in 6 files" in out


# ---- bad inputs through the CLI -------------------------------------------------------------

def write_tone(path: Path, freq: float, seconds: float = 1.5, sr: int = 16000):
    t = np.arange(int(seconds * sr)) / sr
    sf.write(path, 0.3 * np.sin(2 * np.pi * freq * t), sr)


def csv_line(fields) -> str:
    import csv

    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(fields)
    return buffer.getvalue()


def folder_fixture(root: Path, n_per_label: int = 6, labels=("Dog", "Siren", "Rain")) -> list[str]:
    (root / "audio").mkdir(parents=True)
    lines = ["file_name,label,recording_id"]
    for j, label in enumerate(labels):
        for k in range(n_per_label):
            name = f"audio/{j}-{k}.wav"
            write_tone(root / name, 300 + 200 * j + 10 * k)
            lines.append(csv_line([name, label, f"rec-{j}-{k}"]))
    return lines


def test_folder_build_skips_and_counts_corrupt_empty_and_missing_files(tmp_path, capsys):
    src = tmp_path / "src"
    lines = folder_fixture(src, labels=("Dog", "Siren", 'Odd, "quoted" label — ü'))
    (src / "audio" / "corrupt.wav").write_bytes(b"RIFF\x00\x00not really audio" * 10)
    (src / "audio" / "empty.wav").write_bytes(b"")
    lines += ["audio/corrupt.wav,Dog,rec-c", "audio/empty.wav,Dog,rec-e", "audio/missing.wav,Dog,rec-m"]
    (src / "metadata.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    code = main(["build", "--output_dir", str(out), "--config", "folder", "--source_path", str(src),
                 "--train", "6", "--validation", "0", "--test", "0"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "skipped inputs: 3" in printed
    for name in ("corrupt.wav", "empty.wav", "missing.wav"):
        assert name in printed
    import datasets

    ds = datasets.load_dataset(str(out), split="train").remove_columns("audio")
    assert len(ds) == 6
    labels = {label for row in ds["labels"] for label in row}
    assert labels <= {"Dog", "Siren", "Odd, quoted label ü"}  # the label as words (quotes and the dash removed)
    odd_rows = [c for c, ls in zip(ds["caption"], ds["labels"], strict=True) if "Odd, quoted label ü" in ls]
    for caption in odd_rows:
        assert 'odd' in caption.lower() and "\n" not in caption


def test_bad_metadata_stops_the_build_before_any_work(tmp_path, capsys):
    src = tmp_path / "src"
    lines = folder_fixture(src)
    (src / "metadata.csv").write_text("\n".join(["path,category"] + [line.split(",", 1)[1] for line in lines[1:]]) + "\n")
    out = tmp_path / "out"
    code = main(["build", "--output_dir", str(out), "--config", "folder", "--source_path", str(src), "--train", "4"])
    err = capsys.readouterr().err
    assert code == 2 and "metadata.csv" in err and "file_name" in err
    assert not (out / "data").exists()


def test_unknown_mid_is_skipped_and_counted_in_an_audioset_build(tmp_path, capsys):
    clips = tmp_path / "clips"
    clips.mkdir()
    rows = ["segment_id\tstart_time_seconds\tend_time_seconds\tlabel"]
    mids = {"/m/dog": "Dog", "/m/siren": "Siren", "/m/bell": "Bell"}
    for i in range(12):
        seg = f"vid{i:02d}_{i * 1000}"
        write_tone(clips / f"{seg}.wav", 300 + 40 * i, seconds=8.0)
        mid = list(mids)[i % 3]
        rows.append(f"{seg}\t0.5\t3.5\t{mid}")
        rows.append(f"{seg}\t4.0\t7.0\t{list(mids)[(i + 1) % 3]}")
    rows.append("vid00_0\t1.0\t4.0\t/m/not_a_class")
    truncated = clips / "vid99_0.wav"  # a header that promises 8 s, and half of the data
    write_tone(truncated, 500, seconds=8.0)
    truncated.write_bytes(truncated.read_bytes()[: 44 + 1000])
    rows.append("vid99_0\t0.5\t3.5\t/m/dog")
    (tmp_path / "strong.tsv").write_text("\n".join(rows) + "\n")
    (tmp_path / "mid.tsv").write_text("".join(f"{m}\t{n}\n" for m, n in mids.items()))
    out = tmp_path / "out"
    code = main(["build", "--output_dir", str(out), "--config", "audioset", "--audioset_labels", str(tmp_path / "strong.tsv"),
                 "--audioset_mid_to_name", str(tmp_path / "mid.tsv"), "--audioset_audio_dir", str(clips),
                 "--train", "4", "--validation", "0", "--test", "0"])
    printed = capsys.readouterr().out
    assert code == 0 and "/m/not_a_class" in printed and "vid99_0" in printed and "skipped inputs: 2" in printed


def test_unknown_config_is_a_clear_error(tmp_path, capsys):
    assert main(["build", "--output_dir", str(tmp_path), "--config", "nope"]) == 2
    assert capsys.readouterr().err.startswith("error: unknown config 'nope'")


def test_folder_build_has_no_build_machine_path_and_re_renders_from_another_root(tmp_path, capsys, monkeypatch):
    import shutil

    import datasets

    src = tmp_path / "src"
    (src / "metadata.csv").write_text("\n".join(folder_fixture(src)) + "\n")
    noise = np.random.default_rng(0)
    for wav in sorted((src / "audio").glob("*.wav")):  # a breath of noise: a filter is drawn only where it is heard
        tone, sr = sf.read(wav, dtype="float32")
        sf.write(wav, tone + 0.05 * noise.standard_normal(len(tone)).astype(np.float32), sr)
    out = tmp_path / "out"
    mix = json.dumps({"transforms": {"filter": {"probability": 0.6}}})
    assert main(["build", "--output_dir", str(out), "--config", "folder", "--source_path", str(src), "--train", "6",
                 "--validation", "0", "--test", "4", "--mix", mix]) == 0
    # every text the dataset carries: rows (recipes, negatives), the card, any side file (.audiosetmix/ stays here: push skips it)
    texts = [(out / "README.md").read_text(encoding="utf-8")]
    texts += [p.read_text(encoding="utf-8") for p in out.rglob("*")
              if p.suffix in (".json", ".md", ".txt") and ".audiosetmix" not in p.relative_to(out).parts]
    rows = []
    for split in ("train", "test"):
        ds = datasets.load_dataset(str(out), split=split).remove_columns(["audio", "negative_audio"])  # clips: bytes and "<id>-negative-<k>.flac"
        rows += list(ds)
    texts += [json.dumps(row, ensure_ascii=False) for row in rows]
    for text in texts:
        assert str(tmp_path) not in text and str(src) not in text and str(Path.home()) not in text
        assert not re.search(r'"/[^"<>]*"', text), re.search(r'"/[^"<>]*"', text)  # no absolute path as a JSON value
    recipe = json.loads(rows[-1]["recipe"])
    assert recipe["source"]["path"] == "<source_root>" and not recipe["events"][0]["event"]["audio"].startswith("/")
    assert any("filter" in e["transforms"] for row in rows for e in json.loads(row["recipe"])["events"])
    # on the machine that built it, render finds the source from the local record (issue 28 item 5)
    test = datasets.load_dataset(str(out), split="test").cast_column("audio", datasets.Audio(decode=False))
    capsys.readouterr()
    assert main(["render", "--dataset_dir", str(out), "--id", test[0]["id"], "--out", str(tmp_path / "here.wav")]) == 0
    assert f"source folder: {src.resolve()}" in capsys.readouterr().err
    stored, _ = sf.read(io.BytesIO(test[0]["audio"]["bytes"]), dtype="int16")
    assert np.array_equal(sf.read(tmp_path / "here.wav", dtype="int16")[0], stored)
    # move the audio to another machine's folder: render --source_root re-renders the stored PCM bit for bit
    elsewhere = tmp_path / "elsewhere" / "audio-copy"
    shutil.copytree(src, elsewhere)
    shutil.rmtree(src)
    test = datasets.load_dataset(str(out), split="test").cast_column("audio", datasets.Audio(decode=False))
    for i in range(len(test)):
        row_id = test[i]["id"]
        stored, sr = sf.read(io.BytesIO(test[i]["audio"]["bytes"]), dtype="int16")
        wav = tmp_path / f"{row_id}.wav"
        assert main(["render", "--dataset_dir", str(out), "--id", row_id, "--out", str(wav), "--source_root", str(elsewhere)]) == 0
        again, sr2 = sf.read(wav, dtype="int16")
        assert sr2 == sr and np.array_equal(again, stored), row_id
    assert "warning" not in capsys.readouterr().err  # same versions here: no warning
    assert main(["render", "--dataset_dir", str(out), "--id", test[0]["id"], "--out", str(tmp_path / "x.wav")]) == 2
    assert "--source_root" in capsys.readouterr().err  # one error line
    # other versions here than at build time: render says so on stderr (and still renders)
    from audiosetmix_lib import recipe as recipe_module

    real = recipe_module.shaping_versions()
    monkeypatch.setattr(recipe_module, "shaping_versions", lambda: {**real, "scipy": "0.0-other"})
    assert main(["render", "--dataset_dir", str(out), "--id", test[0]["id"], "--out", str(tmp_path / "y.wav"),
                 "--source_root", str(elsewhere)]) == 0
    assert f"warning: scipy 0.0-other here, {real['scipy']} at build time" in capsys.readouterr().err
    # another renderer, and a changed source file: each said once, naming what differs
    monkeypatch.setattr(recipe_module, "shaping_versions", lambda: {**real, "render": real["render"] + 1})
    audio = json.loads(test[0]["recipe"])["events"][0]["event"]["audio"]
    changed, sr = sf.read(elsewhere / audio, dtype="float32")
    sf.write(elsewhere / audio, 0.5 * changed, sr)  # same size, other bytes
    assert main(["render", "--dataset_dir", str(out), "--id", test[0]["id"], "--out", str(tmp_path / "z.wav"),
                 "--source_root", str(elsewhere)]) == 0
    err = capsys.readouterr().err
    assert f"warning: render version (RENDER_VERSION) {real['render'] + 1} here, {real['render']} at build time" in err
    assert f"its source audio {audio} is not what the row was built from" in err and err.count("warning:") >= 2


def test_a_build_uses_the_cores_by_default(tmp_path, capsys):
    """Issue 28 item 11: --num_proc defaults to the cores this process may use (at most one per shard)."""
    import os

    build_dataset_args = ["build", "--output_dir", str(tmp_path / "out"), "--train", "6", "--validation", "2", "--test", "2",
                          "--rows_per_shard", "2", "--sample_rate", "8000"]
    assert main(build_dataset_args) == 0
    cores = len(os.sched_getaffinity(0))
    assert f"building 5 shard(s) with {min(cores, 5)} process(es)" in capsys.readouterr().out
