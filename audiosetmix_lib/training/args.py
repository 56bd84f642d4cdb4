"""The arguments of `train_clap.py`: one dataclass, parsed by `HfArgumentParser`.

One flat dataclass (not the examples' three) so that a test can check that every `args.<name>`
the training code reads is a field here.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Literal

from audiosetmix_lib.training.sizes import is_tiny


def _help(text: str, **kwargs):
    return field(metadata={"help": text}, **kwargs)


@dataclass
class TrainClapArguments:
    # --- data
    dataset: str = field(metadata={"help": "AudioSetMix dataset: a local folder (Hub layout or save_to_disk) or a Hub id "
                                           "(--dataset_dir, as in the other commands, or --dataset).",
                                   "aliases": ["--dataset_dir"]})
    output_dir: str = _help("Where the final model + processor go (root) and checkpoints (checkpoint-<step>/).")
    dataset_config: str | None = _help("Config name of the dataset, if it has several.", default=None)
    train_split: str = _help("Training split.", default="train")
    validation_split: str = _help("Split for validation retrieval metrics; '' disables validation.", default="validation")
    audio_column: str = _help("Audio column (read with Audio(decode=False)).", default="audio")
    caption_column: str = _help("Caption column.", default="caption")
    negatives_column: str = _help("Hard-negative column: list of {caption, kind}; missing column = no negatives.", default="negatives")
    labels_column: str = _help("Class-label column, used by --caption_mode labels.", default="labels")
    caption_mode: Literal["caption", "labels"] = _help(
        "'caption': AudioSetMix captions + hard negatives. 'labels': the sorted, lower-cased class names joined "
        "with ', ' (no modifiers, no negatives) - the label-only baseline.",
        default="caption",
    )
    max_negatives: int = _help("Use at most this many hard negatives per row (the first K).", default=3)
    negative_audio_column: str = _help("Counterfactual-clip column (List(Audio)); used with --audio_negative_weight > 0.",
                                       default="negative_audio")
    max_audio_negatives: int = _help("Use at most this many counterfactual clips per row (the first A).", default=1)
    extra_datasets: str | None = _help("Comma-separated extra caption datasets (audio + caption columns) to mix in.", default=None)
    extra_weights: str | None = _help(
        "Comma-separated sampling shares of the extra datasets (sum < 1; the main dataset gets the rest).", default=None
    )
    extra_split: str = _help("Split of the extra datasets.", default="train")
    max_train_samples: int | None = _help("Keep only the first N training rows (quick runs).", default=None)
    max_eval_samples: int | None = _help("Keep only the first N validation rows.", default=None)
    dataloader_num_workers: int = _help("DataLoader worker processes (decode + resample).", default=2)

    # --- model
    model: str = _help("'tiny' (from scratch, for CPU; 'tiny-fast': 2.8x cheaper a step, calibrated in part), a Hub id (laion/clap-htsat-unfused) or a local path.", default="tiny")
    tokenizer: str | None = _help("A saved tokenizer to reuse with --model tiny (see --tokenizer_only).", default=None)
    audio_time_channel: bool = _help(
        "Tiny model only: give the audio encoder a second input channel holding each frame's time, so it can tell "
        "'A then B' from 'B then A' (HTSAT has no absolute time position; see docs/experiment.md).",
        default=False,
    )
    tokenizer_only: bool = _help("Train the tiny tokenizer on the dataset, save it to --output_dir and stop.", default=False)
    tokenizer_vocab_size: int = _help("Vocabulary size of a newly trained tiny tokenizer (an upper bound).", default=1000)
    max_text_length: int = _help("Token limit of captions (also the tiny tokenizer's model_max_length).", default=128)

    # --- optimisation
    seed: int = _help("Seed for accelerate's set_seed and for the data order.", default=42)
    max_steps: int = _help("Total optimizer steps; overrides --num_train_epochs when > 0.", default=-1)
    num_train_epochs: float = _help("Epochs over the main dataset when --max_steps <= 0.", default=3.0)
    per_device_train_batch_size: int = _help("Batch per process; in-batch negatives span all processes.", default=32)
    per_device_eval_batch_size: int = _help("Validation batch per process.", default=32)
    learning_rate: float | None = _help("AdamW learning rate; default 5e-4 for tiny, 1e-5 for a pretrained model.", default=None)
    weight_decay: float = _help("AdamW weight decay (not on biases, norms and logit scales).", default=0.01)
    warmup_ratio: float = _help("Share of the steps spent in linear warm-up before the cosine decay.", default=0.05)
    max_grad_norm: float = _help("Gradient clipping norm; 0 disables.", default=1.0)
    hard_negative_weight: float = _help("Weight of the hard-negative term; 0 disables it.", default=1.0)
    hard_negative_start: float | None = _help(
        "Share of the steps trained without the hard-negative term, so the in-batch term shapes the "
        "embedding space first; default 0.5 for tiny (from scratch the term stalls training from step 0: "
        "docs/experiment.md), 0 for a pretrained model.", default=None)
    hard_negative_ramp: float | None = _help(
        "Share of the steps over which the term then rises linearly from 0 to --hard_negative_weight; "
        "default 0.1 for tiny, 0 for a pretrained model.", default=None)
    hard_negative_mode: Literal["separate", "in_batch"] = _help(
        "'separate': the hard-negative captions in their own term (audio vs [own caption, own negatives]). "
        "'in_batch': no separate term; every row's negative captions join the audio->text denominator of the "
        "in-batch softmax (NegCLIP / CompA), each weighted by the scheduled --hard_negative_weight. Default "
        "in_batch: the same modifier/order/relation accuracy as 'separate' and text->audio R@1 kept at the "
        "caption-only level (docs/experiment.md, issue 12).", default="in_batch")
    audio_negative_weight: float = _help(
        "Weight of the audio-negative term: each caption vs [its own audio, its row's counterfactual clips] "
        "(text->audio cross-entropy); 0 disables it. Follows the hard-negative schedule (start, ramp).", default=0.0)
    logit_scale_max: float = _help("Clamp of the learnable logit scales.", default=100.0)
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = _help("'auto': bf16 on a GPU that supports it, else fp32.", default="auto")

    # --- bookkeeping
    logging_steps: int = _help("Log training metrics every N steps.", default=10)
    eval_steps: int = _help("Validation every N steps (and always at the end); 0: only at the end.", default=500)
    checkpointing_steps: int = _help("save_state every N steps into output_dir/checkpoint-<step>; 0 disables.", default=500)
    save_total_limit: int | None = _help("Keep only the newest N checkpoints.", default=None)
    resume_from_checkpoint: str | None = _help("A checkpoint folder, or 'latest' (newest in --output_dir).", default=None)
    report_to: str = _help("accelerate trackers, comma-separated; 'auto': tensorboard when installed; 'none'.", default="auto")


def parse_args(argv: list[str] | None = None) -> TrainClapArguments:
    """Command line, or a single .json / .yaml / .yml file holding the same fields."""
    from transformers import HfArgumentParser

    argv = sys.argv[1:] if argv is None else list(argv)
    parser = HfArgumentParser(TrainClapArguments)
    if len(argv) == 1 and argv[0].endswith(".json"):
        (args,) = parser.parse_json_file(argv[0])
    elif len(argv) == 1 and argv[0].endswith((".yaml", ".yml")):
        (args,) = parser.parse_yaml_file(argv[0])
    else:
        (args,) = parser.parse_args_into_dataclasses(args=argv)
    validate(args)
    return args


def validate(args: TrainClapArguments) -> None:
    """Fail before any model or data is loaded."""
    if args.tokenizer is not None and not is_tiny(args.model):
        raise ValueError("--tokenizer only applies to --model tiny (a pretrained model brings its own tokenizer)")
    if args.audio_time_channel and not is_tiny(args.model):
        raise ValueError("--audio_time_channel builds a new tiny audio encoder: use it with --model tiny")
    if args.tokenizer_only and (not is_tiny(args.model) or args.tokenizer is not None):
        raise ValueError("--tokenizer_only trains a new tiny tokenizer: use it with --model tiny and without --tokenizer")
    if args.per_device_train_batch_size < 2:
        raise ValueError("--per_device_train_batch_size must be >= 2 for in-batch negatives")
    if args.hard_negative_weight < 0 or args.max_negatives < 0:
        raise ValueError("--hard_negative_weight and --max_negatives must be >= 0")
    if args.audio_negative_weight < 0 or args.max_audio_negatives < 0:
        raise ValueError("--audio_negative_weight and --max_audio_negatives must be >= 0")
    check_hard_negative_schedule(*hard_negative_schedule(args))
    if bool(args.extra_datasets) != bool(args.extra_weights):
        raise ValueError("--extra_datasets and --extra_weights go together")
    if args.extra_datasets and len(extra_datasets(args)) != len(extra_weights(args)):
        raise ValueError("give one --extra_weights value per --extra_datasets entry")
    if args.extra_datasets and (min(extra_weights(args)) <= 0 or sum(extra_weights(args)) >= 1):
        raise ValueError("--extra_weights must be > 0 and sum to < 1 (the main dataset gets the rest)")


def extra_datasets(args: TrainClapArguments) -> list[str]:
    return [p.strip() for p in (args.extra_datasets or "").split(",") if p.strip()]


def extra_weights(args: TrainClapArguments) -> list[float]:
    return [float(w) for w in (args.extra_weights or "").split(",") if w.strip()]


def learning_rate(args: TrainClapArguments) -> float:
    if args.learning_rate is not None:
        return args.learning_rate
    return 5e-4 if is_tiny(args.model) else 1e-5


def hard_negative_schedule(args: TrainClapArguments) -> tuple[float, float]:
    """(start, ramp) as shares of the steps: the given values, else the defaults for the model."""
    tiny = is_tiny(args.model)
    start = args.hard_negative_start if args.hard_negative_start is not None else (0.5 if tiny else 0.0)
    ramp = args.hard_negative_ramp if args.hard_negative_ramp is not None else (0.1 if tiny else 0.0)
    return start, ramp


def check_hard_negative_schedule(start: float, ramp: float) -> None:
    if not (0 <= start < 1 and 0 <= ramp and start + ramp <= 1):
        raise ValueError("--hard_negative_start must be in [0, 1), --hard_negative_ramp >= 0, and the two must sum to <= 1")


def hard_negative_weight_at(args: TrainClapArguments, step: int, total_steps: int) -> float:
    """The hard-negative weight for optimizer step `step` (0-based): 0 before the start, then a linear ramp."""
    return args.hard_negative_weight * negative_schedule_at(args, step, total_steps)


def audio_negative_weight_at(args: TrainClapArguments, step: int, total_steps: int) -> float:
    """The audio-negative weight for step `step`: the same schedule as the caption hard negatives."""
    return args.audio_negative_weight * negative_schedule_at(args, step, total_steps)


def negative_schedule_at(args: TrainClapArguments, step: int, total_steps: int) -> float:
    """0 before the start, then a linear ramp to 1."""
    start, ramp = hard_negative_schedule(args)
    progress = step / max(1, total_steps)
    if progress < start:
        return 0.0
    if ramp <= 0:
        return 1.0
    return min(1.0, (progress - start) / ramp)
