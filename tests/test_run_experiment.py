"""eval/run_experiment.py end to end on the tiny built dataset: every stage really runs (tokenizer,
three arms of 2 steps, three evaluations) and the combined table pairs the arms."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # end to end: deselect with -m "not slow"

RUN_SCRIPT = Path(__file__).resolve().parents[1] / "eval" / "run_experiment.py"


def test_run_experiment_end_to_end(tmp_path, tiny_dataset_dir):
    work = tmp_path / "experiment"
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    cmd = [sys.executable, str(RUN_SCRIPT), "--work_dir", str(work), "--dataset", str(tiny_dataset_dir),
           "--steps", "2", "--batch_size", "4", "--num_workers", "0", "--bootstrap", "20", "--eval_batch_size", "8"]
    run = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    results = json.loads((work / "results.json").read_text())
    assert set(results["arms"]) == {"labels", "captions", "captions+negatives"}
    assert results["budget"] == {"steps": 2, "batch_size": 4, "samples_per_arm": 8}
    commands = results["stage_commands"]
    assert all("--audio_time_channel" in commands[f"train-{arm}"] for arm in results["arms"])
    assert "--caption_mode labels --hard_negative_weight 0" in commands["train-labels"]
    assert "--hard_negative_weight 1.0" in commands["train-captions+negatives"]
    # the hard-negative term of arm (c) starts after half the steps; arms (a) and (b) have no term to schedule
    assert "--hard_negative_start 0.5 --hard_negative_ramp 0.1" in commands["train-captions+negatives"]
    assert not any("--hard_negative_start" in commands[f"train-{arm}"] for arm in ("labels", "captions"))
    pairs = results["arms"]["labels"]["metrics"]["modifier_accuracy"]["count"]
    diff = results["paired_differences"]["c_minus_a"]
    assert sum(v["count"] for k, v in diff.items() if ":" not in k) == pairs  # every test pair, scored by both arms
    for entry in diff.values():
        assert entry["ci95"][0] <= entry["difference"] <= entry["ci95"][1]
    for arm in results["arms"]:
        config = json.loads((work / "arms" / arm / "config.json").read_text())
        assert config["audio_config"]["patch_embed_input_channels"] == 2
    markdown = (work / "results.md").read_text()
    assert "audio time channel on" in markdown and "off for the first 50% of the steps" in markdown and "| order |" in markdown and "(c) − (a)" in markdown

    # a rerun with the same settings reuses every stage
    again = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and again.stdout.count("reusing") == 7, again.stdout[-2000:]


def test_a_bad_hard_negative_schedule_stops_before_any_stage(tmp_path):
    cmd = [sys.executable, str(RUN_SCRIPT), "--work_dir", str(tmp_path / "w"), "--hard_negative_start", "0.95", "--hard_negative_ramp", "0.1"]
    run = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "--hard_negative_start must be in [0, 1)" in run.stderr
    assert not (tmp_path / "w").exists()
