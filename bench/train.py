"""Training throughput: the real train_clap.py pipeline vs a bare model step, side by side.

    python bench/train.py                       # CPU, tiny model, a small synth build
    python bench/train.py --size base --device cuda --batch 128 --steps 30   # GPU, laion/clap-htsat-unfused size
    python bench/train.py --size tiny-fast --baseline tiny   # the cheaper tiny size vs the calibrated one

"pipeline": `train_clap.py`'s own `train()` (parquet -> soundfile decode in DataLoader workers
-> soxr to 48 kHz -> 10 s crop/pad -> tokenization -> log-mel on the device -> loss with hard
negatives -> AdamW + clipping + schedule), timed per step after warm-up.
"bare": the same model, loss and optimizer on synthetic tensors of the same shapes (log-mel
input, token ids, negatives), already on the device. The ratio pipeline / bare says how much
of the model's speed the data pipeline lets through (1.0 = the model never waits).
"baseline" (--baseline SIZE): the pipeline again with another model size, in the same run;
`speedup` = pipeline / baseline pipeline.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before the project imports: huggingface_hub reads it once, when imported

from audiosetmix_lib.cli import main as cli_main
from audiosetmix_lib.training.args import learning_rate, parse_args
from audiosetmix_lib.training.features import add_time_channel, clap_feature_extractor, uses_time_channel
from audiosetmix_lib.training.loop import load_tables, resolve_mixed_precision, resolve_tokenizer, train, train_dataloader
from audiosetmix_lib.training.loss import clap_loss
from audiosetmix_lib.training.model import ClapTrainModule, build_model, parameter_groups, text_length_limit
from audiosetmix_lib.training.sizes import is_tiny


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset_dir", "--dataset", dest="dataset", help="a built AudioSetMix folder; default: build a small synth one in a temp dir")
    parser.add_argument("--rows", type=int, default=64, help="training rows of the synth build")
    sizes = ["tiny", "tiny-fast", "base"]
    parser.add_argument("--size", choices=sizes, default="tiny", help="base = laion/clap-htsat-unfused size, random init")
    parser.add_argument("--baseline", choices=sizes, help="also time the pipeline with this size and print the ratio")
    parser.add_argument("--time_channel", action="store_true", help="tiny sizes: --audio_time_channel (as the experiment)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10, help="timed steps (after --warmup)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="DataLoader workers of the pipeline")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the main process")
    cli = parser.parse_args()
    if cli.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # accelerate picks the GPU whenever one is visible (CUDA starts lazily, at first use)

    import torch

    torch.set_num_threads(cli.threads)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        dataset = cli.dataset or build_dataset(tmp / "data", cli.rows)
        model = cli.size if cli.size != "base" else save_base_model(dataset, tmp / "base")
        pipeline = pipeline_rate(dataset, model, tmp / "run", cli)
        bare = bare_rate(dataset, model, cli)
        if cli.baseline:
            reference = cli.baseline if cli.baseline != "base" else save_base_model(dataset, tmp / "base")
            baseline = pipeline_rate(dataset, reference, tmp / "baseline", cli)
    device = (torch.cuda.get_device_name() if cli.device == "cuda"
              else f"CPU ({os.cpu_count()} cores visible, {cli.threads} torch thread(s))")
    result = {
        "device": device,
        "model": cli.size,
        "batch": cli.batch,
        "steps": cli.steps,
        "workers": cli.workers,
        "pipeline_samples_per_s": round(pipeline, 2),
        "bare_samples_per_s": round(bare, 2),
        "ratio": round(pipeline / bare, 3),
    }
    if cli.baseline:
        result.update(baseline=cli.baseline, baseline_samples_per_s=round(baseline, 2), speedup=round(pipeline / baseline, 2))
    print(json.dumps(result, indent=2))


def build_dataset(folder: Path, rows: int) -> str:
    assert cli_main(["build", "--output_dir", str(folder), "--train", str(rows), "--validation", "8", "--test", "8", "--seed", "3"]) == 0
    return str(folder)


def training_args(dataset: str, model: str, output_dir: Path, cli, extra: list[str] = ()):
    if getattr(cli, "time_channel", False) and is_tiny(model):
        extra = [*extra, "--audio_time_channel"]
    return parse_args([
        "--dataset_dir", dataset, "--model", model, "--output_dir", str(output_dir),
        "--max_steps", str(cli.warmup + cli.steps), "--per_device_train_batch_size", str(cli.batch),
        "--dataloader_num_workers", str(cli.workers), "--validation_split=", "--checkpointing_steps", "0",
        "--report_to", "none", "--logging_steps", "1000", *extra,
    ])


def save_base_model(dataset: str, folder: Path) -> str:
    """A random-init ClapModel of laion/clap-htsat-unfused size (ClapConfig's defaults) + processor."""
    from transformers import ClapConfig, ClapModel, ClapProcessor

    args = training_args(dataset, "tiny", folder, argparse.Namespace(warmup=0, steps=1, batch=2, workers=0))
    tokenizer = resolve_tokenizer(args, load_tables(args))
    config = ClapConfig(text_config={"vocab_size": len(tokenizer)})
    ClapModel(config).save_pretrained(folder)
    ClapProcessor(feature_extractor=clap_feature_extractor(), tokenizer=tokenizer).save_pretrained(folder)
    return str(folder)


def pipeline_rate(dataset: str, model: str, output_dir: Path, cli) -> float:
    history = train(training_args(dataset, model, output_dir, cli)).history[cli.warmup :]
    return cli.batch * len(history) / sum(h["step_seconds"] for h in history)


def bare_rate(dataset: str, model: str, cli) -> float:
    """The pipeline's model, loss and optimizer step on synthetic tensors of one real batch's shapes."""
    import torch

    args = training_args(dataset, model, Path(tempfile.gettempdir()), cli, ["--dataloader_num_workers", "0"])
    tables = load_tables(args)
    tokenizer = resolve_tokenizer(args, tables)
    clap, processor = build_model(args.model, tokenizer, args.max_text_length, args.audio_time_channel)
    max_length = text_length_limit(clap.config, processor.tokenizer, args.max_text_length)
    real = next(iter(train_dataloader(args, tables, processor.tokenizer, processor.feature_extractor, max_length, 1)))
    device = torch.device(cli.device)
    g = torch.Generator().manual_seed(0)
    frames = processor.feature_extractor.nb_max_samples // processor.feature_extractor.hop_length + 1
    features = torch.randn(cli.batch, 1, frames, processor.feature_extractor.feature_size, generator=g) * 20 - 60
    if uses_time_channel(clap.config.audio_config):
        features = add_time_channel(features)
    features = features.to(device)
    input_ids = torch.randint(5, len(processor.tokenizer), real["input_ids"].shape, generator=g).to(device)
    attention_mask = torch.ones_like(input_ids)
    negative_index = real["negative_index"].to(device)

    module = ClapTrainModule(clap).to(device).train()
    optimizer = torch.optim.AdamW(parameter_groups(module, args.weight_decay), lr=learning_rate(args))
    bf16 = resolve_mixed_precision(args) == "bf16"
    times = []
    for _ in range(cli.warmup + cli.steps):
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            audio, text, scale_a, scale_t = module(features, input_ids, attention_mask)
        out = clap_loss(audio.float(), text[: cli.batch].float(), text[cli.batch :].float(), negative_index,
                        scale_a.float(), scale_t.float(), args.hard_negative_weight, args.logit_scale_max)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), args.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        float(out.loss.detach())  # wait for the device, as the pipeline's logging does
        times.append(time.perf_counter() - start)
    return cli.batch * cli.steps / sum(times[cli.warmup :])


if __name__ == "__main__":
    main()
