"""The experiment's stages (build, tokenizer, training, evaluation), each a subprocess of the package's own
entry modules, each reused when its stamp says the same settings produced its output.

The stages start `python -m audiosetmix_lib.cli`, `-m audiosetmix_lib.training.cli` and
`-m audiosetmix_lib.evaluation.clap_cli` with this process's copy of the library first on
PYTHONPATH, so they run the same code from a checkout or an installed wheel. A stamp records a
stage's arguments (not the interpreter or entry module); an evaluation's also records the
fingerprint of the scoring code, so a change of the scores re-evaluates every run without
retraining any.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ..training.sizes import TINY_SIZES
from .errors import EvaluationError
from .experiment_args import ARMS
from .experiment_plan import RunSpec, data_tag, run_steps
from .metric_modules import scoring_fingerprint
from .mix_ablation import MixPoint

LIBRARY_ROOT = Path(__file__).resolve().parents[2]  # the folder holding this copy of audiosetmix_lib
ENTRY_MODULES = {"build": "audiosetmix_lib.cli", "train": "audiosetmix_lib.training.cli",
                 "evaluate": "audiosetmix_lib.evaluation.clap_cli"}


def entry(stage: str) -> list[str]:
    """The interpreter and module that run a stage."""
    return [sys.executable, "-m", ENTRY_MODULES[stage]]


class Runner:
    """Runs the stage commands (niced) in the work dir, logs each to work_dir/logs/<name>.log, records wall times."""

    def __init__(self, work_dir: Path, nice: int) -> None:
        self.work_dir = work_dir
        self.logs = work_dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.nice = nice
        # wall times and commands of every stage, kept across runs (a rerun that reuses a stage keeps its numbers)
        self.record = work_dir / "stages.json"
        saved = read_json(self.record) or {}
        self.times: dict[str, float] = saved.get("seconds", {})
        self.commands: dict[str, str] = saved.get("commands", {})

    def environment(self) -> dict:
        path = os.pathsep.join(p for p in (str(LIBRARY_ROOT), os.environ.get("PYTHONPATH", "")) if p)
        return dict(os.environ, PYTHONUNBUFFERED="1", MPLBACKEND="Agg", PYTHONPATH=path)

    def __call__(self, name: str, cmd: list) -> None:
        shown = " ".join(shlex.quote(str(c)) for c in cmd)
        self.commands[name] = shown
        print(f"[experiment] {name}: {shown}", flush=True)
        started = time.time()
        log_path = self.logs / f"{name}.log"
        with open(log_path, "w") as log:
            proc = subprocess.run([str(c) for c in cmd], cwd=self.work_dir, env=self.environment(), stdout=log,
                                  stderr=subprocess.STDOUT, preexec_fn=(lambda: os.nice(self.nice)) if self.nice else None)
        self.times[name] = round(time.time() - started, 1)
        self.record.write_text(json.dumps({"seconds": self.times, "commands": self.commands}, indent=2) + "\n")
        if proc.returncode != 0:
            tail = "".join(log_path.read_text(errors="replace").splitlines(keepends=True)[-40:])
            raise EvaluationError(f"[experiment] {name} failed (exit {proc.returncode}); log {log_path}:\n{tail}")
        print(f"[experiment] {name}: done in {self.times[name]:.0f} s (log {log_path})", flush=True)


def read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


FLAG_ALIASES = {"--dataset": "--dataset_dir"}  # the same flag under the name stamps written before the rename used


def canonical(stamp):
    """A stamp with every flag under its current name (nested stamps too), so a rename of a flag does not
    make a finished stage look different."""
    if isinstance(stamp, dict):
        return {k: canonical(v) for k, v in stamp.items()}
    if isinstance(stamp, list):
        return [FLAG_ALIASES.get(v, v) if isinstance(v, str) else canonical(v) for v in stamp]
    return stamp


def stamp_matches(path: Path, stamp: dict) -> bool:
    return canonical(read_json(path)) == canonical(stamp)


def build_args(args, out: Path, point: MixPoint | None) -> list:
    """The `audiosetmix build` arguments of the main build or of an ablation point's."""
    cmd = ["build", "--output_dir", out, "--seed", args.data_seed, "--audio_negatives", args.audio_negatives]
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
    return cmd


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
    cmd = build_args(args, out, point)
    stamp = {"command": [str(c) for c in cmd]}
    stamp_path = work / f"data{tag}.stamp.json"
    if not args.force and (out / "README.md").is_file() and stamp_matches(stamp_path, stamp):
        print(f"[experiment] reusing the dataset in {out}", flush=True)
        return out
    # the processes are not in the stamp: the shards do not depend on them
    run(f"build{tag}", entry("build") + cmd + ["--num_proc", args.build_num_proc])
    stamp_path.write_text(json.dumps(stamp, indent=2) + "\n")
    return out


def train_tokenizer(args, work: Path, dataset: Path, run: Runner) -> Path:
    out = work / "tokenizer"
    cmd = ["--model", "tiny", "--tokenizer_only", "--dataset_dir", dataset, "--output_dir", out, "--report_to", "none"]
    stamp = {"command": [str(c) for c in cmd], "dataset_stamp": read_json(work / "data.stamp.json")}
    stamp_path = work / "tokenizer.stamp.json"
    if not args.force and (out / "tokenizer.json").is_file() and stamp_matches(stamp_path, stamp):
        print(f"[experiment] reusing the tokenizer in {out}", flush=True)
        return out
    run("tokenizer", entry("train") + cmd)
    stamp_path.write_text(json.dumps(stamp, indent=2) + "\n")
    return out


def train_command(args, dataset: Path, tokenizer: Path, spec: RunSpec, out: Path) -> list:
    """The training arguments of one run: the arm's terms, the shared budget and schedule."""
    arm = ARMS[spec.arm]
    steps = run_steps(args, spec)
    cmd = ["--model", args.model, "--tokenizer", tokenizer, "--dataset_dir", dataset,
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


def without_output_dir(stamp: dict | None) -> dict | None:
    """A training stamp with its --output_dir left out: the same run, wherever its folder is now."""
    if not stamp or "command" not in stamp:
        return stamp
    command = list(stamp["command"])
    if "--output_dir" in command:
        i = command.index("--output_dir")
        del command[i:i + 2]
    return {**stamp, "command": command}


def finished_run(arms_dir: Path, stamp: dict, preferred: Path) -> Path | None:
    """A folder under arms/ holding a finished run with these settings (any name: a run trained under
    another name, e.g. one seed per command, or set aside), `preferred` first."""
    wanted = without_output_dir(canonical(stamp))
    folders = [preferred] + sorted(p for p in arms_dir.glob("*") if p != preferred) if arms_dir.is_dir() else []
    for folder in folders:
        if (folder / "model.safetensors").is_file() and without_output_dir(canonical(read_json(folder / "experiment.stamp.json"))) == wanted:
            return folder
    return None


def set_aside(out: Path) -> None:
    """Make room for a run with other settings: a finished run moves to `<name>~<k>` (it is never
    deleted, and `finished_run` still finds it); an unfinished one is removed."""
    if not (out / "model.safetensors").is_file():
        shutil.rmtree(out)
        return
    k = 1
    while out.with_name(f"{out.name}~{k}").exists():
        k += 1
    out.rename(out.with_name(f"{out.name}~{k}"))
    print(f"[experiment] {out} held a finished run with other settings: moved to {out.name}~{k}", flush=True)


def train_arm(args, work: Path, dataset: Path, tokenizer: Path, spec: RunSpec, run: Runner) -> Path:
    out = work / "arms" / spec.name
    cmd = train_command(args, dataset, tokenizer, spec, out)
    tag = data_tag(args, spec.point)
    # the size is in the stamp: `--model tiny` once named what is now tiny-fast
    stamp = {"command": [str(c) for c in cmd], "model_size": TINY_SIZES[args.model],
             "tokenizer_stamp": read_json(work / "tokenizer.stamp.json"),
             "dataset_stamp": read_json(work / f"data{tag}.stamp.json")}
    found = None if args.force else finished_run(work / "arms", stamp, out)
    if found is not None:
        print(f"[experiment] reusing run {spec.name} in {found}", flush=True)
        return found
    stamp_path = out / "experiment.stamp.json"
    if not args.force and stamp_matches(stamp_path, stamp) and any(out.glob("checkpoint-*")):
        cmd += ["--resume_from_checkpoint", "latest"]  # an interrupted run with the same settings
        print(f"[experiment] resuming run {spec.name} from its last checkpoint", flush=True)
    elif out.exists():
        shutil.rmtree(out) if args.force else set_aside(out)
    out.mkdir(parents=True, exist_ok=True)
    stamp_path.write_text(json.dumps(stamp, indent=2) + "\n")
    run(f"train-{spec.name}", entry("train") + cmd)
    return out


def evaluate_arm(args, dataset: Path, model_dir: Path, name: str, run: Runner) -> dict:
    """Evaluate one run on the main test split; reused while the model, arguments and scoring code are the same."""
    out = model_dir / "eval"
    cmd = ["--model", model_dir, "--dataset_dir", dataset, "--split", "test",
           "--output_dir", out, "--batch_size", args.eval_batch_size, "--bootstrap", args.bootstrap]
    if args.zero_shot_dataset:
        cmd += ["--zero_shot_dataset", Path(args.zero_shot_dataset).resolve()]
        if args.zero_shot_where:
            cmd += ["--zero_shot_where", args.zero_shot_where]
    metrics_path = out / "metrics.json"
    stamp = {"command": [str(c) for c in cmd], "model_mtime": (model_dir / "model.safetensors").stat().st_mtime,
             "scoring": scoring_fingerprint()}
    stamp_path = out / "experiment.stamp.json"
    if args.force or not metrics_path.is_file() or not stamp_matches(stamp_path, stamp):
        run(f"eval-{name}", entry("evaluate") + cmd)
        stamp_path.write_text(json.dumps(stamp, indent=2) + "\n")
    else:
        print(f"[experiment] reusing the evaluation of run {name}", flush=True)
    return json.loads(metrics_path.read_text())
