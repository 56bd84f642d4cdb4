"""Short recordings make clips a listener can judge (issue 28 item 1): fewer events when they are short,
a minimum clip length, and a warning with the figures and the flag."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf
from helpers import undecoded_rows

from audiosetmix_lib.cli import main
from audiosetmix_lib.config import MixConfig
from audiosetmix_lib.event_density import events_that_fit
from audiosetmix_lib.events import Event
from audiosetmix_lib.recipe import EventSpec

SR = 16000


def short_folder(root: Path) -> Path:
    """Six classes of 0.15-0.45 s knocks and beeps (real WAV files), ten recordings each."""
    (root / "audio").mkdir(parents=True)
    lines = ["file_name,label"]
    rng = np.random.default_rng(0)
    for j, label in enumerate(("Knock", "Tap", "Click", "Beep", "Clap", "Snap")):
        for k in range(10):
            seconds = 0.15 + 0.03 * k
            t = np.arange(int(seconds * SR)) / SR
            wave = 0.4 * np.sin(2 * np.pi * (400 + 150 * j) * t) * np.exp(-t * 8) + 0.01 * rng.standard_normal(t.size)
            sf.write(root / "audio" / f"{j}-{k}.wav", wave, SR)
            lines.append(f"audio/{j}-{k}.wav,{label}")
    (root / "metadata.csv").write_text("\n".join(lines) + "\n")
    return root


def spec(seconds: float, relation=None) -> EventSpec:
    event = Event(event_id=f"e{seconds}", recording_id="r", label=f"L{seconds}", audio="a.wav", start=0.0, end=seconds,
                  split="train")
    return EventSpec(event=event, segment_start=0.0, segment_duration=seconds, transforms={}, relation=relation)


def test_the_first_events_are_kept_while_they_bring_a_second_each():
    config = MixConfig()  # min_seconds_per_event 1.0
    # 0.2 + 0.3 + 2.0 + 0.4 = 2.9 s: four events need 4 s, three 3 s (2.5: no), two 2 s (0.5: no) -> one
    specs = [spec(0.2), spec(0.3, "follow"), spec(2.0, "overlap"), spec(0.4, "follow")]
    assert events_that_fit(specs, config) == specs[:1]
    long = [spec(3.0), spec(0.2, "follow"), spec(0.3, "follow"), spec(0.2, "overlap")]  # 3.0, 3.2, 3.5, 3.7 s: three
    assert events_that_fit(long, config) == long[:3]
    assert events_that_fit(long, replace(config, min_seconds_per_event=0.0)) == long


def test_short_recordings_give_fewer_events_clips_of_half_a_second_and_a_warning(tmp_path, capsys):
    src = short_folder(tmp_path / "src")
    out = tmp_path / "out"
    assert main(["build", "--config", "folder", "--source_path", str(src), "--output_dir", str(out), "--train", "30",
                 "--validation", "0", "--test", "0", "--num_proc", "1"]) == 0
    err = capsys.readouterr().err
    warning = next(line for line in err.splitlines() if line.startswith("warning:") and "shorter than 1 s" in line)
    assert "100% of the folder source's 60 events" in warning and "shortest 0.15 s" in warning
    assert "min_seconds_per_event" in warning and "--min_event_seconds" in warning
    rows = undecoded_rows(out)
    for row in rows:
        events = json.loads(row["recipe"])["events"]
        sound = sum(e["event"]["end"] - e["event"]["start"] for e in events)
        assert len(events) == 1 or sound >= len(events) * 1.0, (row["id"], sound, len(events))
        samples, sr = sf.read(io.BytesIO(row["audio"]["bytes"]))
        assert len(samples) >= round(0.5 * sr) and row["duration"] >= 0.5 - 1e-6, row["id"]
        assert abs(len(samples) / sr - row["duration"]) < 2 / sr
        for clip in row["negative_audio"]:  # a counterfactual clip keeps the pad of its row
            assert len(sf.read(io.BytesIO(clip["bytes"]))[0]) >= round(0.5 * sr)
    # without the rules the same folder packs up to five 0.15-0.45 s events into a clip, some far under 0.5 s
    loose = tmp_path / "loose"
    assert main(["build", "--config", "folder", "--source_path", str(src), "--output_dir", str(loose), "--train", "30",
                 "--validation", "0", "--test", "0", "--num_proc", "1", "--audio_negatives", "0",
                 "--mix", '{"min_seconds_per_event": 0, "min_clip_seconds": 0}']) == 0
    loose_rows = undecoded_rows(loose)
    assert max(len(r["labels"]) for r in loose_rows) >= 3 and min(r["duration"] for r in loose_rows) < 0.5


def test_a_padded_build_is_the_same_bytes_with_two_processes(tmp_path):
    src = short_folder(tmp_path / "src")
    common = ["--config", "folder", "--source_path", str(src), "--train", "8", "--validation", "0", "--test", "0",
              "--rows_per_shard", "4"]
    assert main(["build", "--output_dir", str(tmp_path / "one"), "--num_proc", "1", *common]) == 0
    assert main(["build", "--output_dir", str(tmp_path / "two"), "--num_proc", "2", *common]) == 0
    for shard in sorted((tmp_path / "one" / "data").iterdir()):
        assert shard.read_bytes() == (tmp_path / "two" / "data" / shard.name).read_bytes()


def test_synth_recordings_are_long_enough_to_keep_every_drawn_event():
    """The default synth plans (2-6 s events) are unchanged by the event rule."""
    from audiosetmix import AudioSetMix
    from audiosetmix_lib.sampler import sample_recipe

    builder = AudioSetMix(config_name="synth-small")
    maker = builder.row_maker()
    config = builder.config.mix_config()
    off = replace(config, min_seconds_per_event=0.0)
    for i in range(200):
        a = sample_recipe(maker.pool, config, 0, "train", i, 16000, maker.source.spec())
        b = sample_recipe(maker.pool, off, 0, "train", i, 16000, maker.source.spec())
        assert a.spec_json() == b.spec_json()
