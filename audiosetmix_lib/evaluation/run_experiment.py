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
4. evaluate each run on the same test split with `eval/evaluate_clap.py` (retrieval both ways;
   pairwise accuracy and the text, audio and group scores, raw and bias-corrected, per negative
   kind and per true direction with bootstrap CIs; zero-shot when asked); an evaluation is
   redone when the scoring code changed, never the training;
5. write `results.json` and `results.md` in --work_dir: every run side by side, the paired
   bootstrap CI of every arm - `captions` per kind and direction (same seed), every other pair
   of arms in results.json, and the seed-level answer: each arm - `captions` averaged over the
   training seeds both ran at, with a hierarchical bootstrap CI (seeds, then test pairs) and the
   smallest difference the design can detect.

A run is found by its settings, whatever its folder: a run trained under another name (one
`--seeds S` command per seed names each seed's run after the arm) or set aside (a finished run
is moved to `arms/<name>~<k>` when the folder is needed for other settings, never deleted) is
reused.

The budget is steps x batch (default 1250 x 32 = 40,000 samples per run: docs/training.md's calibration), never wall time.
With `--source folder` and a folder whose metadata.csv has a `fold` column, the split defaults
to the ESC-50 protocol (folds 1-3 train, 4 validation, 5 test) and zero-shot classification
runs on fold 5 of the same folder.
"""

from __future__ import annotations

import time
from pathlib import Path

from . import experiment_args
from .experiment_plan import planned_runs
from .experiment_report import Experiment, write_results
from .stages import Runner, build_dataset, evaluate_arm, train_arm, train_tokenizer


def parse_args(argv=None):
    return experiment_args.parse_args(argv, __doc__)


def run_experiment(argv: list[str]) -> Path:
    """Every stage, then the report; returns results.md."""
    args = parse_args(argv)
    work = Path(args.work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    experiment_args.folder_defaults(args)
    run = Runner(work, args.nice)
    started = time.time()
    dataset = build_dataset(args, work, run)
    tokenizer = train_tokenizer(args, work, dataset, run)
    runs = planned_runs(args)
    datasets_by_point = {None: dataset}
    for point in args.ablation:
        datasets_by_point[point] = build_dataset(args, work, run, point)
    dirs, metrics = {}, {}
    for spec in runs:
        dirs[spec.name] = train_arm(args, work, datasets_by_point[spec.point], tokenizer, spec, run)
        metrics[spec.name] = evaluate_arm(args, dataset, dirs[spec.name], spec.name, run)
    write_results(Experiment(args, argv, work, dataset, runs, dirs, metrics, run.times, run.commands))
    print(f"[experiment] done in {time.time() - started:.0f} s: {work / 'results.md'} and results.json", flush=True)
    return work / "results.md"
