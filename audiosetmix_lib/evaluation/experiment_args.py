"""The experiment's command line: its arms, budget, data and running flags, checked before any stage runs."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from ..training.args import check_hard_negative_schedule
from ..training.sizes import TINY_SIZES
from .mix_ablation import ablation_points

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


def add_budget_args(p: argparse.ArgumentParser) -> None:
    """The budget and the training settings, the same for every arm."""
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


def add_data_args(p: argparse.ArgumentParser) -> None:
    """The build the arms train on (or --dataset as is), and the mixing ablation."""
    g = p.add_argument_group("data")
    g.add_argument("--dataset_dir", "--dataset", dest="dataset", help="use this built dataset as is (skip the build)")
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


def add_running_args(p: argparse.ArgumentParser) -> None:
    """Which arms, how the stages run, and what the report says."""
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


def plan_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Arms (aliases resolved), seeds and ablation points as lists; refused (p.error) when unknown."""
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


def check_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse what no stage could run (p.error: one line, exit 2)."""
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


def parse_args(argv=None, doc: str = "") -> argparse.Namespace:
    """`doc`: the entry point's docstring (its first paragraph is the description, the rest the epilog)."""
    head, _, rest = doc.partition("\n\n")
    p = argparse.ArgumentParser(description=head, formatter_class=argparse.RawDescriptionHelpFormatter, epilog=rest)
    p.add_argument("--work_dir", required=True, help="everything goes here: data/, tokenizer/, arms/<arm>/, results.*")
    add_budget_args(p)
    add_data_args(p)
    add_running_args(p)
    args = p.parse_args(argv)
    plan_args(p, args)
    check_args(p, args)
    return args


def folder_defaults(args) -> None:
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
