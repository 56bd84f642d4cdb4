"""What a user reads when training ends: time, where the model and its metrics are, how to use it, what to run next.

A `--audio_time_channel` model takes [log-mel, time] features: `pipeline("zero-shot-audio-classification")`
gives it the stock one-channel features and fails inside torch, so the summary names the way that works.
"""

from __future__ import annotations

from pathlib import Path


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def usage_lines(output_dir: str, rate: int, time_channel: bool) -> list[str]:
    """How to classify with the saved model: the pipeline, or (time channel) the project's helper."""
    if time_channel:
        return ["  use it: this model takes [log-mel, time] features (--audio_time_channel); "
                "pipeline('zero-shot-audio-classification') cannot feed it (it fails: 'expected input ... to have 2 channels').",
                f"          Classify with ClapModel.from_pretrained({output_dir!r}) and "
                "audiosetmix_lib.training.features.add_time_channel(features) (README, 'Use the model'), "
                "or evaluate it with eval/evaluate_clap.py (it adds the channel)"]
    return [f"  use it: pipeline('zero-shot-audio-classification', model={output_dir!r}) on {rate} Hz arrays"]


def final_summary(output_dir: str, dataset: str, rate: int, time_channel: bool, seconds: float, steps: int,
                  samples: int, eval_metrics: dict) -> str:
    """The end-of-training block (printed once, by the main process)."""
    out = Path(output_dir)
    lines = ["", "=== train_clap summary ===",
             f"  time: {_duration(seconds)} ({steps} steps, {samples:,} samples)",
             f"  model and processor: {out} (they expect {rate} Hz audio and do not resample: "
             f"ds.cast_column('audio', Audio(sampling_rate={rate})) first)"]
    if eval_metrics:
        shown = ", ".join(f"{k.split('/', 1)[-1]} {v:.3f}" for k, v in sorted(eval_metrics.items())
                          if isinstance(v, float) and "R@1" in k)
        lines.append(f"  validation metrics: {out / 'eval_results.json'}" + (f" ({shown})" if shown else ""))
    lines.append(f"  logs: {out / 'logs'} (tensorboard --logdir {out / 'logs'}); arguments: {out / 'train_args.json'}")
    lines += usage_lines(str(out), rate, time_channel)
    lines.append(f"  next: python eval/evaluate_clap.py --model {out} --dataset {dataset} --split test "
                 f"--output_dir {out}-eval")
    return "\n".join(lines)
