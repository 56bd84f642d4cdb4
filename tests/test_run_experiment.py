"""eval/run_experiment.py end to end on the tiny built dataset: every stage really runs (tokenizer,
an arm and an ablation point of 2 steps each, their evaluations) and the combined table pairs the runs;
every arm's command line is checked without running it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from audiosetmix_lib.evaluation import experiment_plan, experiment_report, stages

pytestmark = pytest.mark.slow  # end to end: deselect with -m "not slow"

RUN_SCRIPT = Path(__file__).resolve().parents[1] / "eval" / "run_experiment.py"


def test_run_experiment_end_to_end(tmp_path, tiny_dataset_dir):
    """`captions` and one point of the overlap ablation (`both` on its own build: text and audio
    negatives), 2 steps each, really trained and evaluated (every arm's command line:
    test_each_arm_trains_with_its_own_terms)."""
    work = tmp_path / "experiment"
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    cmd = [sys.executable, str(RUN_SCRIPT), "--work_dir", str(work), "--dataset", str(tiny_dataset_dir),
           "--steps", "2", "--batch_size", "4", "--num_workers", "0", "--bootstrap", "20", "--eval_batch_size", "8",
           "--overlap_probabilities", "0.5", "--ablation_steps", "1", "--train", "8", "--arms", "captions",
           "--model", "tiny-fast"]
    run = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    results = json.loads((work / "results.json").read_text())
    assert list(results["arms"]) == ["captions", "both@overlap0.5"]
    assert results["budget"] == {"steps": 2, "batch_size": 4, "samples_per_arm": 8, "ablation_steps": 1}
    commands = results["stage_commands"]
    assert "--max_steps 2 " in commands["train-captions"] and "--max_steps 1 " in commands["train-both@overlap0.5"]
    assert all("--audio_time_channel" in commands[f"train-{arm}"] for arm in results["arms"])
    assert all("--model tiny-fast " in commands[f"train-{arm}"] for arm in results["arms"])  # the cheap size: mechanics only
    assert "--hard_negative_weight 1.0 --audio_negative_weight 1.0" in commands["train-both@overlap0.5"]
    # the ablation trains on its own build and is tested on the main test split
    assert '{"overlap_probability": 0.5}' in commands["build-overlap0.5"] and "--test 0" in commands["build-overlap0.5"]
    assert str(work / "data-overlap0.5") in commands["train-both@overlap0.5"]
    assert str(tiny_dataset_dir) in commands["eval-both@overlap0.5"]

    pairs = results["arms"]["captions"]["metrics"]["modifier_accuracy"]["count"]
    diffs = results["paired_differences"]
    assert set(diffs) == {"both@overlap0.5 - captions"}
    for diff in diffs.values():
        kinds = [k for k in diff if ":" not in k and k != "all"]
        assert sum(diff[k]["raw"]["pairwise"]["count"] for k in kinds) == diff["all"]["raw"]["pairwise"]["count"] == pairs
        for cells in diff.values():  # every test pair, scored by both runs
            entry = cells["raw"]["pairwise"]
            assert entry["ci95"][0] <= entry["difference"] <= entry["ci95"][1]
        assert set(diff["all"]["corrected"]) == {"pairwise", "text", "audio", "group"}
    # per-direction accuracy, read from the negatives' `direction` field
    detail = results["arms"]["captions"]["metrics"]["modifier_accuracy_detail"]["per_kind"]
    assert any(k.startswith("modifier:") for k in detail) and any(k.startswith("relation:") for k in detail)
    for arm in results["arms"]:
        config = json.loads((work / "arms" / arm / "config.json").read_text())
        assert config["audio_config"]["patch_embed_input_channels"] == 2
    markdown = (work / "results.md").read_text()
    assert "audio time channel on" in markdown and "off for the first 50% of the steps" in markdown and "| order |" in markdown
    assert "both@overlap0.5 − captions" in markdown and "Wording bias" in markdown and "| modifier:" in markdown
    assert "## Text / audio / group score per run, bias-corrected" in markdown

    # a rerun with the same settings reuses every stage: tokenizer, ablation build, 2 trainings, 2 evaluations
    again = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0 and again.stdout.count("reusing") == 6, again.stdout[-2000:]


def test_each_arm_trains_with_its_own_terms():
    from audiosetmix_lib.evaluation import run_experiment as module

    args = module.parse_args(["--work_dir", "w", "--steps", "10", "--hard_negative_mode", "in_batch"])
    commands = {spec.name: " ".join(map(str, stages.train_command(args, Path("d"), Path("t"), spec, Path("o"))))
                for spec in experiment_plan.planned_runs(args)}
    assert list(commands) == ["labels", "captions", "text_neg", "audio_neg", "both"]
    assert all("--audio_time_channel" in c and "--max_steps 10 " in c for c in commands.values())
    assert "--caption_mode labels --hard_negative_weight 0 --audio_negative_weight 0" in commands["labels"]
    assert "--caption_mode caption --hard_negative_weight 0 --audio_negative_weight 0" in commands["captions"]
    assert "--hard_negative_weight 1.0 --audio_negative_weight 0" in commands["text_neg"]
    assert "--hard_negative_weight 0 --audio_negative_weight 1.0" in commands["audio_neg"]
    assert "--hard_negative_weight 1.0 --audio_negative_weight 1.0" in commands["both"]
    assert all("--hard_negative_mode in_batch" in commands[a] for a in ("text_neg", "both"))
    assert "--hard_negative_mode" not in commands["audio_neg"]
    # the negative terms start after half the steps; arms without negatives have no term to schedule
    for arm in ("text_neg", "audio_neg", "both"):
        assert "--hard_negative_start 0.5 --hard_negative_ramp 0.1" in commands[arm]
    assert not any("--hard_negative_start" in commands[arm] for arm in ("labels", "captions"))


def test_runs_per_seed_and_ablation_point_and_what_they_are_compared_with():
    from audiosetmix_lib.evaluation import run_experiment as module

    args = module.parse_args(["--work_dir", "w", "--arms", "captions,captions+negatives,both", "--seeds", "1,2",
                              "--overlap_probabilities", "0,1"])
    runs = experiment_plan.planned_runs(args)
    assert [r.name for r in runs] == ["captions", "captions@seed2", "text_neg", "text_neg@seed2", "both", "both@seed2",
                                      "both@overlap0", "both@overlap1"]
    pairs = experiment_plan.comparisons(runs)
    assert ("captions@seed2", "both@seed2") in pairs  # the same seed's captions run
    assert ("captions", "both@overlap0") in pairs and ("both", "both@overlap1") in pairs
    assert ("text_neg", "both") in pairs and ("captions", "both@seed2") not in pairs
    # the budget: the second seed for captions and both only
    args = module.parse_args(["--work_dir", "w", "--arms", "captions,both,text_neg,labels", "--seeds", "42,43",
                              "--seed_arms", "captions,both"])
    assert [r.name for r in experiment_plan.planned_runs(args)] == ["captions", "captions@seed43", "both", "both@seed43",
                                                           "text_neg", "labels"]
    with pytest.raises(SystemExit):
        module.parse_args(["--work_dir", "w", "--arms", "captions", "--seed_arms", "both"])


def test_the_gap_and_onset_ablation_changes_one_setting_per_build(tmp_path):
    from audiosetmix_lib.evaluation import run_experiment as module

    args = module.parse_args(["--work_dir", str(tmp_path), "--arms", "captions,both", "--ablation_steps", "7", "--build_num_proc", "2",
                              "--follow_gaps", "0:0.5, 1:2", "--overlap_onsets", "0.6:0.9", "--overlap_probabilities", "1"])
    runs = experiment_plan.planned_runs(args)
    assert [r.name for r in runs] == ["captions", "both", "both@overlap1", "both@gap0-0.5", "both@gap1-2",
                                      "both@onset0.6-0.9"]
    pairs = experiment_plan.comparisons(runs)
    # every point against captions and both; a gap point also against the first gap point (same budget)
    assert ("both@gap0-0.5", "both@gap1-2") in pairs and ("both", "both@onset0.6-0.9") in pairs
    assert ("captions", "both@gap1-2") in pairs and ("both@overlap1", "both@gap1-2") not in pairs

    # the build command of a point: train split only, the one setting in --mix, its own folder
    built = []

    def runner(name, cmd):
        built.append((name, [str(c) for c in cmd]))

    spec = runs[4]
    out = stages.build_dataset(args, tmp_path, runner, spec.point)
    name, cmd = built[0]
    assert name == "build-gap1-2" and out == tmp_path / "data-gap1-2"
    assert cmd[cmd.index("--mix") + 1] == '{"follow_gap": [1.0, 2.0]}'
    assert cmd[cmd.index("--test") + 1] == "0" and cmd[cmd.index("--validation") + 1] == "0"
    assert cmd[cmd.index("--num_proc") + 1] == "2"  # but not in the stamp: the shards do not depend on it
    assert "--num_proc" not in json.loads((tmp_path / "data-gap1-2.stamp.json").read_text())["command"]
    train = " ".join(map(str, stages.train_command(args, out, Path("t"), spec, Path("o"))))
    assert "--max_steps 7 " in train and "--hard_negative_weight 1.0 --audio_negative_weight 1.0" in train
    # 0:0.5 s is the gap every builder config uses (config.MixConfig): that point trains on the main build
    assert stages.build_dataset(args, tmp_path, runner, runs[3].point) == tmp_path / "data" and len(built) == 1


@pytest.mark.parametrize("flags", [["--follow_gaps", "1:0.5"], ["--follow_gaps", "0.5"], ["--overlap_onsets", "0.5:1.5"],
                                   ["--follow_gaps", "-1:0"], ["--overlap_probabilities", "2"], ["--follow_gaps", "a:b"],
                                   ["--follow_gaps", "1:12"]])
def test_an_impossible_ablation_point_is_refused_before_any_work(flags, tmp_path, capsys):
    from audiosetmix_lib.evaluation import run_experiment as module

    with pytest.raises(SystemExit):
        module.parse_args(["--work_dir", str(tmp_path), *flags])
    assert flags[0] in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_a_wording_bias_shows_as_a_gap_the_mean_hides():
    """Always 'loud': 1.0 where the clip is louder, 0.0 where it is quieter; mean 0.5, gap +1."""

    detail = {"per_kind": {"modifier:louder": {"accuracy": 1.0}, "modifier:quieter": {"accuracy": 0.0},
                           "modifier:faster": {"accuracy": 0.6}, "relation:follow": {"accuracy": 0.7}}}
    assert experiment_report.direction_accuracy(detail) == {"volume": (1.0, 0.0), "speed": (0.6, None)}
    assert experiment_report.direction_gaps(detail) == {"volume": 1.0}


def test_a_bad_hard_negative_schedule_stops_before_any_stage(tmp_path):
    cmd = [sys.executable, str(RUN_SCRIPT), "--work_dir", str(tmp_path / "w"), "--hard_negative_start", "0.95", "--hard_negative_ramp", "0.1"]
    run = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "--hard_negative_start must be in [0, 1)" in run.stderr
    assert not (tmp_path / "w").exists()
