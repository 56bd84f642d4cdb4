"""The experiment's stage reuse on a work dir laid out as real runs leave it: a finished run is found by
its settings whatever its folder, never deleted, and re-evaluated (not retrained) when the scoring code changes."""

from __future__ import annotations

import json
from pathlib import Path

from audiosetmix_lib.evaluation import metric_modules, run_experiment, stages
from audiosetmix_lib.evaluation.experiment_plan import planned_runs


class Recorder:
    """Stands in for the stage runner: records what would run, and writes what a finished run leaves."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    def __call__(self, name: str, cmd: list) -> None:
        cmd = [str(c) for c in cmd]
        self.calls.append((name, cmd))
        out = Path(cmd[cmd.index("--output_dir") + 1])
        out.mkdir(parents=True, exist_ok=True)
        if name.startswith("train-"):
            (out / "model.safetensors").write_bytes(b"weights of " + name.encode())
        if name.startswith("eval-"):
            (out / "metrics.json").write_text(json.dumps({"evaluated_by": name}))


def per_seed_work_dir(tmp_path: Path, seeds: list[int]) -> tuple[Path, Recorder]:
    """The layout of one `--seeds S` command per seed, each finished, with the old code's leftovers
    set aside as the new code does (arms/captions holds the last seed)."""
    work = tmp_path / "work"
    (work / "data").mkdir(parents=True)
    runner = Recorder()
    for seed in seeds:
        args = run_experiment.parse_args(["--work_dir", str(work), "--dataset", str(work / "data"), "--arms", "captions",
                                          "--seeds", str(seed), "--steps", "3"])
        (spec,) = planned_runs(args)
        stages.train_arm(args, work, work / "data", work / "tokenizer", spec, runner)
    return work, runner


def test_a_run_trained_under_another_name_is_found_and_a_finished_one_is_never_deleted(tmp_path):
    work, runner = per_seed_work_dir(tmp_path, [42, 43])
    assert [name for name, _ in runner.calls] == ["train-captions", "train-captions"]
    assert (work / "arms" / "captions~1" / "model.safetensors").read_bytes() == b"weights of train-captions"
    # the seed-42 run, moved aside, keeps its stamp: seed 42
    aside = json.loads((work / "arms" / "captions~1" / "experiment.stamp.json").read_text())["command"]
    assert aside[aside.index("--seed") + 1] == "42"

    args = run_experiment.parse_args(["--work_dir", str(work), "--dataset", str(work / "data"), "--arms", "captions",
                                      "--seeds", "42,43", "--steps", "3"])
    again = Recorder()
    found = {spec.name: stages.train_arm(args, work, work / "data", work / "tokenizer", spec, again) for spec in planned_runs(args)}
    assert again.calls == []  # nothing retrained
    assert found == {"captions": work / "arms" / "captions~1", "captions@seed43": work / "arms" / "captions"}


def test_an_unfinished_run_with_other_settings_is_replaced_and_one_with_the_same_resumes(tmp_path):
    work = tmp_path / "work"
    args = run_experiment.parse_args(["--work_dir", str(work), "--dataset", str(work / "data"), "--arms", "captions", "--steps", "3"])
    (spec,) = planned_runs(args)
    partial = work / "arms" / "captions"
    (partial / "checkpoint-1").mkdir(parents=True)
    (partial / "experiment.stamp.json").write_text(json.dumps({"command": ["other"]}))
    runner = Recorder()
    stages.train_arm(args, work, work / "data", work / "tokenizer", spec, runner)
    assert not (partial / "checkpoint-1").exists() and "--resume_from_checkpoint" not in runner.calls[0][1]
    (partial / "model.safetensors").unlink()
    (partial / "checkpoint-2").mkdir()
    stages.train_arm(args, work, work / "data", work / "tokenizer", spec, runner)
    assert runner.calls[1][1][-2:] == ["--resume_from_checkpoint", "latest"]


def test_the_evaluation_is_redone_when_the_scoring_code_changes_and_reused_otherwise(tmp_path, monkeypatch):
    work, _ = per_seed_work_dir(tmp_path, [42])
    args = run_experiment.parse_args(["--work_dir", str(work), "--dataset", str(work / "data"), "--arms", "captions", "--steps", "3"])
    runner = Recorder()
    model = work / "arms" / "captions"
    stages.evaluate_arm(args, work / "data", model, "captions", runner)
    stages.evaluate_arm(args, work / "data", model, "captions", runner)
    assert [name for name, _ in runner.calls] == ["eval-captions"]
    monkeypatch.setattr(stages, "scoring_fingerprint", lambda: "new scores")
    stages.evaluate_arm(args, work / "data", model, "captions", runner)
    assert [name for name, _ in runner.calls] == ["eval-captions", "eval-captions"]
    assert (model / "model.safetensors").read_bytes() == b"weights of train-captions"


def test_the_scoring_fingerprint_follows_the_scoring_code(tmp_path, monkeypatch):
    before = metric_modules.scoring_fingerprint()
    assert before == metric_modules.scoring_fingerprint() and len(before) == 16
    monkeypatch.setattr(metric_modules, "SCORING_SOURCES", metric_modules.SCORING_SOURCES[:-1])
    assert metric_modules.scoring_fingerprint() != before


def test_the_stages_start_package_modules_not_checkout_files(tmp_path):
    """What an installed wheel can run: `python -m audiosetmix_lib....`, never a path into a checkout."""
    for stage, module in stages.ENTRY_MODULES.items():
        cmd = stages.entry(stage)
        assert cmd[1:] == ["-m", module]
        __import__(module)


def evaluated_run(folder: Path, wins: list[bool], quad_wins: list[bool]) -> dict:
    """An evaluation folder as evaluate_clap leaves it: pairs file (order pairs: won or lost raw and
    corrected; quadruples: text, audio and group won or lost together) and the metrics the report reads."""
    (folder / "eval").mkdir(parents=True)
    with open(folder / "eval" / "modifier_pairs.jsonl", "w") as f:
        for i, (win, quad) in enumerate(zip(wins, quad_wins, strict=True)):
            x_c, x_n = (1.0, 0.0) if win else (0.0, 1.0)
            cf_c, cf_n = (0.0, 1.0) if quad else (1.0, 0.0)
            f.write(json.dumps({"id": f"test-{i}", "kind": "order", "detail": "order", "negative": f"n{i}", "score_true": x_c,
                                "score_negative": x_n, "prior_true": 0.0, "prior_negative": 0.0, "prior_clip": 0.0,
                                "cf_true": cf_c, "cf_negative": cf_n, "prior_cf": 0.0}) + "\n")
    retrieval = {"R@1": 0.1, "R@5": 0.5, "R@10": 0.9, "mAP@10": 0.3, "median_rank": 5.0}
    return {"meta": {"num_audio": len(wins)}, "retrieval": {"text_to_audio": retrieval, "audio_to_text": retrieval}}


def test_the_report_gives_the_seed_level_answer_with_its_detectable_difference(tmp_path):
    """both - captions at seeds 42 and 43: +2 and +4 wins of 10 on the pairwise score, so +0.3 seed-averaged."""
    from audiosetmix_lib.evaluation.experiment_report import Experiment, write_results

    args = run_experiment.parse_args(["--work_dir", str(tmp_path), "--arms", "captions,both", "--seeds", "42,43",
                                      "--steps", "3", "--bootstrap", "200"])
    runs = planned_runs(args)
    wins = {"captions": [True] * 4 + [False] * 6, "captions@seed43": [True] * 2 + [False] * 8,
            "both": [True] * 6 + [False] * 4, "both@seed43": [True] * 6 + [False] * 4}
    dirs = {r.name: tmp_path / "arms" / r.name for r in runs}
    metrics = {name: evaluated_run(dirs[name], wins[name], wins[name]) for name in dirs}
    results = write_results(Experiment(args, [], tmp_path, tmp_path / "data", runs, dirs, metrics, {}, {}))
    answer = results["seed_level"]["both - captions"]
    assert answer["runs"] == [("captions", "both"), ("captions@seed43", "both@seed43")]
    pairwise = answer["difference"]["order"]["raw"]["pairwise"]
    assert pairwise["difference"] == 0.3 and pairwise["per_seed"] == [0.2, 0.4] and pairwise["seeds"] == 2
    assert pairwise["detectable"] > 0 and answer["difference"]["order"]["corrected"]["group"]["difference"] == 0.3
    markdown = (tmp_path / "results.md").read_text()
    assert "## Seed-level answer: both − captions, averaged over 2 training seed(s)" in markdown
    assert f"| order | +0.300 [{pairwise['ci95'][0]:+.2f}, {pairwise['ci95'][1]:+.2f}]" in markdown
    assert "both@seed43 − captions@seed43" in markdown


def test_a_run_stamped_before_the_dataset_flag_was_renamed_is_reused(tmp_path):
    """Runs started as `--dataset D` (before `--dataset_dir`) are the same runs: not retrained, not set aside."""
    work, _ = per_seed_work_dir(tmp_path, [42])
    stamp_path = work / "arms" / "captions" / "experiment.stamp.json"
    old = stamp_path.read_text().replace('"--dataset_dir"', '"--dataset"')
    assert '"--dataset"' in old
    stamp_path.write_text(old)
    args = run_experiment.parse_args(["--work_dir", str(work), "--dataset_dir", str(work / "data"), "--arms", "captions", "--steps", "3"])
    runner = Recorder()
    (spec,) = planned_runs(args)
    assert stages.train_arm(args, work, work / "data", work / "tokenizer", spec, runner) == work / "arms" / "captions"
    assert runner.calls == [] and not (work / "arms" / "captions~1").exists()
