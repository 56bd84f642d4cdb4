"""The README's training command is one a user can run as written (issue 13 item 14)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def training_commands() -> list[list[str]]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Training a CLAP model"):]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1)
    lines = [line for line in block.replace("\\\n", " ").splitlines() if line.strip() and not line.startswith("#")]
    return [shlex.split(line) for line in lines]


def test_tiny_training_command_uses_the_time_channel_parses_and_has_a_time_estimate():
    from audiosetmix_lib.training.args import parse_args

    commands = training_commands()
    tiny = [c for c in commands if "tiny" in c]
    assert len(tiny) == 1
    argv = tiny[0][tiny[0].index("train_clap.py") + 1:]
    assert "--audio_time_channel" in argv
    args = parse_args(argv)
    assert args.audio_time_channel and args.model == "tiny"
    samples = args.max_steps * args.per_device_train_batch_size
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Training a CLAP model"):text.index("## Evaluation")]
    minutes = round(samples / 16 / 60)  # ~16 samples/s on 2 CPU cores (bench/train.py)
    assert f"{samples:,}" in section and f"~{minutes} min" in section
