"""Shared fixtures: small real datasets built with the real builder (no network, no shared/ files)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def build_dataset(output_dir: Path, *extra: str) -> Path:
    """Run `audiosetmix.py build` in-process and return the output folder."""
    from audiosetmix_lib.cli import main

    argv = ["build", "--output_dir", str(output_dir), *extra]
    assert main(argv) == 0
    return output_dir


@pytest.fixture(scope="session")
def tiny_dataset_dir(tmp_path_factory) -> Path:
    """A synth build of 24 / 8 / 8 rows at 16 kHz, 3 negatives per row, shards of 10 rows."""
    out = tmp_path_factory.mktemp("tiny") / "audiosetmix-tiny"
    return build_dataset(out, "--train", "24", "--validation", "8", "--test", "8", "--rows_per_shard", "10", "--seed", "7")
