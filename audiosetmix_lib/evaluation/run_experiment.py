"""The experiment: does AudioSetMix (captions with modifiers + hard negatives) teach a CLAP model the modifiers?

    python eval/run_experiment.py --work_dir output/experiment              # synth source, ~1.5-2 h on 2 CPU cores
    python eval/run_experiment.py --work_dir output/experiment-esc10 \\
        --source folder --source_path ../shared/data/esc10                  # real audio: ESC-10, folds 1-4 / 5

One command, five stages, each reused when its output already exists with the same settings:

1. build the dataset (default: the `synth-small` config, 2,000 / 250 / 250 rows at 16 kHz;
   the training and evaluation code resample to CLAP's 48 kHz);
2. train one shared tiny tokenizer on the build's captions, negatives and label captions
   (`train_clap.py --model tiny --tokenizer_only`);
3. train the tiny CLAP three ways, same audio, same seed, same steps x batch:
   (a) `labels`              --caption_mode labels  --hard_negative_weight 0
   (b) `captions`            --caption_mode caption --hard_negative_weight 0
   (c) `captions+negatives`  --caption_mode caption --hard_negative_weight W (default 1),
                             off for the first half of the steps, ramped in over the next 10 %
                             (--hard_negative_start 0.5 --hard_negative_ramp 0.1: from step 0 the
                             term stalls training, docs/experiment.md);
   every arm with --audio_time_channel (the tiny audio encoder sees each frame's time;
   --no-audio_time_channel for the stock encoder);
4. evaluate each on the same test split with `eval/evaluate_clap.py` (retrieval both ways,
   modifier accuracy per negative kind with bootstrap CIs, zero-shot when asked);
5. write `results.json` and `results.md` in --work_dir: the three arms side by side, plus the
   paired bootstrap CI of (c) - (a) per kind (the same test pairs score in every arm).

The budget is steps x batch (default 1250 x 32 = 40,000 samples per arm: docs/training.md's
calibration), never wall time. With `--source folder` and a folder whose metadata.csv has a
`fold` column, the split defaults to the ESC-50 protocol (folds 1-3 train, 4 validation,
5 test) and zero-shot classification runs on fold 5 of the same folder.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ..retrieval import paired_bootstrap_ci
from ..training.args import check_hard_negative_schedule
from .errors import EvaluationError

REPO = Path(__file__).resolve().parents[2]  # the experiment runs the repository's scripts
EVAL_SCRIPT = REPO / "eval" / "evaluate_clap.py"
TRAIN_SCRIPT = REPO / "train_clap.py"
BUILD_SCRIPT = REPO / "audiosetmix.py"
ESC_SPLIT_MAP = {"1": "train", "2": "train", "3": "train", "4": "validation", "5": "test"}
ARMS = {
    "labels": {"letter": "a", "caption_mode": "labels", "negatives": False,
               "title": "(a) label-only captions"},
    "captions": {"letter": "b", "caption_mode": "caption", "negatives": False,
                 "title": "(b) AudioSetMix captions, no negatives"},
    "captions+negatives": {"letter": "c", "caption_mode": "caption", "negatives": True,
                           "title": "(c) AudioSetMix captions + hard negatives"},
}
CLAIM_KINDS = ("modifier", "order", "relation")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--work_dir", required=True, help="everything goes here: data/, tokenizer/, arms/<arm>/, results.*")
    g = p.add_argument_group("budget (the same for every arm)")
    g.add_argument("--steps", type=int, default=1250, help="optimizer steps per arm")
    g.add_argument("--batch_size", type=int, default=32, help="training batch (in-batch negatives)")
    g.add_argument("--seed", type=int, default=42, help="training seed (data order, init), the same for every arm")
    g.add_argument("--hard_negative_weight", type=float, default=1.0, help="weight of the hard-negative term in arm (c)")
    g.add_argument("--hard_negative_start", type=float, default=0.5,
                   help="arm (c): share of the steps before the hard-negative term switches on (train_clap.py); "
                        "0 = from the first step, which stalls the tiny model (docs/experiment.md)")
    g.add_argument("--hard_negative_ramp", type=float, default=0.1,
                   help="arm (c): share of the steps over which the term then rises to its weight")
    g.add_argument("--learning_rate", type=float, help="default: train_clap.py's (5e-4 for the tiny model)")
    g.add_argument("--audio_time_channel", action=argparse.BooleanOptionalAction, default=True,
                   help="give the tiny audio encoder a time channel (train_clap.py --audio_time_channel); without it "
                        "the encoder cannot tell 'A then B' from 'B then A' (docs/experiment.md)")
    g = p.add_argument_group("data")
    g.add_argument("--dataset", help="use this built dataset as is (skip the build)")
    g.add_argument("--source", choices=["synth", "folder"], default="synth")
    g.add_argument("--source_path", help="folder source: the audiofolder-layout directory (e.g. ../shared/data/esc10)")
    g.add_argument("--split_column", help="folder source: metadata column naming each clip's split (default: fold, if present)")
    g.add_argument("--split_map", help="folder source: JSON map column value -> split (default with a fold column: "
                                        "folds 1-3 train, 4 validation, 5 test)")
    g.add_argument("--train", type=int, help="training rows to build (default: the config's, 2000)")
    g.add_argument("--validation", type=int, help="validation rows to build (default 250)")
    g.add_argument("--test", type=int, help="test rows to build (default 250)")
    g.add_argument("--data_seed", type=int, default=0, help="seed of the build")
    g = p.add_argument_group("running")
    g.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated subset of {', '.join(ARMS)}")
    g.add_argument("--nice", type=int, default=0, help="run the stages under `nice -n N` (shared machines)")
    g.add_argument("--num_workers", type=int, help="DataLoader workers of train_clap.py (default: its own, 2)")
    g.add_argument("--eval_batch_size", type=int, default=32)
    g.add_argument("--zero_shot_dataset", help="audiofolder for zero-shot accuracy (folder source with folds: the source, fold 5)")
    g.add_argument("--zero_shot_where", help="e.g. fold=5")
    g.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the confidence intervals")
    g.add_argument("--force", action="store_true", help="rebuild, retrain and re-evaluate everything")
    g.add_argument("--label", default="", help="a note for the report, e.g. 'PILOT (1,500 samples per arm)'")
    args = p.parse_args(argv)
    unknown = [a for a in args.arms.split(",") if a not in ARMS]
    if unknown:
        p.error(f"unknown arms {unknown}; choose from {list(ARMS)}")
    if args.source == "folder" and not (args.source_path or args.dataset):
        p.error("--source folder needs --source_path")
    if args.steps < 1 or args.batch_size < 2:
        p.error("--steps must be >= 1 and --batch_size >= 2")

    try:
        check_hard_negative_schedule(args.hard_negative_start, args.hard_negative_ramp)
    except ValueError as error:
        p.error(str(error))
    return args


# ---------------------------------------------------------------- stages


class Runner:
    """Runs the stage commands (niced), logs each to work_dir/logs/<name>.log, records wall times."""

    def __init__(self, work_dir: Path, nice: int) -> None:
        self.logs = work_dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.nice = nice
        # wall times and commands of every stage, kept across runs (a rerun that reuses a stage keeps its numbers)
        self.record = work_dir / "stages.json"
        saved = _read_json(self.record) or {}
        self.times: dict[str, float] = saved.get("seconds", {})
        self.commands: dict[str, str] = saved.get("commands", {})

    def __call__(self, name: str, cmd: list[str]) -> None:
        shown = " ".join(shlex.quote(str(c)) for c in cmd)
        self.commands[name] = shown
        print(f"[experiment] {name}: {shown}", flush=True)
        started = time.time()
        env = dict(os.environ, PYTHONUNBUFFERED="1", MPLBACKEND="Agg")
        log_path = self.logs / f"{name}.log"
        with open(log_path, "w") as log:
            proc = subprocess.run([str(c) for c in cmd], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  preexec_fn=(lambda: os.nice(self.nice)) if self.nice else None)
        self.times[name] = round(time.time() - started, 1)
        self.record.write_text(json.dumps({"seconds": self.times, "commands": self.commands}, indent=2) + "\n")
        if proc.returncode != 0:
            tail = "".join(log_path.read_text(errors="replace").splitlines(keepends=True)[-40:])
            raise EvaluationError(f"[experiment] {name} failed (exit {proc.returncode}); log {log_path}:\n{tail}")
        print(f"[experiment] {name}: done in {self.times[name]:.0f} s (log {log_path})", flush=True)


def _stamp_matches(path: Path, stamp: dict) -> bool:
    try:
        return json.loads(path.read_text()) == stamp
    except (OSError, ValueError):
        return False


def _folder_defaults(args) -> None:
    """ESC-50-style folds: fold 5 is the test split and the zero-shot set, unless told otherwise."""
    if args.source != "folder" or not args.source_path:
        return
    metadata = Path(args.source_path) / "metadata.csv"
    columns = []
    if metadata.is_file():
        with open(metadata, newline="") as f:
            columns = next(csv.reader(f), [])
    if "fold" in columns and not args.split_column:
        args.split_column = "fold"
        args.split_map = args.split_map or json.dumps(ESC_SPLIT_MAP)
        print(f"[experiment] folder source with folds: --split_column fold --split_map '{args.split_map}'", flush=True)
    if "fold" in columns and not args.zero_shot_dataset:
        args.zero_shot_dataset = str(Path(args.source_path).resolve())
        args.zero_shot_where = args.zero_shot_where or "fold=5"


def build_dataset(args, work: Path, run: Runner) -> Path:
    if args.dataset:
        return Path(args.dataset).resolve()
    out = work / "data"
    cmd = [sys.executable, BUILD_SCRIPT, "build", "--output_dir", out, "--seed", args.data_seed]
    if args.source == "folder":
        cmd += ["--config", "folder", "--source", "folder", "--source_path", Path(args.source_path).resolve()]
        if args.split_column:
            cmd += ["--split_column", args.split_column]
        if args.split_map:
            cmd += ["--split_map", args.split_map]
    else:
        cmd += ["--config", "synth-small"]
    for split in ("train", "validation", "test"):
        if getattr(args, split) is not None:
            cmd += [f"--{split}", getattr(args, split)]
    stamp = {"command": [str(c) for c in cmd[2:]]}
    stamp_path = work / "data.stamp.json"
    if not args.force and (out / "README.md").is_file() and _stamp_matches(stamp_path, stamp):
        print(f"[experiment] reusing the dataset in {out}", flush=True)
        return out
    run("build", cmd)
    stamp_path.write_text(json.dumps(stamp, indent=2) + "\n")
    return out


def train_tokenizer(args, work: Path, dataset: Path, run: Runner) -> Path:
    out = work / "tokenizer"
    cmd = [sys.executable, TRAIN_SCRIPT, "--model", "tiny", "--tokenizer_only", "--dataset", dataset, "--output_dir", out,
           "--report_to", "none"]
    stamp = {"command": [str(c) for c in cmd[2:]], "dataset_stamp": _read_json(work / "data.stamp.json")}
    stamp_path = work / "tokenizer.stamp.json"
    if not args.force and (out / "tokenizer.json").is_file() and _stamp_matches(stamp_path, stamp):
        print(f"[experiment] reusing the tokenizer in {out}", flush=True)
        return out
    run("tokenizer", cmd)
    stamp_path.write_text(json.dumps(stamp, indent=2) + "\n")
    return out


def train_arm(args, work: Path, dataset: Path, tokenizer: Path, arm: str, run: Runner) -> Path:
    spec = ARMS[arm]
    out = work / "arms" / arm
    cmd = [sys.executable, TRAIN_SCRIPT, "--model", "tiny", "--tokenizer", tokenizer, "--dataset", dataset,
           "--output_dir", out, "--caption_mode", spec["caption_mode"],
           "--hard_negative_weight", args.hard_negative_weight if spec["negatives"] else 0,
           "--max_steps", args.steps, "--per_device_train_batch_size", args.batch_size, "--seed", args.seed,
           "--validation_split", "", "--eval_steps", 0, "--checkpointing_steps", max(100, args.steps // 4),
           "--save_total_limit", 1, "--report_to", "none", "--logging_steps", max(1, min(50, args.steps // 20))]
    if spec["negatives"]:
        cmd += ["--hard_negative_start", args.hard_negative_start, "--hard_negative_ramp", args.hard_negative_ramp]
    if args.learning_rate is not None:
        cmd += ["--learning_rate", args.learning_rate]
    if args.audio_time_channel:
        cmd += ["--audio_time_channel"]
    if args.num_workers is not None:
        cmd += ["--dataloader_num_workers", args.num_workers]
    stamp = {"command": [str(c) for c in cmd[2:]], "tokenizer_stamp": _read_json(work / "tokenizer.stamp.json")}
    stamp_path = out / "experiment.stamp.json"
    same = not args.force and _stamp_matches(stamp_path, stamp)
    if same and (out / "model.safetensors").is_file():  # the final model is saved last
        print(f"[experiment] reusing arm {arm} in {out}", flush=True)
        return out
    if same and any(out.glob("checkpoint-*")):
        cmd += ["--resume_from_checkpoint", "latest"]  # an interrupted run with the same settings
    elif out.exists():
        shutil.rmtree(out)  # other settings: start clean
    out.mkdir(parents=True, exist_ok=True)
    stamp_path.write_text(json.dumps(stamp, indent=2) + "\n")
    run(f"train-{arm}", cmd)
    return out


def evaluate_arm(args, dataset: Path, model_dir: Path, arm: str, run: Runner) -> dict:
    out = model_dir / "eval"
    cmd = [sys.executable, EVAL_SCRIPT, "--model", model_dir, "--dataset", dataset, "--split", "test",
           "--output_dir", out, "--batch_size", args.eval_batch_size, "--bootstrap", args.bootstrap]
    if args.zero_shot_dataset:
        cmd += ["--zero_shot_dataset", Path(args.zero_shot_dataset).resolve()]
        if args.zero_shot_where:
            cmd += ["--zero_shot_where", args.zero_shot_where]
    metrics_path = out / "metrics.json"
    stamp = {"command": [str(c) for c in cmd[2:]], "model_mtime": (model_dir / "model.safetensors").stat().st_mtime}
    stamp_path = out / "experiment.stamp.json"
    if args.force or not metrics_path.is_file() or not _stamp_matches(stamp_path, stamp):
        run(f"eval-{arm}", cmd)
        stamp_path.write_text(json.dumps(stamp, indent=2) + "\n")
    else:
        print(f"[experiment] reusing the evaluation of arm {arm}", flush=True)
    return json.loads(metrics_path.read_text())


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------- the combined table


def _pairs(model_dir: Path) -> dict[tuple[str, str, str], bool]:
    """(row id, kind detail, negative caption) -> did the true caption win?"""
    pairs = {}
    with open(model_dir / "eval" / "modifier_pairs.jsonl") as f:
        for line in f:
            p = json.loads(line)
            pairs[(p["id"], p["detail"], p["negative"])] = p["score_true"] > p["score_negative"]
    return pairs


def paired_differences(arm_dirs: dict[str, Path], base: str, other: str, n_resamples: int, seed: int) -> dict:
    """Per kind (and detail): accuracy(other) - accuracy(base) with a paired bootstrap 95% CI over the shared pairs."""

    a, b = _pairs(arm_dirs[base]), _pairs(arm_dirs[other])
    keys = sorted(set(a) & set(b))
    groups: dict[str, list] = {}
    for key in keys:
        detail = key[1]
        groups.setdefault(detail.split(":")[0], []).append(key)
        if ":" in detail:
            groups.setdefault(detail, []).append(key)
    out = {}
    for group, members in sorted(groups.items()):
        xa = [float(a[k]) for k in members]
        xb = [float(b[k]) for k in members]
        lo, hi = paired_bootstrap_ci(xa, xb, n_resamples=n_resamples, seed=seed)
        out[group] = {"difference": sum(xb) / len(xb) - sum(xa) / len(xa), "ci95": [lo, hi], "count": len(members)}
    return out


def machine_info() -> dict:
    import torch

    info = {"platform": platform.platform(), "python": platform.python_version(), "cpu_count": os.cpu_count(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "cuda": torch.cuda.is_available()}
    try:
        info["cpu"] = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        info["cpu"] = platform.processor()
    if info["cuda"]:
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _f(x) -> str:
    return "–" if x is None else f"{x:.3f}"


def _cell(entry) -> str:
    if not entry:
        return "–"
    return f"{entry['accuracy']:.3f} [{entry['ci95'][0]:.2f}, {entry['ci95'][1]:.2f}]"


def _diff_cell(entry) -> str:
    if not entry:
        return "–"
    lo, hi = entry["ci95"]
    mark = " ✓" if lo > 0 else " ✗" if hi < 0 else ""
    return f"{entry['difference']:+.3f} [{lo:+.2f}, {hi:+.2f}]{mark}"


def write_results(args, work: Path, dataset: Path, arms: dict[str, dict], arm_dirs: dict[str, Path], run: Runner, argv) -> dict:
    diffs = {}
    if "labels" in arms and "captions+negatives" in arms:
        diffs["c_minus_a"] = paired_differences(arm_dirs, "labels", "captions+negatives", args.bootstrap, 0)
    if "captions" in arms and "captions+negatives" in arms:
        diffs["c_minus_b"] = paired_differences(arm_dirs, "captions", "captions+negatives", args.bootstrap, 0)
    command = "python eval/run_experiment.py " + " ".join(shlex.quote(a) for a in argv)
    results = {
        "label": args.label,
        "command": command,
        "budget": {"steps": args.steps, "batch_size": args.batch_size, "samples_per_arm": args.steps * args.batch_size},
        "seeds": {"training": args.seed, "build": args.data_seed, "bootstrap": 0},
        "dataset": str(dataset),
        "machine": machine_info(),
        "stage_seconds": run.times,
        "stage_commands": run.commands,
        "arms": {arm: {"title": ARMS[arm]["title"], "model": str(arm_dirs[arm]), "metrics": m} for arm, m in arms.items()},
        "paired_differences": diffs,
    }
    (work / "results.json").write_text(json.dumps(results, indent=2) + "\n")

    names = list(arms)
    letters = {arm: f"({ARMS[arm]['letter']})" for arm in names}
    any_metrics = next(iter(arms.values()))
    meta = any_metrics["meta"]
    m = results["machine"]
    lines = [f"# AudioSetMix experiment{': ' + args.label if args.label else ''}", "",
             f"Command: `{command}`", "",
             f"- budget: {args.steps} steps x batch {args.batch_size} = {args.steps * args.batch_size:,} training samples per arm; "
             f"training seed {args.seed}, build seed {args.data_seed}, bootstrap seed 0 ({args.bootstrap} resamples)",
             f"- data: `{dataset}`; test split {meta['num_audio']} clips, "
             f"{any_metrics.get('modifier_accuracy', {}).get('count', 0)} (clip, hard negative) pairs",
             f"- model: tiny CLAP, audio time channel {'on' if args.audio_time_channel else 'off'}; "
             f"hard-negative weight {args.hard_negative_weight} in arm (c), off for the first "
             f"{args.hard_negative_start:.0%} of the steps, then ramped in over {args.hard_negative_ramp:.0%}",
             f"- machine: {m.get('gpu') or m['cpu']} ({m['cpu_count']} CPUs, torch {m['torch']}, {m['torch_threads']} threads)",
             "- stage wall times (s): " + (", ".join(f"{k} {v:.0f}" for k, v in run.times.items()) or "not recorded"), ""]
    for arm in names:
        lines.append(f"- {ARMS[arm]['title']}: `{arm_dirs[arm]}`")
    lines += ["", "## Retrieval (test split)", "",
              "| arm | T→A R@1 | R@5 | R@10 | mAP@10 | med. rank | A→T R@1 | R@5 | R@10 | mAP@10 | med. rank |",
              "|---|" + "---:|" * 10]
    for arm in names:
        r = arms[arm]["retrieval"]
        cells = []
        for direction in ("text_to_audio", "audio_to_text"):
            d = r[direction]
            cells += [_f(d["R@1"]), _f(d["R@5"]), _f(d["R@10"]), _f(d["mAP@10"]), f"{d['median_rank']:.1f}"]
        lines.append(f"| {letters[arm]} {arm} | " + " | ".join(cells) + " |")

    def kind_table(title: str, key: str, refined: bool):
        kinds = sorted({k for arm in names for k in arms[arm].get(key, {}).get("per_kind", {}) if (":" in k) == refined})
        if not kinds:
            return []
        head = "| kind | n | " + " | ".join(f"{letters[a]} {a}" for a in names)
        sep = "|---|---:|" + "---:|" * len(names)
        if "c_minus_a" in diffs:
            head += " | (c) − (a), paired 95% CI"
            sep += "---:|"
        out = ["", title, "", head + " |", sep]
        for kind in kinds:
            entries = [arms[a].get(key, {}).get("per_kind", {}).get(kind) for a in names]
            n = next((e["count"] for e in entries if e), 0)
            row = f"| {kind} | {n} | " + " | ".join(_cell(e) for e in entries)
            if "c_minus_a" in diffs:
                row += " | " + _diff_cell(diffs["c_minus_a"].get(kind))
            out.append(row + " |")
        return out

    lines += kind_table("## Modifier accuracy per negative kind (pairwise, chance 0.5, ties miss; bootstrap 95% CI)",
                        "modifier_accuracy", refined=False)
    lines += kind_table("### Per transform + direction (`modifier:louder`: the clip has a louder event, the negative "
                        "says quieter) and per true relation", "modifier_accuracy_detail", refined=True)
    overall = [arms[a].get("modifier_accuracy") for a in names]
    if all(overall):
        lines += ["", "All pairs: " + ", ".join(f"{letters[a]} {_cell(e)}" for a, e in zip(names, overall))]
    if any("zero_shot" in arms[a] for a in names):
        z = next(arms[a]["zero_shot"] for a in names if "zero_shot" in arms[a])
        lines += ["", f"## Zero-shot classification (`{z['dataset']}`{', ' + z['where'] if z.get('where') else ''}; "
                      f"{z['num_clips']} clips, {z['num_classes']} classes, chance {z['chance']:.3f})", "",
                  "| arm | " + " | ".join(z["by_prompt"]) + " |", "|---|" + "---:|" * len(z["by_prompt"])]
        for a in names:
            zs = arms[a].get("zero_shot")
            if zs:
                lines.append(f"| {letters[a]} {a} | " + " | ".join(_f(zs["by_prompt"][p]["accuracy"]) for p in z["by_prompt"]) + " |")
    lines += ["", "✓ / ✗: the paired 95% CI of (c) − (a) lies above / below 0. The claim concerns the "
                  f"{', '.join(CLAIM_KINDS)} kinds; `event`, `missing` and `extra` are reported but a label-only "
                  "model can already score well on them.", ""]
    (work / "results.md").write_text("\n".join(lines))
    return results


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if not TRAIN_SCRIPT.is_file():
        raise EvaluationError(f"{TRAIN_SCRIPT} is missing")
    work = Path(args.work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    _folder_defaults(args)
    run = Runner(work, args.nice)
    started = time.time()
    dataset = build_dataset(args, work, run)
    tokenizer = train_tokenizer(args, work, dataset, run)
    arm_dirs, arms = {}, {}
    for arm in args.arms.split(","):
        arm_dirs[arm] = train_arm(args, work, dataset, tokenizer, arm, run)
        arms[arm] = evaluate_arm(args, dataset, arm_dirs[arm], arm, run)
    write_results(args, work, dataset, arms, arm_dirs, run, argv)
    print(f"[experiment] done in {time.time() - started:.0f} s: {work / 'results.md'} and results.json", flush=True)
    print((work / "results.md").read_text())
    return 0

