"""The training loop behind `train_clap.py`: the accelerate skeleton of the transformers examples.

set_seed -> tokenizer/model -> data -> prepare -> (load_state + skip_first_batches) ->
steps (log-mel on the device, loss, clip, step, cosine schedule) with logging, validation and
save_state checkpoints -> save_pretrained of model + processor at the root of output_dir.

No gradient accumulation on purpose: accumulating contrastive micro-batches without a feature
cache silently shrinks the number of in-batch negatives (docs/training.md). Scale the batch with
more processes instead; negatives are gathered across them.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from audiosetmix_lib.training import args as args_lib
from audiosetmix_lib.training.args import TrainClapArguments
from audiosetmix_lib.training.data import AudioCaptionDataset, CaptionTable, Collator, MixtureSampler, SampleKey, epoch_size, load_split
from audiosetmix_lib.training.features import LogMel, uses_time_channel
from audiosetmix_lib.training.loss import accelerator_gather, clap_loss
from audiosetmix_lib.training.model import (
    ClapTrainModule,
    build_model,
    clamp_logit_scales,
    count_parameters,
    parameter_groups,
    text_length_limit,
)
from audiosetmix_lib.training.sizes import is_tiny
from audiosetmix_lib.training.summary import final_summary
from audiosetmix_lib.training.tokenizer import load_tokenizer, train_tokenizer
from audiosetmix_lib.training.validation import evaluate

STATE_FILE = "train_state.json"


@dataclass
class TrainResult:
    output_dir: str
    history: list[dict] = field(default_factory=list)  # one entry per step run by this call
    eval_metrics: dict = field(default_factory=dict)  # the last validation


def train(args: TrainClapArguments) -> TrainResult:
    import torch
    from accelerate import Accelerator
    from accelerate.utils import ProjectConfiguration, set_seed

    began = time.time()
    args_lib.validate(args)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # tokenizers in forked workers
    output_dir = Path(args.output_dir)
    accelerator = Accelerator(
        mixed_precision=resolve_mixed_precision(args),
        log_with=_trackers(args),
        project_config=ProjectConfiguration(project_dir=str(output_dir), logging_dir=str(output_dir / "logs")),
    )
    set_seed(args.seed)

    tables = load_tables(args)
    tokenizer = resolve_tokenizer(args, tables)
    if args.tokenizer_only:
        if accelerator.is_main_process:
            tokenizer.save_pretrained(str(output_dir))
        accelerator.print(f"tokenizer ({len(tokenizer)} tokens) saved to {output_dir}")
        return TrainResult(str(output_dir))

    from transformers import get_cosine_schedule_with_warmup

    clap, processor = build_model(args.model, tokenizer, args.max_text_length, args.audio_time_channel)
    tokenizer = processor.tokenizer
    max_length = text_length_limit(clap.config, tokenizer, args.max_text_length)
    module = ClapTrainModule(clap)
    fe = processor.feature_extractor
    train_loader = accelerator.prepare(train_dataloader(args, tables, tokenizer, fe, max_length, accelerator.num_processes))
    eval_loader = eval_dataloader(args, tokenizer, fe, max_length)
    if eval_loader is not None:
        eval_loader = accelerator.prepare(eval_loader)

    steps_per_epoch = len(train_loader)  # per process, after sharding
    total_steps = args.max_steps if args.max_steps > 0 else math.ceil(args.num_train_epochs * steps_per_epoch)
    optimizer = torch.optim.AdamW(parameter_groups(module, args.weight_decay), lr=args_lib.learning_rate(args))
    # accelerate steps a prepared scheduler once per process per optimizer step
    scheduler = get_cosine_schedule_with_warmup(
        optimizer,
        num_warmup_steps=int(args.warmup_ratio * total_steps) * accelerator.num_processes,
        num_training_steps=total_steps * accelerator.num_processes,
    )
    module, optimizer, scheduler = accelerator.prepare(module, optimizer, scheduler)
    logmel = LogMel.from_feature_extractor(fe, uses_time_channel(clap.config.audio_config)).to(accelerator.device)
    gather = accelerator_gather(accelerator)
    with_negatives = trains_on_negatives(args)
    with_audio_negatives = trains_on_audio_negatives(args)

    start_step = _resume(args, accelerator, output_dir)
    accelerator.init_trackers("train_clap", config=_tracker_config(args))
    accelerator.print(
        f"model {args.model}: {count_parameters(clap) / 1e6:.2f} M parameters; {steps_per_epoch} steps/epoch, "
        f"{total_steps} steps, global batch {args.per_device_train_batch_size * accelerator.num_processes}, "
        f"mixed precision {accelerator.mixed_precision}"
    )
    if with_negatives:
        start, ramp = args_lib.hard_negative_schedule(args)
        accelerator.print(f"hard-negative term ({args.hard_negative_mode}): weight {args.hard_negative_weight}, "
                          f"off before step {math.ceil(start * total_steps)}, full from step {math.ceil((start + ramp) * total_steps)}")
    if with_audio_negatives:
        accelerator.print(f"audio-negative term: weight {args.audio_negative_weight}, up to {args.max_audio_negatives} "
                          f"counterfactual clips per caption, on the same schedule")

    result = TrainResult(str(output_dir))
    progress = _progress(total_steps, start_step, accelerator)
    step = start_step
    module.train()
    while step < total_steps:
        epoch = step // steps_per_epoch
        train_loader.set_epoch(epoch)
        loader = train_loader
        if step % steps_per_epoch:
            from accelerate import skip_first_batches

            loader = skip_first_batches(train_loader, step % steps_per_epoch)
            loader.set_epoch(epoch)
        started = time.perf_counter()
        for batch in loader:
            hard_weight = args_lib.hard_negative_weight_at(args, step, total_steps) if with_negatives else 0.0
            audio_weight = args_lib.audio_negative_weight_at(args, step, total_steps) if with_audio_negatives else 0.0
            out = train_step(module, logmel, batch, optimizer, scheduler, accelerator, args, gather, hard_weight, audio_weight)
            step += 1
            # data wait + step; validation and checkpoints below are not counted
            record = {"step": step, "epoch": epoch, "step_seconds": time.perf_counter() - started, **out}
            result.history.append(record)
            progress.update(1)
            progress.set_postfix(loss=f"{out['train/loss']:.4f}")
            if step % max(1, args.logging_steps) == 0 or step == total_steps:
                accelerator.log({k: v for k, v in out.items() if k.startswith("train/")}, step=step)
            if eval_loader is not None and args.eval_steps > 0 and step % args.eval_steps == 0 and step < total_steps:
                result.eval_metrics = _validate(module, logmel, eval_loader, accelerator, step)
            if args.checkpointing_steps > 0 and step % args.checkpointing_steps == 0:
                _checkpoint(args, accelerator, output_dir, step, epoch)
            if step >= total_steps:
                break
            started = time.perf_counter()
    progress.close()

    if eval_loader is not None:
        result.eval_metrics = _validate(module, logmel, eval_loader, accelerator, step)
    _save_final(args, accelerator, module, processor, output_dir, result, began, step - start_step)
    accelerator.end_training()
    return result


def train_step(module, logmel, batch, optimizer, scheduler, accelerator, args, gather, hard_weight, audio_weight=0.0) -> dict:
    import torch

    batch_size = batch["waveforms"].shape[0]
    waveforms = batch["waveforms"]
    clips = batch.get("negative_waveforms") if audio_weight > 0 else None  # weight 0: the term is off, skip the encoder
    if clips is not None:  # counterfactual clips: one forward with the rows' own audio
        waveforms = torch.cat([waveforms, clips.to(waveforms.dtype)], dim=0)
    features = logmel(waveforms)
    audio, text, scale_a, scale_t = module(features, batch["input_ids"], batch["attention_mask"])
    audio, negative_audio = audio[:batch_size], audio[batch_size:]
    out = clap_loss(
        audio.float(), text[:batch_size].float(), text[batch_size:].float(), batch["negative_index"],
        scale_a.float(), scale_t.float(), hard_negative_weight=hard_weight,
        logit_scale_max=args.logit_scale_max, gather=gather, hard_negative_mode=args.hard_negative_mode,
        negative_audio=negative_audio.float() if clips is not None else None,
        negative_audio_index=batch.get("negative_audio_index") if clips is not None else None,
        audio_negative_weight=audio_weight,
    )
    accelerator.backward(out.loss)
    grad_norm = accelerator.clip_grad_norm_(module.parameters(), args.max_grad_norm) if args.max_grad_norm > 0 else None
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    clamp_logit_scales(accelerator.unwrap_model(module).clap, args.logit_scale_max)
    record = {
        "train/loss": float(out.loss.detach()),
        "train/contrastive": float(out.contrastive),
        "train/hard_negative": float(out.hard),
        "train/hard_negative_weight": hard_weight,
        "train/negatives_in_batch": out.negatives_in_batch,
        "train/negatives_hard_per_audio": out.negatives_hard,
        "train/negatives_per_audio": out.negatives_in_batch + (out.negatives_hard if hard_weight > 0 and args.hard_negative_mode == "separate" else 0.0),
        "train/audio_negative": float(out.audio_hard),
        "train/audio_negative_weight": audio_weight,
        "train/audio_negatives_per_caption": out.audio_negatives,
        "train/logit_scale_audio": float(scale_a.detach().clamp(max=args.logit_scale_max)),
        "train/learning_rate": scheduler.get_last_lr()[0],
    }
    if grad_norm is not None:
        record["train/grad_norm"] = float(grad_norm)
    return record


def trains_on_negatives(args: TrainClapArguments) -> bool:
    """Whether training batches carry hard negatives at all."""
    return args.caption_mode == "caption" and args.max_negatives > 0 and args.hard_negative_weight > 0


def trains_on_audio_negatives(args: TrainClapArguments) -> bool:
    """Whether training batches carry counterfactual clips."""
    return args.caption_mode == "caption" and args.max_audio_negatives > 0 and args.audio_negative_weight > 0


def load_tables(args: TrainClapArguments) -> list:
    def table(name, split, max_rows=None, clips=0):
        return CaptionTable(
            load_split(name, split, args.dataset_config if name == args.dataset else None),
            audio_column=args.audio_column, caption_column=args.caption_column,
            negatives_column=args.negatives_column, labels_column=args.labels_column,
            caption_mode=args.caption_mode, max_negatives=args.max_negatives, max_rows=max_rows, name=name,
            negative_audio_column=args.negative_audio_column,
            max_audio_negatives=clips,
        )

    # counterfactual clips come from the main (AudioSetMix) dataset only; extra caption datasets have none
    main = table(args.dataset, args.train_split, args.max_train_samples,
                 args.max_audio_negatives if trains_on_audio_negatives(args) else 0)
    return [main] + [table(name, args.extra_split) for name in args_lib.extra_datasets(args)]


def resolve_tokenizer(args: TrainClapArguments, tables):
    if not is_tiny(args.model):
        return None
    if args.tokenizer:
        return load_tokenizer(args.tokenizer, args.max_text_length)
    texts = (text for t in tables for text in t.corpus())
    return train_tokenizer(texts, args.tokenizer_vocab_size, args.max_text_length)


def train_dataloader(args, tables, tokenizer, fe, max_length, num_processes):
    import torch

    weights = args_lib.extra_weights(args)
    weights = [1.0 - sum(weights)] + weights
    samples = epoch_size(len(tables[0]), weights[0])
    global_batch = args.per_device_train_batch_size * num_processes
    if samples < global_batch:
        raise ValueError(f"an epoch has {samples} samples, fewer than one global batch ({global_batch})")
    sampler = MixtureSampler([len(t) for t in tables], weights, args.seed, samples)
    dataset = AudioCaptionDataset(tables, fe.sampling_rate, fe.nb_max_samples)
    k = args.max_negatives if trains_on_negatives(args) else 0
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=args.per_device_train_batch_size, sampler=sampler, drop_last=True,
        collate_fn=Collator(tokenizer, max_length, k, args.max_audio_negatives if trains_on_audio_negatives(args) else 0),
        num_workers=args.dataloader_num_workers, persistent_workers=args.dataloader_num_workers > 0, pin_memory=torch.cuda.is_available(),
        # worker seeds come from this generator, not the global RNG, so resuming mid-epoch
        # replays the same dropout draws as an uninterrupted run
        generator=torch.Generator().manual_seed(args.seed),
    )
    return loader


def eval_dataloader(args, tokenizer, fe, max_length):
    import torch

    if not args.validation_split:
        return None
    try:
        ds = load_split(args.dataset, args.validation_split, args.dataset_config)
    except (KeyError, ValueError) as error:
        logging.getLogger(__name__).warning("no validation (split %r: %s)", args.validation_split, error)
        return None
    table = CaptionTable(
        ds, audio_column=args.audio_column, caption_column=args.caption_column,
        negatives_column=args.negatives_column, labels_column=args.labels_column,
        caption_mode="caption", max_negatives=args.max_negatives, max_rows=args.max_eval_samples, name=args.dataset,
    )
    dataset = AudioCaptionDataset([table], fe.sampling_rate, fe.nb_max_samples)
    keys = [SampleKey(0, row, None) for row in range(len(table))]
    return torch.utils.data.DataLoader(
        dataset, batch_size=args.per_device_eval_batch_size, sampler=keys,
        collate_fn=Collator(tokenizer, max_length, args.max_negatives), num_workers=args.dataloader_num_workers,
    )


def _validate(module, logmel, eval_loader, accelerator, step) -> dict:
    metrics = evaluate(module, logmel, eval_loader, accelerator)
    accelerator.log(metrics, step=step)
    shown = {k: v for k, v in sorted(metrics.items()) if "R@" in k or k.endswith("/accuracy")}
    accelerator.print(f"step {step}: " + ", ".join(f"{k}={v:.3f}" for k, v in shown.items()))
    return metrics


def _checkpoint(args, accelerator, output_dir: Path, step: int, epoch: int) -> None:
    folder = output_dir / f"checkpoint-{step}"
    accelerator.save_state(str(folder))
    if accelerator.is_main_process:
        (folder / STATE_FILE).write_text(json.dumps({"step": step, "epoch": epoch}) + "\n")
        if args.save_total_limit:
            for old in _checkpoints(output_dir)[: -args.save_total_limit]:
                shutil.rmtree(old)
    accelerator.wait_for_everyone()


def _checkpoints(output_dir: Path) -> list[Path]:
    found = [p for p in output_dir.glob("checkpoint-*") if (p / STATE_FILE).is_file()]
    return sorted(found, key=lambda p: json.loads((p / STATE_FILE).read_text())["step"])


def _resume(args, accelerator, output_dir: Path) -> int:
    """load_state from --resume_from_checkpoint; returns the step to continue from."""
    if not args.resume_from_checkpoint:
        return 0
    if args.resume_from_checkpoint == "latest":
        found = _checkpoints(output_dir)
        if not found:
            accelerator.print(f"no checkpoint in {output_dir}: starting from scratch")
            return 0
        folder = found[-1]
    else:
        folder = Path(args.resume_from_checkpoint)
    accelerator.load_state(str(folder))
    step = json.loads((folder / STATE_FILE).read_text())["step"]
    accelerator.print(f"resumed from {folder} at step {step}")
    return int(step)


def _save_final(args, accelerator, module, processor, output_dir: Path, result: TrainResult, began: float,
                steps: int) -> None:
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        clap = accelerator.unwrap_model(module).clap
        clap.save_pretrained(str(output_dir))
        processor.save_pretrained(str(output_dir))
        (output_dir / "train_args.json").write_text(json.dumps(asdict(args), indent=2, sort_keys=True) + "\n")
        if result.eval_metrics:
            (output_dir / "eval_results.json").write_text(json.dumps(result.eval_metrics, indent=2, sort_keys=True) + "\n")
        accelerator.print(final_summary(str(output_dir), args.dataset, processor.feature_extractor.sampling_rate,
                                        uses_time_channel(clap.config.audio_config), time.time() - began, steps,
                                        steps * args.per_device_train_batch_size * accelerator.num_processes,
                                        result.eval_metrics))
    accelerator.wait_for_everyone()


def resolve_mixed_precision(args) -> str:
    if args.mixed_precision != "auto":
        return args.mixed_precision
    import torch

    return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"


def _trackers(args):
    if args.report_to == "none":
        return None
    if args.report_to == "auto":
        from accelerate.utils import is_tensorboard_available

        return "tensorboard" if is_tensorboard_available() else None
    return [name.strip() for name in args.report_to.split(",") if name.strip()]


def _tracker_config(args) -> dict:
    """Hyper-parameters as trackers accept them (scalars and strings, no None)."""
    return {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in asdict(args).items()}


def _progress(total: int, initial: int, accelerator):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, disable=not accelerator.is_local_main_process, desc="train", dynamic_ncols=True)
