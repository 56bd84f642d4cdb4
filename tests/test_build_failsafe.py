"""A build whose input goes bad stops with one line and loses nothing (issue 25, items 3, 4 and 7).

Real builds of a real folder of audio: in-process through `main`, and as a separate process
stopped with SIGSTOP while a source file is deleted or damaged under it.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiosetmix_lib.cli import main
from audiosetmix_lib.output.faults import STOP_ENV

ROOT = Path(__file__).resolve().parents[1]
SR = 16000
CLASSES = ["Bell", "Cat", "Dog", "Drum", "Gong", "Horn", "Rain", "Saw", "Siren", "Wind", "Whistle", "Bird"]


def tone_file(path: Path, j: int) -> None:
    t = np.arange(int(0.6 * SR)) / SR
    sf.write(str(path), (0.4 * np.sin(2 * np.pi * (220 + 90 * j) * t)).astype(np.float32), SR)


def one_file_per_class(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for j, label in enumerate(CLASSES):
        tone_file(root / f"{label.lower()}.wav", j)
    with open(root / "metadata.csv", "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["file_name", "label"], *[[f"{c.lower()}.wav", c] for c in CLASSES]])
    return root


def build_args(source: Path, out: Path) -> list[str]:
    return ["build", "--output_dir", str(out), "--config", "folder", "--source_path", str(source), "--train", "8",
            "--validation", "0", "--test", "0", "--rows_per_shard", "4", "--num_negatives", "1", "--audio_negatives",
            "0", "--seed", "4", "--mix", '{"max_events": 2}', "--split_strategy", "hash", "--num_proc", "1"]  # SIGSTOP stops the driver


def files_per_shard(out: Path) -> list[set[str]]:
    """The source files each shard's clips are rendered from (no negative clips here), from the stored recipes."""
    import datasets

    ds = datasets.load_dataset(str(out), split="train").remove_columns("audio")
    shards: list[set[str]] = [set(), set()]
    for i, row in enumerate(ds):
        shards[i // 4].update(e["event"]["audio"] for e in json.loads(row["recipe"])["events"])
    return shards


def wait_until_stopped(proc: subprocess.Popen, marker: Path, timeout: float = 120.0) -> None:
    """Until the build stopped itself (SIGSTOP after writing `marker`): its /proc state is T."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker.exists() and Path(f"/proc/{proc.pid}/stat").read_text().split(") ", 1)[1][0] == "T":
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("the build never stopped itself")


def one_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr[-3000:]
    return lines[0]


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["deleted", "garbage"])
def test_a_source_file_lost_mid_build_stops_with_one_line_and_the_resume_is_byte_identical(tmp_path, damage):
    source = one_file_per_class(tmp_path / "src")
    reference = tmp_path / "reference"
    assert main(build_args(source, reference)) == 0
    first, second = files_per_shard(reference)
    only_later = sorted(second - first)
    assert only_later, (first, second)  # the seed makes shard 1 need a file shard 0 never reads
    lost = source / only_later[0]

    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", STOP_ENV: "0"}  # SIGSTOP half-way in shard 0
    proc = subprocess.Popen([sys.executable, "audiosetmix.py", *build_args(source, out)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_stopped(proc, out / ".audiosetmix" / "test-fault-0")
        saved = lost.read_bytes()  # the scan read it; shard 1 has not: take it away under the running build
        if damage == "deleted":
            lost.unlink()
        else:
            lost.write_bytes(b"not audio at all" * 64)
        os.kill(proc.pid, signal.SIGCONT)
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 2, stderr[-3000:]
    line = one_error(stderr)
    assert f"source file {lost.name} can no longer be read" in line and "the same command to resume" in line
    assert str(source) not in line  # named relative to the source folder
    assert sorted(p.name for p in (out / "data").glob("*.parquet")) == ["train-00000-of-00002.parquet"]

    lost.write_bytes(saved)  # restored: the same command resumes and the result is the reference, byte for byte
    assert main(build_args(source, out)) == 0
    for shard in sorted((reference / "data").glob("*.parquet")):
        assert (out / "data" / shard.name).read_bytes() == shard.read_bytes(), shard.name


def latin_folder(root: Path) -> Path:
    """Three files whose metadata.csv was saved by a Windows spreadsheet (cp1252: é is one byte, 0xe9)."""
    root.mkdir(parents=True, exist_ok=True)
    for j, name in enumerate(["a", "b", "c"]):
        tone_file(root / f"{name}.wav", j)
    (root / "metadata.csv").write_bytes("file_name,label\r\na.wav,Bell\r\nb.wav,Café bell\r\nc.wav,Gong\r\n".encode("cp1252"))
    return root


def small_build(source: Path, out: Path, *extra: str) -> int:
    return main(["build", "--output_dir", str(out), "--config", "folder", "--source_path", str(source), "--train", "3",
                 "--validation", "0", "--test", "0", "--split_strategy", "hash", "--audio_negatives", "0", *extra])


def test_metadata_that_is_not_utf8_is_one_line_and_leaves_no_folder_behind(tmp_path, capsys):
    source = latin_folder(tmp_path / "src")
    out = tmp_path / "new" / "out"
    assert small_build(source, out) == 2
    line = one_error(capsys.readouterr().err)
    assert "metadata.csv: line 3, column 10: byte 0xe9 is not UTF-8" in line and "--metadata_encoding" in line
    assert not (tmp_path / "new").exists()  # nothing was built: no new folder left behind (nor its .audiosetmix/)
    (tmp_path / "empty").mkdir()
    assert small_build(source, tmp_path / "empty") == 2
    assert list((tmp_path / "empty").iterdir()) == []  # a folder that was there stays, as empty as it was

    assert small_build(source, out, "--metadata_encoding", "cp1252") == 0
    assert "Café bell" in (out / "README.md").read_text(encoding="utf-8")  # the label as written, decoded right
    capsys.readouterr()
    assert small_build(source, tmp_path / "x", "--metadata_encoding", "klingon") == 2
    assert "unknown metadata encoding 'klingon'" in one_error(capsys.readouterr().err)


def test_a_build_that_stops_before_any_work_leaves_no_builder_cache(tmp_path, capsys):
    source = one_file_per_class(tmp_path / "src")
    out = tmp_path / "out"
    assert small_build(source, out, "--split_column", "fold") == 2  # no such column: stops at the scan
    assert "no split column 'fold'" in one_error(capsys.readouterr().err)
    assert not out.exists()
    assert small_build(source, out) == 0  # a build that did work keeps its state for the resume
    assert (out / ".audiosetmix" / "manifest.json").is_file()


@pytest.mark.slow
def test_show_render_and_stats_print_no_progress_bars(tmp_path):
    source = one_file_per_class(tmp_path / "src")
    out = tmp_path / "out"
    assert main(build_args(source, out)) == 0

    def run(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "audiosetmix.py", *argv], cwd=ROOT, capture_output=True, text=True,
                              timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
                                                "HF_DATASETS_CACHE": str(tmp_path / "hf-cache")})  # a first load

    bars = ("examples/s", "it/s", "%|")
    shown = run("show", "--dataset_dir", str(out), "--n", "1")
    missing = run("render", "--dataset_dir", str(out), "--id", "train-999", "--out", str(tmp_path / "x.wav"))
    rendered = run("render", "--dataset_dir", str(out), "--id", "train-1", "--out", str(tmp_path / "x.wav"),
                   "--source_root", str(source))
    stats = run("stats", "--dataset_dir", str(out), "--no_plots", "--output_dir", str(tmp_path / "stats"))
    assert shown.returncode == rendered.returncode == stats.returncode == 0, (shown.stderr, rendered.stderr, stats.stderr)
    assert missing.returncode == 2 and missing.stderr.strip().splitlines() == [one_error(missing.stderr)]
    for done in (shown, missing, rendered, stats):
        assert not any(bar in done.stdout + done.stderr for bar in bars), done.stdout + done.stderr


@pytest.mark.parametrize("flag", ["--dataset_dir", "--dataset"])
def test_every_command_takes_dataset_dir_and_dataset(flag):
    from audiosetmix_lib import cli
    from audiosetmix_lib.evaluation import evaluate_clap, objective_terms, probe_counterfactual, run_experiment
    from audiosetmix_lib.training.args import parse_args as train_args

    assert train_args([flag, "some/data", "--output_dir", "out"]).dataset == "some/data"
    assert evaluate_clap.parse_args(["--model", "m", flag, "some/data", "--output_dir", "o"]).dataset == "some/data"
    assert probe_counterfactual.parse_args(["--model", "m", flag, "some/data", "--output_dir", "o"]).dataset == "some/data"
    assert objective_terms.parse_args([flag, "some/data", "--models", "m"]).dataset == "some/data"
    assert run_experiment.parse_args(["--work_dir", "w", flag, "some/data"]).dataset == "some/data"
    for command in (["show"], ["stats"], ["audit"], ["render", "--id", "test-0", "--out", "x.wav"], ["push", "--repo_id", "r"]):
        assert cli.parser().parse_args([*command, flag, "some/data"]).dataset_dir == "some/data", command
