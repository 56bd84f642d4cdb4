"""Shared fixtures: small real datasets built with the real builder (no network, no shared/ files)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
# Two test workers share two cores: one torch/BLAS thread each (and in every subprocess they start);
# more threads oversubscribe the cores and spin-wait on each other.
os.environ.setdefault("OMP_NUM_THREADS", "1")


# The files that take longest (`pytest --durations`, 2 cores), collected first: `-n 2 --dist loadfile`
# hands out files in collection order, so the long ones start at once and the short ones fill in
# around them (longest first).
LONGEST_FILES = ("test_run_experiment.py", "test_ray_engine.py", "test_evaluate_clap.py", "test_output_contract.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


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
