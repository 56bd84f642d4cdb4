"""Folder, AudioSet and Hugging Face sources: every fixture is written by the test itself."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import numpy as np
import pytest
import soundfile as sf

from audiosetmix_lib import audio_io
from audiosetmix_lib.events import SPLITS, hash_split
from audiosetmix_lib.sources import SourceError, from_spec
from audiosetmix_lib.sources.audioset import DEFAULT_EXCLUDED_CLASSES, AudioSetSource, merge_spans, recording_of
from audiosetmix_lib.sources.folder import FolderSource
from audiosetmix_lib.sources.hf import HFSource

SR = 16000
ESC10 = Path(os.environ.get("AUDIOSETMIX_ESC10") or Path(__file__).resolve().parents[2] / "shared" / "data" / "esc10")
CAN_WRITE_MP3 = "MP3" in sf.available_formats()


def tone(seconds: float, pad: float = 0.3, freq: float = 440.0, sr: int = SR, seed: int = 0) -> np.ndarray:
    """A sine plus a little noise, with `pad` seconds of digital silence on both sides."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * sr))) / sr
    body = 0.5 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(t.size)
    silence = np.zeros(int(round(pad * sr)))
    return np.concatenate([silence, body, silence]).astype(np.float32)


def write(path: Path, samples: np.ndarray, sr: int = SR) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), samples, sr)
    return path


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def check_load(source, sample_rates=(SR, 22050)) -> None:
    for event in source.events():
        for sr in sample_rates:
            samples = source.load(event, sr)
            assert samples.dtype == np.float32 and samples.ndim == 1
            assert abs(len(samples) - event.duration * sr) <= 2  # one sample per cut, one per resampling
            assert np.abs(samples).max() > 0.1


def check_round_trip(source) -> None:
    spec = json.loads(json.dumps(source.spec()))
    assert source.source_root() is None or source.source_root() not in json.dumps(spec)  # no build-machine path
    rebuilt = from_spec(spec, source.source_root())
    assert type(rebuilt) is type(source)
    assert rebuilt.spec() == source.spec()
    assert rebuilt.events() == source.events()


# -- folder ---------------------------------------------------------------------------------


@pytest.fixture
def labelled_folder(tmp_path: Path) -> Path:
    write(tmp_path / "audio" / "a.wav", tone(1.0, freq=440))
    write(tmp_path / "audio" / "b.flac", tone(1.5, freq=660))
    write(tmp_path / "audio" / "c.ogg", tone(2.0, freq=550))
    rows = [["audio/a.wav", "Dog"], ["audio/b.flac", " Rain "], ["audio/c.ogg", "Dog"]]
    if CAN_WRITE_MP3:
        write(tmp_path / "audio" / "d.mp3", tone(1.2, freq=330))
        rows.append(["audio/d.mp3", "Bell"])
    write_csv(tmp_path / "metadata.csv", ["file_name", "label"], rows)
    return tmp_path


def test_folder_metadata_label(labelled_folder: Path) -> None:
    source = FolderSource(str(labelled_folder), split_strategy="hash")
    events = source.events()
    assert source.skipped == []
    by_file = {event.audio: event for event in events}
    expected = {"audio/a.wav": "Dog", "audio/b.flac": "Rain", "audio/c.ogg": "Dog"}
    if CAN_WRITE_MP3:
        expected["audio/d.mp3"] = "Bell"
    assert {name: event.label for name, event in by_file.items()} == expected
    assert events == sorted(events)
    # silence trimmed: the 0.3 s pads are gone (lossy codecs smear the edges a little)
    for name, seconds in [("audio/a.wav", 1.0), ("audio/b.flac", 1.5), ("audio/c.ogg", 2.0)]:
        event = by_file[name]
        assert event.start == pytest.approx(0.3, abs=0.05)
        assert event.end == pytest.approx(0.3 + seconds, abs=0.05)
        assert event.split in SPLITS
        assert event.split == hash_split(name)
    assert by_file["audio/a.wav"].start == pytest.approx(0.3, abs=1e-6)
    check_load(source)
    check_round_trip(source)
    assert "user" in source.license_note()


def test_folder_labels_list_column(tmp_path: Path) -> None:
    for name in ["one.wav", "two.wav", "three.wav", "four.wav", "five.wav"]:
        write(tmp_path / name, tone(0.8))
    write_csv(tmp_path / "metadata.csv", ["file_name", "labels"], [
        ["one.wav", '["Dog"]'],
        ["two.wav", "Rain;Rain"],
        ["three.wav", '["Dog", "Rain"]'],
        ["four.wav", "Dog|Bell"],
        ["five.wav", "Siren"],
    ])
    source = FolderSource(str(tmp_path))
    assert {(e.audio, e.label) for e in source.events()} == {("one.wav", "Dog"), ("two.wav", "Rain"), ("five.wav", "Siren")}
    reasons = {skip.item: skip.reason for skip in source.skipped}
    assert set(reasons) == {"three.wav", "four.wav"}
    assert all("several labels" in reason for reason in reasons.values())


def test_folder_subfolders(tmp_path: Path) -> None:
    write(tmp_path / "Rain" / "r2.flac", tone(1.0, freq=300))
    write(tmp_path / "Rain" / "r1.wav", tone(1.0, freq=310))
    write(tmp_path / "Dog" / "d1.ogg", tone(1.0, freq=500))
    (tmp_path / "Dog" / "notes.txt").write_text("not audio")
    source = FolderSource(str(tmp_path))
    events = source.events()
    assert [(e.audio, e.label) for e in events] == [("Dog/d1.ogg", "Dog"), ("Rain/r1.wav", "Rain"), ("Rain/r2.flac", "Rain")]
    assert source.skipped == []
    check_round_trip(source)


def test_folder_empty_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="metadata.csv"):
        FolderSource(str(tmp_path)).events()


def test_folder_start_end_columns(tmp_path: Path) -> None:
    silence = np.zeros(int(0.5 * SR), dtype=np.float32)
    two = np.concatenate([tone(1.0, pad=0.5, freq=440), tone(1.0, pad=0.5, freq=880)])  # tones at 0.5-1.5 and 2.5-3.5
    write(tmp_path / "long.flac", np.concatenate([two, silence]))
    write_csv(tmp_path / "metadata.csv", ["file_name", "label", "start", "end"], [
        ["long.flac", "Low", "0", "2"],
        ["long.flac", "High", "2.0", ""],
        ["long.flac", "Both", "", "4"],
    ])
    source = FolderSource(str(tmp_path))
    spans = {e.label: (e.start, e.end) for e in source.events()}
    assert spans["Low"] == pytest.approx((0.5, 1.5), abs=0.021)
    assert spans["High"] == pytest.approx((2.5, 3.5), abs=0.021)
    assert spans["Both"] == pytest.approx((0.5, 3.5), abs=0.021)
    assert len({e.event_id for e in source.events()}) == 3
    assert len({e.split for e in source.events()}) == 1  # one file, one recording
    check_load(source)


def test_folder_recording_id_groups_clips(tmp_path: Path) -> None:
    rows = []
    for recording in range(8):
        for clip in range(3):
            name = f"r{recording}-c{clip}.wav"
            write(tmp_path / name, tone(0.6, pad=0.05, seed=recording * 3 + clip))
            rows.append([name, "Dog", f"rec{recording}"])
    write_csv(tmp_path / "metadata.csv", ["file_name", "label", "recording_id"], rows)
    source = FolderSource(str(tmp_path), fractions=(0.4, 0.3, 0.3), split_strategy="hash")
    by_recording: dict[str, set[str]] = {}
    for event in source.events():
        by_recording.setdefault(event.recording_id, set()).add(event.split)
        assert event.split == hash_split(event.recording_id, (0.4, 0.3, 0.3))
    assert len(by_recording) == 8
    assert all(len(splits) == 1 for splits in by_recording.values())
    assert len(set().union(*by_recording.values())) > 1


def test_folder_split_column(tmp_path: Path) -> None:
    rows = []
    for fold in range(1, 6):
        write(tmp_path / f"f{fold}.wav", tone(0.6, pad=0.05))
        rows.append([f"f{fold}.wav", "Dog", str(fold)])
    write_csv(tmp_path / "metadata.csv", ["file_name", "label", "fold"], rows)
    split_map = {1: "train", 2: "train", 3: "train", 4: "val", 5: "test"}
    source = FolderSource(str(tmp_path), split_column="fold", split_map=split_map)
    assert {e.audio: e.split for e in source.events()} == {
        "f1.wav": "train", "f2.wav": "train", "f3.wav": "train", "f4.wav": "validation", "f5.wav": "test",
    }
    check_round_trip(source)
    partial_map = {"1": "train", "2": "train", "3": "train", "4": "test"}
    with pytest.raises(SourceError, match=r"metadata\.csv, row 5.*'5'.*split_map"):
        FolderSource(str(tmp_path), split_column="fold", split_map=partial_map, strict=True).events()
    lenient = FolderSource(str(tmp_path), split_column="fold", split_map=partial_map)
    assert len(lenient.events()) == 4
    assert [(s.item, s.kind) for s in lenient.skipped] == [("f5.wav", "bad split value")]
    assert "row 5" in lenient.skipped[0].reason and "'5'" in lenient.skipped[0].reason
    with pytest.raises(SourceError, match="split column 'nope'"):
        FolderSource(str(tmp_path), split_column="nope").events()


def test_folder_plain_split_column(tmp_path: Path) -> None:
    rows = []
    for name, split in [("a.wav", "train"), ("b.wav", "val"), ("c.wav", "Test")]:
        write(tmp_path / name, tone(0.6, pad=0.05))
        rows.append([name, "Dog", split])
    write_csv(tmp_path / "metadata.csv", ["file_name", "label", "split"], rows)
    source = FolderSource(str(tmp_path), split_column="split")
    assert [e.split for e in source.events()] == ["train", "validation", "test"]
    write_csv(tmp_path / "metadata.csv", ["file_name", "label", "split"], rows + [["a.wav", "Cat", "holdout"]])
    with pytest.raises(SourceError, match="row 4"):
        FolderSource(str(tmp_path), split_column="split", strict=True).events()


def test_folder_bad_files_are_skipped_and_counted(tmp_path: Path) -> None:
    write(tmp_path / "good.wav", tone(1.0))
    write(tmp_path / "good2.ogg", tone(1.0, freq=700))
    write(tmp_path / "short.wav", tone(0.2))
    write(tmp_path / "silent.wav", np.zeros(SR, dtype=np.float32))
    (tmp_path / "corrupt.wav").write_bytes(np.random.default_rng(1).bytes(4000))
    (tmp_path / "empty.wav").write_bytes(b"")
    names = ["good.wav", "corrupt.wav", "empty.wav", "missing.wav", "short.wav", "silent.wav", "good2.ogg"]
    write_csv(tmp_path / "metadata.csv", ["file_name", "label"], [[name, "Dog"] for name in names])
    source = FolderSource(str(tmp_path), min_event_seconds=0.5)
    assert [e.audio for e in source.events()] == ["good.wav", "good2.ogg"]
    reasons = {skip.item: skip.reason for skip in source.skipped}
    assert set(reasons) == {"corrupt.wav", "empty.wav", "missing.wav", "short.wav", "silent.wav"}
    assert "empty" in reasons["empty.wav"] and "empty.wav" in reasons["empty.wav"]
    assert "not found" in reasons["missing.wav"] and "missing.wav" in reasons["missing.wav"]
    assert "corrupt.wav" in reasons["corrupt.wav"]
    assert "shorter than 0.5" in reasons["short.wav"]
    assert "silent" in reasons["silent.wav"]
    relaxed = FolderSource(str(tmp_path))  # the default, 0.1 s, keeps isolated short events
    assert "short.wav" in [e.audio for e in relaxed.events()]


@pytest.mark.parametrize(
    "header, row, pattern",
    [
        (["path", "label"], ["a.wav", "Dog"], r"metadata\.csv.*'file_name'"),
        (["file_name", "class"], ["a.wav", "Dog"], r"metadata\.csv.*'label' or 'labels'"),
        (["file_name", "label", "start"], ["a.wav", "Dog", "soon"], r"metadata\.csv, row 2.*start/end"),
        (["file_name", "label", "start", "end"], ["a.wav", "Dog", "1.0", "0.5"], r"row 2.*end 0\.5 is not after start 1\.0"),
        (["file_name", "label"], ["a.wav", "  "], r"row 2.*empty label"),
        (["file_name", "labels"], ["a.wav", "[]"], r"row 2.*empty label"),
        (["file_name", "labels"], ["a.wav", '["Dog"'], r"row 2.*JSON"),
    ],
)
def test_folder_bad_metadata_raises_before_decoding(tmp_path, monkeypatch, header, row, pattern) -> None:
    """A bad header always stops the build; a bad row stops it only with strict (otherwise: skipped)."""
    write(tmp_path / "a.wav", tone(0.6))
    first = ["a.wav", "Dog"] + [""] * (len(header) - 2)
    write_csv(tmp_path / "metadata.csv", header, [first, row])

    def no_decoding(*args, **kwargs):
        raise AssertionError("audio decoded before the metadata was validated")

    monkeypatch.setattr(audio_io, "read_audio", no_decoding)
    with pytest.raises(SourceError, match=pattern):
        FolderSource(str(tmp_path), strict=True).events()
    if "row 2" in pattern:
        monkeypatch.undo()
        source = FolderSource(str(tmp_path))
        assert [e.audio for e in source.events()] == ["a.wav"]
        assert len(source.skipped) == 1 and "row 2" in source.skipped[0].reason


def test_folder_odd_label_characters_kept(tmp_path: Path) -> None:
    labels = ['Dog, barking', 'He said "hi"', "Café — ü", "Line\nbreak\tand\x07bell", "  Ünïcödé 日本  "]
    rows = []
    for i, label in enumerate(labels):
        write(tmp_path / f"clip {i}.wav", tone(0.6, pad=0.05))
        rows.append([f"clip {i}.wav", label])
    write_csv(tmp_path / "metadata.csv", ["file_name", "label"], rows)
    source = FolderSource(str(tmp_path))
    # cut at the line break (issue 13: what follows a line break is another sentence); tab and bell become spaces;
    # quotes and dashes go (issue 25: labels are words), letters of any script stay
    assert [e.label for e in source.events()] == ['Dog, barking', 'He said hi', "Café ü", "Line", "Ünïcödé 日本"]
    check_round_trip(source)
    labels[3] = "Tab\tand\x07bell"
    write_csv(tmp_path / "metadata.csv", ["file_name", "label"], [[f"clip {i}.wav", label] for i, label in enumerate(labels)])
    assert FolderSource(str(tmp_path)).events()[3].label == "Tab and bell"


# -- audioset -------------------------------------------------------------------------------

ONTOLOGY = [
    {"id": "/m/0bt9lr", "name": "Dog", "restrictions": [], "child_ids": []},
    {"id": "/m/06mb1", "name": "Rain", "restrictions": [], "child_ids": []},
    {"id": "/m/09x0r", "name": "Speech", "restrictions": [], "child_ids": []},
    {"id": "/m/0dgw9r", "name": "Human sounds", "restrictions": ["abstract"], "child_ids": ["/m/09x0r"]},
    {"id": "/m/0blk01", "name": "Blacklisted thing", "restrictions": ["blacklist"], "child_ids": []},
    {"id": "/t/dd00125", "name": "Inside, small room", "restrictions": [], "child_ids": []},
]
MID_NAMES = "/m/0bt9lr\tDog\n/m/0extra\tBell\n"


@pytest.fixture
def audioset_dir(tmp_path: Path) -> Path:
    (tmp_path / "ontology.json").write_text(json.dumps(ONTOLOGY))
    (tmp_path / "mid_to_display_name.tsv").write_text(MID_NAMES)
    lines = [
        "segment_id\tstart_time_seconds\tend_time_seconds\tlabel",
        "abc_DEF12_30000\t1.0\t2.0\t/m/0bt9lr",     # 2: Dog, overlaps the next line
        "abc_DEF12_30000\t1.8\t3.5\t/m/0bt9lr",     # 3: merged Dog 1.0-3.5
        "abc_DEF12_30000\t0.0\t1.5\t/m/06mb1",      # 4: Rain, 1.5 s: too short by default
        "abc_DEF12_30000\t4.0\t5.0\t/m/09x0r",      # 5: Speech, touches the next line
        "abc_DEF12_30000\t5.0\t6.5\t/m/09x0r",      # 6: merged Speech 4.0-6.5
        "abc_DEF12_30000\t0.0\t6.0\t/m/0dgw9r",     # 7: abstract
        "abc_DEF12_30000\t0.0\t6.0\t/m/0blk01",     # 8: blacklisted
        "abc_DEF12_30000\t0.0\t6.0\t/t/dd00125",    # 9: background-like
        "abc_DEF12_30000\t0.0\t6.0\t/m/nothere",    # 10: unknown MID
        "xyz_40000\t0.5\t9.0\t/m/0extra",           # 11: Bell (name map only), clamped to the 4 s clip
        "nofile_0\t0.0\t5.0\t/m/0bt9lr",            # 12: no clip
        "broken_1000\t0.0\t5.0\t/m/0bt9lr",         # 13: corrupt clip
    ]
    (tmp_path / "strong.tsv").write_text("\n".join(lines) + "\n")
    clips = tmp_path / "clips"
    write(clips / "abc_DEF12_30000.flac", tone(6.0, pad=0.5, sr=8000), sr=8000)
    write(clips / "xyz_40000.ogg", tone(3.0, pad=0.5, sr=8000), sr=8000)
    clips.joinpath("broken_1000.wav").write_bytes(b"RIFF\x00\x00garbage" * 10)
    clips.joinpath("readme.txt").write_text("not a clip")
    return tmp_path


def audioset(root: Path, **options) -> AudioSetSource:
    kwargs = {"ontology": str(root / "ontology.json"), "mid_to_name": str(root / "mid_to_display_name.tsv")}
    kwargs.update(options)
    return AudioSetSource(str(root / "strong.tsv"), str(root / "clips"), **kwargs)


def test_audioset_filters_and_merges(audioset_dir: Path) -> None:
    source = audioset(audioset_dir)
    events = source.events()
    spans = {e.label: (e.start, e.end) for e in events}
    assert spans == {"Dog": (1.0, 3.5), "Speech": (4.0, 6.5), "Bell": (0.5, pytest.approx(4.0))}
    dog = next(e for e in events if e.label == "Dog")
    assert dog.recording_id == "abc_DEF12"
    assert dog.audio == "abc_DEF12_30000.flac"
    assert dog.split == hash_split("abc_DEF12")
    reasons = [f"{skip.item}: {skip.reason}" for skip in source.skipped]
    text = "\n".join(reasons)
    assert "Rain" in text and "shorter than 2.0" in text
    assert "abstract" in text and "blacklist" in text
    assert "'Inside, small room'" in text and "excluded" in text
    assert "/m/nothere" in text and "line 10" in text
    assert "nofile_0" in text and "no clip" in text
    assert "broken_1000.wav" in text
    assert len(source.skipped) == 7
    check_load(source, sample_rates=(SR,))
    check_round_trip(source)
    assert "CC BY 4.0" in source.license_note() and "YouTube" in source.license_note()


def test_audioset_options(audioset_dir: Path) -> None:
    relaxed = audioset(audioset_dir, min_event_seconds=1.0)
    assert "Rain" in {e.label for e in relaxed.events()}
    custom = audioset(audioset_dir, exclude_classes=["speech"])
    labels = {e.label for e in custom.events()}
    assert "Speech" not in labels and "Inside, small room" in labels
    only_map = AudioSetSource(str(audioset_dir / "strong.tsv"), str(audioset_dir / "clips"), mid_to_name=str(audioset_dir / "mid_to_display_name.tsv"))
    assert {e.label for e in only_map.events()} == {"Dog", "Bell"}
    assert "Inside, small room" in DEFAULT_EXCLUDED_CLASSES and "Silence" in DEFAULT_EXCLUDED_CLASSES
    with pytest.raises(SourceError, match="ontology"):
        AudioSetSource(str(audioset_dir / "strong.tsv"), str(audioset_dir / "clips"))


def test_audioset_helpers() -> None:
    assert merge_spans([(3.0, 4.0), (0.0, 1.0), (1.0, 2.0), (0.5, 1.5)]) == [(0.0, 2.0), (3.0, 4.0)]
    assert recording_of("a_b_c_123") == "a_b_c" and recording_of("plain") == "plain"


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("segment\tstart\tend\tlabel\nx_0\t0\t3\t/m/0bt9lr\n", r"strong\.tsv, line 1: header"),
        ("segment_id\tstart_time_seconds\tend_time_seconds\tlabel\nx_0\tzero\t3\t/m/0bt9lr\n", r"strong\.tsv, line 2: non-numeric"),
        ("segment_id\tstart_time_seconds\tend_time_seconds\tlabel\nx_0\t0\t3\n", r"strong\.tsv, line 2: 3 fields"),
    ],
)
def test_audioset_bad_tsv(audioset_dir: Path, text: str, pattern: str) -> None:
    (audioset_dir / "strong.tsv").write_text(text)
    with pytest.raises(SourceError, match=pattern):
        audioset(audioset_dir).events()


# -- hf -------------------------------------------------------------------------------------


def wav_bytes(samples: np.ndarray, sr: int = SR, fmt: str = "WAV") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, sr, format=fmt)
    return buffer.getvalue()


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch) -> Path:
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    return tmp_path


def save_parquet(root: Path, split: str, columns: dict, features) -> None:
    from datasets import Dataset

    (root / "data").mkdir(parents=True, exist_ok=True)
    Dataset.from_dict(columns, features=features).to_parquet(str(root / "data" / f"{split}-00000-of-00001.parquet"))


def test_hf_class_label_dataset(hf_cache: Path) -> None:
    from datasets import Audio, ClassLabel, Features, Value

    root = hf_cache / "ds"
    features = Features({"audio": Audio(), "label": ClassLabel(names=["Dog", "Rain"]), "source": Value("string")})
    save_parquet(root, "train", {
        "audio": [
            {"bytes": wav_bytes(tone(1.0)), "path": None},
            {"bytes": wav_bytes(tone(1.2, freq=300), fmt="FLAC"), "path": None},
            {"bytes": b"not audio at all", "path": None},
            {"bytes": wav_bytes(tone(0.8, freq=900), sr=22050), "path": None},
        ],
        "label": [0, 1, 1, 0],
        "source": ["r1", "r1", "r2", "r3"],
    }, features)
    save_parquet(root, "test", {
        "audio": [{"bytes": wav_bytes(tone(1.0, freq=500)), "path": None}],
        "label": [1],
        "source": ["r4"],
    }, features)
    source = HFSource(str(root), split_strategy="hash")
    events = source.events()
    assert [(e.audio, e.label) for e in events] == [("test:0", "Rain"), ("train:0", "Dog"), ("train:1", "Rain"), ("train:3", "Dog")]
    assert [s.item for s in source.skipped] == ["train:2"]
    assert "unreadable" in source.skipped[0].reason
    first = events[1]
    assert first.start == pytest.approx(0.3, abs=1e-6) and first.end == pytest.approx(1.3, abs=1e-6)
    assert first.recording_id == "train:0" and first.split == hash_split("train:0")
    check_load(source)
    check_round_trip(source)

    grouped = HFSource(str(root), split="train", recording_column="source")
    assert [e.recording_id for e in grouped.events()] == ["r1", "r1", "r3"]
    assert len({e.split for e in grouped.events() if e.recording_id == "r1"}) == 1

    with pytest.raises(SourceError, match=r"no column\(s\) \['category'\].*available columns: \['audio', 'label', 'source'\]"):
        HFSource(str(root), label_column="category").events()


def test_hf_string_labels_and_split_column(hf_cache: Path) -> None:
    from datasets import Audio, Features, Value

    root = hf_cache / "strings"
    features = Features({"audio": Audio(), "category": Value("string"), "fold": Value("int64")})
    save_parquet(root, "train", {
        "audio": [{"bytes": wav_bytes(tone(1.0, freq=f)), "path": None} for f in (300, 400, 500)],
        "category": ["Café — ü", "Dog, barking", "Dog, barking"],
        "fold": [1, 2, 3],
    }, features)
    source = HFSource(str(root), label_column="category", split_column="fold", split_map={"1": "train", "2": "validation", "3": "test"})
    assert [(e.label, e.split) for e in source.events()] == [("Café ü", "train"), ("Dog, barking", "validation"), ("Dog, barking", "test")]
    check_round_trip(source)
    with pytest.raises(SourceError, match="fold"):
        HFSource(str(root), label_column="category", split_column="fold", strict=True).events()
    lenient = HFSource(str(root), label_column="category", split_column="fold")
    assert lenient.events() == [] and [s.kind for s in lenient.skipped] == ["bad split value"] * 3


def test_a_moved_local_hf_dataset_keeps_its_fingerprint_and_a_changed_one_warns(hf_cache: Path) -> None:
    """render --source_root on another machine: the same files elsewhere raise no warning; different files do."""
    import shutil
    import warnings

    from datasets import Audio, Features, Value

    root = hf_cache / "here" / "ds"
    features = Features({"audio": Audio(), "label": Value("string")})
    columns = {"audio": [{"bytes": wav_bytes(tone(1.0, freq=f)), "path": None} for f in (300, 500)],
               "label": ["Dog", "Rain"]}
    save_parquet(root, "train", columns, features)
    source = HFSource(str(root), split_strategy="hash")
    events = source.events()
    spec = json.loads(json.dumps(source.spec()))
    assert spec["fingerprint"].startswith("files:") and str(root) not in json.dumps(spec)

    moved = hf_cache / "elsewhere" / "copy"
    shutil.copytree(root, moved)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails
        rebuilt = from_spec(spec, str(moved))
        assert rebuilt.events() == events and rebuilt.spec() == spec

    changed = hf_cache / "elsewhere" / "changed"
    save_parquet(changed, "train", {"audio": columns["audio"] * 2, "label": ["Dog", "Rain"] * 2}, features)
    with pytest.warns(UserWarning, match="fingerprint"):
        from_spec(spec, str(changed)).events()


def test_hf_audiofolder(hf_cache: Path) -> None:
    root = hf_cache / "af"
    write(root / "Dog" / "a.wav", tone(1.0))
    write(root / "Rain" / "b.wav", tone(1.0, freq=200))
    source = HFSource(str(root))
    assert sorted(e.label for e in source.events()) == ["Dog", "Rain"]
    check_load(source, sample_rates=(SR,))


# -- a real dataset, when present -----------------------------------------------------------


@pytest.mark.esc10
def test_esc10_folder() -> None:
    if not (ESC10 / "metadata.csv").is_file():
        pytest.skip(f"{ESC10} not present")
    split_map = {"1": "train", "2": "train", "3": "train", "4": "validation", "5": "test"}
    # some ESC clips hold a single 0.3 s bark padded with silence: keep them all here
    source = FolderSource(str(ESC10), split_column="fold", split_map=split_map, min_event_seconds=0.25)
    events = source.events()
    assert len(events) == 400 and source.skipped == []
    assert len({e.label for e in events}) == 10
    assert {e.split for e in events} == set(SPLITS)
