"""The experiment: what do AudioSetMix's captions, negative captions and counterfactual clips teach a CLAP model?

    python eval/run_experiment.py --work_dir output/experiment              # synth source, five arms
    python eval/run_experiment.py --work_dir output/experiment --arms captions,both --seeds 42,43
    python eval/run_experiment.py --work_dir output/experiment --arms captions --overlap_probabilities 0,0.5,1
    python eval/run_experiment.py --work_dir output/experiment --arms both --follow_gaps 0:0.5,0:0.1,1:2 --overlap_onsets 0.6:0.9
    python eval/run_experiment.py --work_dir output/experiment-esc10 \\
        --source folder --source_path ../shared/data/esc10 --arms captions,both   # real audio: ESC-10

One command, five stages, each reused when its output already exists with the same settings,
and every training run resumed from its last checkpoint when it was interrupted:

1. build the dataset (default: the `synth-small` config, 2,000 / 250 / 250 rows at 16 kHz,
   with `--audio_negatives` counterfactual clips per row; the training and evaluation code
   resample to CLAP's 48 kHz);
2. train one shared tiny tokenizer on the build's captions, negatives and label captions;
3. train the tiny CLAP per arm, same audio, same seed, same steps x batch:

   | arm | text negatives | audio negatives |
   |---|---|---|
   | `labels` (label-only captions) | – | – |
   | `captions` | – | – |
   | `text_neg` | ✓ `--hard_negative_weight W --hard_negative_mode M` | – |
   | `audio_neg` | – | ✓ `--audio_negative_weight V` |
   | `both` | ✓ | ✓ |

   the negative terms off for the first half of the steps and ramped in over the next 10 %
   (--hard_negative_start 0.5 --hard_negative_ramp 0.1: from step 0 they stall the tiny
   model, docs/experiment.md); every arm with --audio_time_channel. `--seeds 42,43` trains
   every arm once per training seed; `--overlap_probabilities 0,0.5,1` adds the mixing
   ablation: `both` trained on a build at each overlap probability (same size and seed) and
   evaluated on the main test split, so its pairs are paired with every arm's;
   `--follow_gaps LOW:HIGH,...` and `--overlap_onsets LOW:HIGH,...` do the same for the gap
   (seconds) and overlap-onset (share of the previous event) ranges, one setting changed per
   build; each point is also compared with the first point of its own setting (give the
   config's range first, e.g. 0:0.5 for the gap, for a reference at the ablation's budget);
4. evaluate each run on the same test split with `eval/evaluate_clap.py` (retrieval both ways,
   accuracy per negative kind and per true direction with bootstrap CIs, zero-shot when asked);
5. write `results.json` and `results.md` in --work_dir: every run side by side, and the paired
   bootstrap CI of every arm - `captions` per kind and direction (same seed), plus every other
   pair of arms in results.json.

The budget is steps x batch (default 1250 x 32 = 40,000 samples per run: docs/training.md's calibration), never wall time.
With `--source folder` and a folder whose metadata.csv has a `fold` column, the split defaults
to the ESC-50 protocol (folds 1-3 train, 4 validation, 5 test) and zero-shot classification
runs on fold 5 of the same folder.
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
from dataclasses import dataclass
from pathlib import Path

from ..retrieval import paired_bootstrap_ci
from ..training.args import check_hard_negative_schedule
from ..training.sizes import TINY_SIZES
from ..transforms import MODIFIER_NAMES
from .errors import EvaluationError
from .mix_ablation import MixPoint, ablation_points

REPO = Path(__file__).resolve().parents[2]  # the experiment runs the repository's scripts
EVAL_SCRIPT = REPO / "eval" / "evaluate_clap.py"
TRAIN_SCRIPT = REPO / "train_clap.py"
BUILD_SCRIPT = REPO / "audiosetmix.py"
ESC_SPLIT_MAP = {"1": "train", "2": "train", "3": "train", "4": "validation", "5": "test"}
ARMS = {
    "labels": {"caption_mode": "labels", "text_neg": False, "audio_neg": False, "title": "label-only captions"},
    "captions": {"caption_mode": "caption", "text_neg": False, "audio_neg": False, "title": "AudioSetMix captions, no negatives"},
    "text_neg": {"caption_mode": "caption", "text_neg": True, "audio_neg": False, "title": "captions + negative captions"},
    "audio_neg": {"caption_mode": "caption", "text_neg": False, "audio_neg": True, "title": "captions + counterfactual clips"},
    "both": {"caption_mode": "caption", "text_neg": True, "audio_neg": True,
             "title": "captions + negative captions + counterfactual clips"},
}
ARM_ALIASES = {"captions+negatives": "text_neg"}  # the name of the text_neg arm before issue 12
BASE_ARM = "captions"
ABLATION_ARM = "both"
CLAIM_KINDS = ("modifier", "order", "relation")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--work_dir", required=True, help="everything goes here: data/, tokenizer/, arms/<arm>/, results.*")
    g = p.add_argument_group("budget (the same for every arm)")
    g.add_argument("--steps", type=int, default=1250, help="optimizer steps per arm")
    g.add_argument("--ablation_steps", type=int, default=None,
                   help="optimizer steps per run of the mixing ablation (default: --steps; the issue-12 budget is half)")
    g.add_argument("--batch_size", type=int, default=32, help="training batch (in-batch negatives)")
    g.add_argument("--seeds", default="42", help="comma-separated training seeds (data order, init); every arm runs once per seed")
    g.add_argument("--seed_arms", default="",
                   help="comma-separated arms that run at every seed of --seeds; the others run at the first seed only "
                        "(default: every arm at every seed)")
    g.add_argument("--seed", type=int, help="one training seed (the same as --seeds S)")
    g.add_argument("--hard_negative_weight", type=float, default=1.0, help="weight of the negative-caption term (text_neg, both)")
    g.add_argument("--hard_negative_mode", choices=["separate", "in_batch"], default="in_batch",
                   help="text_neg, both: negative captions in their own term, or in the in-batch softmax (train_clap.py)")
    g.add_argument("--audio_negative_weight", type=float, default=1.0,
                   help="weight of the counterfactual-clip term (audio_neg, both)")
    g.add_argument("--hard_negative_start", type=float, default=0.5,
                   help="arms with negatives: share of the steps before the negative terms switch on (train_clap.py); "
                        "0 = from the first step, which stalls the tiny model (docs/experiment.md)")
    g.add_argument("--hard_negative_ramp", type=float, default=0.1,
                   help="arms with negatives: share of the steps over which the terms then rise to their weights")
    g.add_argument("--learning_rate", type=float, help="default: train_clap.py's (5e-4 for the tiny model)")
    g.add_argument("--model", choices=TINY_SIZES, default="tiny",
                   help="tiny CLAP size (docs/training.md, 'The two tiny sizes'): tiny (calibrated), or tiny-fast "
                        "(2.8x cheaper a step, calibrated in part: docs/experiment.md, 'Issue 12')")
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
    g.add_argument("--audio_negatives", type=int, default=1, help="counterfactual clips per row in the build (audio_neg and both use them)")
    g.add_argument("--overlap_probabilities", default="",
                   help="mixing ablation: comma-separated overlap probabilities; `both` is trained on a build at each "
                        "(the --source, sizes and seed of the main build) and evaluated on the main test split")
    g.add_argument("--follow_gaps", default="",
                   help="mixing ablation: comma-separated LOW:HIGH ranges of the gap (seconds) between events that "
                        "follow one another, e.g. 0:0.5,0:0.1,1:2 (the config's range is 0:0.5); `both` on a build at each")
    g.add_argument("--overlap_onsets", default="",
                   help="mixing ablation: comma-separated LOW:HIGH ranges of how far the previous event has played "
                        "(share of it) when an overlapping one starts, e.g. 0.2:0.6,0.6:0.9 (the config's: 0.2:0.6)")
    g = p.add_argument_group("running")
    g.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated subset of {', '.join(ARMS)}")
    g.add_argument("--checkpoint_every", type=int, help="checkpoint every N steps (default: a tenth of the steps, at least 50), "
                                                        "so a stopped run resumes close to where it was")
    g.add_argument("--nice", type=int, default=0, help="run the stages under `nice -n N` (shared machines)")
    g.add_argument("--num_workers", type=int, help="DataLoader workers of train_clap.py (default: its own, 2)")
    g.add_argument("--build_num_proc", type=int, default=1,
                   help="processes of each build (the shards do not depend on them, so a build is reused whatever its count)")
    g.add_argument("--eval_batch_size", type=int, default=32)
    g.add_argument("--zero_shot_dataset", help="audiofolder for zero-shot accuracy (folder source with folds: the source, fold 5)")
    g.add_argument("--zero_shot_where", help="e.g. fold=5")
    g.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the confidence intervals")
    g.add_argument("--force", action="store_true", help="rebuild, retrain and re-evaluate everything")
    g.add_argument("--label", default="", help="a note for the report, e.g. 'PILOT (1,500 samples per arm)'")
    args = p.parse_args(argv)
    args.arms = ",".join(ARM_ALIASES.get(a.strip(), a.strip()) for a in args.arms.split(",") if a.strip())
    unknown = [a for a in args.arms.split(",") if a not in ARMS]
    if unknown:
        p.error(f"unknown arms {unknown}; choose from {list(ARMS)}")
    try:
        args.seed_list = [args.seed] if args.seed is not None else [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        p.error("--seeds takes integers, comma-separated")
    try:
        args.ablation = ablation_points(args.overlap_probabilities, args.follow_gaps, args.overlap_onsets)
    except ValueError as error:
        p.error(str(error))
    args.overlap_list = [point.value for point in args.ablation if point.setting == "overlap_probability"]
    if not args.seed_list:
        p.error("--seeds needs at least one seed")
    args.seed_arms = [ARM_ALIASES.get(a.strip(), a.strip()) for a in args.seed_arms.split(",") if a.strip()]
    if any(a not in args.arms.split(",") for a in args.seed_arms):
        p.error(f"--seed_arms must name arms of --arms ({args.arms})")
    if args.ablation and args.dataset and args.source == "folder" and not args.source_path:
        p.error("the mixing ablation builds new data: give --source_path with --source folder")
    if args.hard_negative_weight < 0 or args.audio_negative_weight < 0 or args.audio_negatives < 0:
        p.error("--hard_negative_weight, --audio_negative_weight and --audio_negatives must be >= 0")
    if args.source == "folder" and not (args.source_path or args.dataset):
        p.error("--source folder needs --source_path")
    if args.ablation_steps is not None and args.ablation_steps < 1:
        p.error("--ablation_steps must be at least 1")
    if args.build_num_proc < 1:
        p.error("--build_num_proc must be at least 1")
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


def build_dataset(args, work: Path, run: Runner, point: MixPoint | None = None) -> Path:
    """The main build (or --dataset as is); with `point`, the ablation build with that one mixing setting changed."""
    if args.dataset and point is None:
        return Path(args.dataset).resolve()
    tag = data_tag(args, point)
    if point is not None and not tag:
        print(f"[experiment] ablation point {point.tag} is the main build's own setting: it trains on {work / 'data'}",
              flush=True)
        return work / "data"
    out = work / f"data{tag}"
    cmd = [sys.executable, BUILD_SCRIPT, "build", "--output_dir", out, "--seed", args.data_seed,
           "--audio_negatives", args.audio_negatives]
    if args.source == "folder":
        cmd += ["--config", "folder", "--source", "folder", "--source_path", Path(args.source_path).resolve()]
        if args.split_column:
            cmd += ["--split_column", args.split_column]
        if args.split_map:
            cmd += ["--split_map", args.split_map]
    else:
        cmd += ["--config", "synth-small"]
    for split in ("train", "validation", "test"):
        if point is not None and split != "train":
            cmd += [f"--{split}", 0]  # the ablation trains here and is tested on the main test split
        elif getattr(args, split) is not None:
            cmd += [f"--{split}", getattr(args, split)]
    if point is not None:
        cmd += ["--mix", point.mix_json()]
    stamp = {"command": [str(c) for c in cmd[2:]]}
    stamp_path = work / f"data{tag}.stamp.json"
    if not args.force and (out / "README.md").is_file() and _stamp_matches(stamp_path, stamp):
        print(f"[experiment] reusing the dataset in {out}", flush=True)
        return out
    # the processes are not in the stamp: the shards do not depend on them
    run(f"build{tag}", cmd + ["--num_proc", args.build_num_proc])
    stamp_path.write_text(json.dumps(stamp, indent=2) + "\n")
    return out


def data_tag(args, point: MixPoint | None) -> str:
    """The suffix of a build's folder and stamp: none for the main build and for a point that keeps the
    main build's own setting (the experiment's builds use the config's mixing defaults unless --dataset)."""
    if point is None or (point.is_default and not args.dataset):
        return ""
    return f"-{point.tag}"


@dataclass(frozen=True)
class RunSpec:
    """One training run: an arm, a training seed, and the ablation build it trains on (None: the main one)."""

    name: str
    arm: str
    seed: int
    point: MixPoint | None = None


def planned_runs(args) -> list[RunSpec]:
    """Arm by arm, each at every seed (only the first for arms left out of --seed_arms; the first seed's
    runs keep the bare arm name), then the mixing ablation: the order of the issue's budget."""
    runs = []
    for arm in args.arms.split(","):
        seeds = args.seed_list if not args.seed_arms or arm in args.seed_arms else args.seed_list[:1]
        for i, seed in enumerate(seeds):
            runs.append(RunSpec(arm if i == 0 else f"{arm}@seed{seed}", arm, seed))
    for point in args.ablation:
        runs.append(RunSpec(f"{ABLATION_ARM}@{point.tag}", ABLATION_ARM, args.seed_list[0], point))
    return runs


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


def run_steps(args, spec: RunSpec) -> int:
    """The run's budget: --steps, or --ablation_steps for a run of the mixing ablation."""
    if spec.point is not None and args.ablation_steps is not None:
        return args.ablation_steps
    return args.steps


def train_command(args, dataset: Path, tokenizer: Path, spec: RunSpec, out: Path) -> list:
    """The `train_clap.py` command line of one run: the arm's terms, the shared budget and schedule."""
    arm = ARMS[spec.arm]
    steps = run_steps(args, spec)
    cmd = [sys.executable, TRAIN_SCRIPT, "--model", args.model, "--tokenizer", tokenizer, "--dataset", dataset,
           "--output_dir", out, "--caption_mode", arm["caption_mode"],
           "--hard_negative_weight", args.hard_negative_weight if arm["text_neg"] else 0,
           "--audio_negative_weight", args.audio_negative_weight if arm["audio_neg"] else 0,
           "--max_steps", steps, "--per_device_train_batch_size", args.batch_size, "--seed", spec.seed,
           "--validation_split", "", "--eval_steps", 0,
           "--checkpointing_steps", args.checkpoint_every or max(50, steps // 10),
           "--save_total_limit", 1, "--report_to", "none", "--logging_steps", max(1, min(50, steps // 20))]
    if arm["text_neg"]:
        cmd += ["--hard_negative_mode", args.hard_negative_mode]
    if arm["text_neg"] or arm["audio_neg"]:
        cmd += ["--hard_negative_start", args.hard_negative_start, "--hard_negative_ramp", args.hard_negative_ramp]
    if args.learning_rate is not None:
        cmd += ["--learning_rate", args.learning_rate]
    if args.audio_time_channel:
        cmd += ["--audio_time_channel"]
    if args.num_workers is not None:
        cmd += ["--dataloader_num_workers", args.num_workers]
    return cmd


def train_arm(args, work: Path, dataset: Path, tokenizer: Path, spec: RunSpec, run: Runner) -> Path:
    out = work / "arms" / spec.name
    cmd = train_command(args, dataset, tokenizer, spec, out)
    tag = data_tag(args, spec.point)
    # the size is in the stamp: for a while `--model tiny` named what is now tiny-fast
    stamp = {"command": [str(c) for c in cmd[2:]], "model_size": TINY_SIZES[args.model],
             "tokenizer_stamp": _read_json(work / "tokenizer.stamp.json"),
             "dataset_stamp": _read_json(work / f"data{tag}.stamp.json")}
    stamp_path = out / "experiment.stamp.json"
    same = not args.force and _stamp_matches(stamp_path, stamp)
    if same and (out / "model.safetensors").is_file():  # the final model is saved last
        print(f"[experiment] reusing run {spec.name} in {out}", flush=True)
        return out
    if same and any(out.glob("checkpoint-*")):
        cmd += ["--resume_from_checkpoint", "latest"]  # an interrupted run with the same settings
        print(f"[experiment] resuming run {spec.name} from its last checkpoint", flush=True)
    elif out.exists():
        shutil.rmtree(out)  # other settings: start clean
    out.mkdir(parents=True, exist_ok=True)
    stamp_path.write_text(json.dumps(stamp, indent=2) + "\n")
    run(f"train-{spec.name}", cmd)
    return out


def evaluate_arm(args, dataset: Path, model_dir: Path, arm: str, run: Runner) -> dict:
    """Evaluate one run (`arm` is its run name) on the main test split."""
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
        print(f"[experiment] reusing the evaluation of run {arm}", flush=True)
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


def comparisons(runs: list[RunSpec]) -> list[tuple[str, str]]:
    """(base run, other run) pairs to report: every run against `captions` of its seed (the ablation
    against the first seed's), then every other pair of the first seed's arms, then each ablation
    run against `both` and against the first point of its own setting (the same budget)."""
    names = {r.name for r in runs}
    base_of = {r.seed: r.name for r in runs if r.arm == BASE_ARM and r.point is None}
    first = runs[0].seed if runs else None
    pairs = []
    for r in runs:
        base = base_of.get(r.seed if r.point is None else first)
        if base and r.name != base:
            pairs.append((base, r.name))
    main_runs = [r.name for r in runs if r.seed == first and r.point is None]
    for i, x in enumerate(main_runs):
        for y in main_runs[i + 1:]:
            if (x, y) not in pairs and (y, x) not in pairs and x in names and y in names:
                pairs.append((x, y))
    if ABLATION_ARM in names:
        pairs += [(ABLATION_ARM, r.name) for r in runs if r.point is not None]
    reference_of: dict[str, str] = {}
    for r in runs:
        if r.point is None:
            continue
        reference = reference_of.setdefault(r.point.setting, r.name)
        if reference != r.name:
            pairs.append((reference, r.name))
    return pairs


def direction_accuracy(detail: dict) -> dict[str, tuple[float | None, float | None]]:
    """Per transform: (accuracy where the clip has the `up` modifier, where it has `down`), from the
    `modifier:<name>` details; None where the test split has no such pair."""
    per_kind = detail.get("per_kind", {})
    out = {}
    for transform in sorted({t for t, _ in MODIFIER_NAMES}):
        up = per_kind.get(f"modifier:{MODIFIER_NAMES[(transform, 'up')]}")
        down = per_kind.get(f"modifier:{MODIFIER_NAMES[(transform, 'down')]}")
        if up or down:
            out[transform] = (up["accuracy"] if up else None, down["accuracy"] if down else None)
    return out


def direction_gaps(detail: dict) -> dict[str, float]:
    """Per transform: accuracy(up) - accuracy(down). A model that picks one word whatever the audio
    scores ~1 on one direction and ~0 on the other (a gap near +-1) while its mean stays at 0.5."""
    return {t: up - down for t, (up, down) in direction_accuracy(detail).items() if up is not None and down is not None}


def write_results(args, work: Path, dataset: Path, arms: dict[str, dict], arm_dirs: dict[str, Path], run: Runner, argv,
                  runs: list[RunSpec] | None = None) -> dict:
    runs = runs or [RunSpec(name, name, args.seed_list[0]) for name in arms]
    by_name = {r.name: r for r in runs}
    diffs = {f"{other} - {base}": paired_differences(arm_dirs, base, other, args.bootstrap, 0)
             for base, other in comparisons(runs) if base in arms and other in arms}
    command = "python eval/run_experiment.py " + " ".join(shlex.quote(a) for a in argv)
    samples = args.steps * args.batch_size
    results = {
        "label": args.label,
        "command": command,
        "budget": {"steps": args.steps, "batch_size": args.batch_size, "samples_per_arm": samples,
                   "ablation_steps": args.ablation_steps or args.steps},
        "seeds": {"training": args.seed_list, "build": args.data_seed, "bootstrap": 0},
        "settings": {"hard_negative_weight": args.hard_negative_weight, "hard_negative_mode": args.hard_negative_mode,
                     "audio_negative_weight": args.audio_negative_weight, "audio_negatives": args.audio_negatives,
                     "hard_negative_start": args.hard_negative_start, "hard_negative_ramp": args.hard_negative_ramp,
                     "overlap_probabilities": args.overlap_list, "mix_ablation": [p.mix for p in args.ablation]},
        "dataset": str(dataset),
        "machine": machine_info(),
        "stage_seconds": run.times,
        "stage_commands": run.commands,
        "arms": {name: {"title": ARMS[by_name[name].arm]["title"], "arm": by_name[name].arm, "seed": by_name[name].seed,
                        "mix": by_name[name].point.mix if by_name[name].point else None,
                        "model": str(arm_dirs[name]), "metrics": m,
                        "direction_gaps": direction_gaps(m.get("modifier_accuracy_detail", {}))}
                 for name, m in arms.items()},
        "paired_differences": diffs,
    }
    (work / "results.json").write_text(json.dumps(results, indent=2) + "\n")

    names = list(arms)
    any_metrics = next(iter(arms.values()))
    meta = any_metrics["meta"]
    m = results["machine"]
    lines = [f"# AudioSetMix experiment{': ' + args.label if args.label else ''}", "",
             f"Command: `{command}`", "",
             f"- budget: {args.steps} steps x batch {args.batch_size} = {samples:,} training samples per run; "
             f"training seeds {', '.join(map(str, args.seed_list))}, build seed {args.data_seed}, bootstrap seed 0 "
             f"({args.bootstrap} resamples)",
             f"- data: `{dataset}` ({args.audio_negatives} counterfactual clip(s) per row); test split {meta['num_audio']} clips, "
             f"{any_metrics.get('modifier_accuracy', {}).get('count', 0)} (clip, hard negative) pairs",
             f"- model: {args.model} CLAP, audio time channel {'on' if args.audio_time_channel else 'off'}; negative captions "
             f"(text_neg, both): weight {args.hard_negative_weight}, mode {args.hard_negative_mode}; counterfactual clips "
             f"(audio_neg, both): weight {args.audio_negative_weight}; both terms off for the first "
             f"{args.hard_negative_start:.0%} of the steps, then ramped in over {args.hard_negative_ramp:.0%}",
             f"- machine: {m.get('gpu') or m['cpu']} ({m['cpu_count']} CPUs, torch {m['torch']}, {m['torch_threads']} threads)",
             "- stage wall times (s): " + (", ".join(f"{k} {v:.0f}" for k, v in run.times.items()) or "not recorded"), ""]
    for name in names:
        r = by_name[name]
        extra = (f", build with {r.point.mix_json()}, {run_steps(args, r) * args.batch_size:,} samples"
                 if r.point is not None else "")
        lines.append(f"- `{name}`: {ARMS[r.arm]['title']} (seed {r.seed}{extra}): `{arm_dirs[name]}`")
    lines += ["", "## Retrieval (test split)", "",
              "| run | T→A R@1 | R@5 | R@10 | mAP@10 | med. rank | A→T R@1 | R@5 | R@10 | mAP@10 | med. rank |",
              "|---|" + "---:|" * 10]
    for name in names:
        r = arms[name]["retrieval"]
        cells = []
        for direction in ("text_to_audio", "audio_to_text"):
            d = r[direction]
            cells += [_f(d["R@1"]), _f(d["R@5"]), _f(d["R@10"]), _f(d["mAP@10"]), f"{d['median_rank']:.1f}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")

    def kind_table(title: str, key: str, refined: bool):
        kinds = sorted({k for a in names for k in arms[a].get(key, {}).get("per_kind", {}) if (":" in k) == refined})
        if not kinds:
            return []
        out = ["", title, "", "| kind | n | " + " | ".join(names) + " |", "|---|---:|" + "---:|" * len(names)]
        for kind in kinds:
            entries = [arms[a].get(key, {}).get("per_kind", {}).get(kind) for a in names]
            n = next((e["count"] for e in entries if e), 0)
            out.append(f"| {kind} | {n} | " + " | ".join(_cell(e) for e in entries) + " |")
        return out

    lines += kind_table("## Accuracy per negative kind (pairwise, chance 0.5, ties miss; bootstrap 95% CI)",
                        "modifier_accuracy", refined=False)
    lines += kind_table("### Per true direction (`modifier:louder`: the clip has a louder event, the negative says quieter; "
                        "`relation:follow`: the events follow, the negative says they overlap)", "modifier_accuracy_detail", refined=True)
    per_direction = {name: direction_accuracy(arms[name].get("modifier_accuracy_detail", {})) for name in names}
    transforms = sorted({t for d in per_direction.values() for t in d})
    if transforms:
        lines += ["", "### Wording bias: accuracy up / down per transform (gap up − down; 0 = none, ±1 = the model picks one "
                      "word whatever the audio, which a mean of 0.5 hides)", "",
                  "| transform | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]

        def cell(pair) -> str:
            if pair is None:
                return "–"
            up, down = pair
            text = f"{_f(up)} / {_f(down)}"
            return text + (f" ({up - down:+.2f})" if up is not None and down is not None else "")

        for t in transforms:
            lines.append(f"| {t} | " + " | ".join(cell(per_direction[n].get(t)) for n in names) + " |")
    overall = [arms[a].get("modifier_accuracy") for a in names]
    if all(overall):
        lines += ["", "All pairs: " + ", ".join(f"{a} {_cell(e)}" for a, e in zip(names, overall))]

    versus = [(base, other) for base, other in comparisons(runs) if f"{other} - {base}" in diffs]
    if versus:
        groups = sorted({g for key in diffs for g in diffs[key]}, key=lambda g: (":" in g, g))
        heads = [f"{other} − {base}" for base, other in versus]
        lines += ["", "## Paired differences (same test pairs; paired bootstrap 95% CI; ✓ / ✗: CI above / below 0)", "",
                  "| kind | " + " | ".join(heads) + " |", "|---|" + "---:|" * len(heads)]
        for g in groups:
            lines.append(f"| {g} | " + " | ".join(_diff_cell(diffs[f'{o} - {b}'].get(g)) for b, o in versus) + " |")

    if any("zero_shot" in arms[a] for a in names):
        z = next(arms[a]["zero_shot"] for a in names if "zero_shot" in arms[a])
        lines += ["", f"## Zero-shot classification (`{z['dataset']}`{', ' + z['where'] if z.get('where') else ''}; "
                      f"{z['num_clips']} clips, {z['num_classes']} classes, chance {z['chance']:.3f})", "",
                  "| run | " + " | ".join(z["by_prompt"]) + " |", "|---|" + "---:|" * len(z["by_prompt"])]
        for a in names:
            zs = arms[a].get("zero_shot")
            if zs:
                lines.append(f"| {a} | " + " | ".join(_f(zs["by_prompt"][p]["accuracy"]) for p in z["by_prompt"]) + " |")
    lines += ["", f"The claim concerns the {', '.join(CLAIM_KINDS)} kinds; `event`, `missing` and `extra` are reported but a "
                  "label-only model can already score well on them. A difference whose CI spans 0 is inside the noise of "
                  "the test sample; compare the runs of other training seeds for training-seed noise.", ""]
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
    runs = planned_runs(args)
    datasets_by_point = {None: dataset}
    for point in args.ablation:
        datasets_by_point[point] = build_dataset(args, work, run, point)
    arm_dirs, arms = {}, {}
    for spec in runs:
        arm_dirs[spec.name] = train_arm(args, work, datasets_by_point[spec.point], tokenizer, spec, run)
        arms[spec.name] = evaluate_arm(args, dataset, arm_dirs[spec.name], spec.name, run)
    write_results(args, work, dataset, arms, arm_dirs, run, argv, runs)
    print(f"[experiment] done in {time.time() - started:.0f} s: {work / 'results.md'} and results.json", flush=True)
    print((work / "results.md").read_text())
    return 0

