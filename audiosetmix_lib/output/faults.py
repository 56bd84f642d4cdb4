"""Deterministic fault injection for tests: no sleep-and-kill races.

`AUDIOSETMIX_TEST_CRASH_SHARD=k`: the first attempt at planned shard k (its `position`) kills
its own process with SIGKILL after writing half its rows. `AUDIOSETMIX_TEST_HANG_SHARD=k`: it
stops there and waits to be killed. Either one first creates the marker file
`<out>/.audiosetmix/test-fault-<k>`, so the attempt is "first" only while that file is
absent, and a test can wait for the marker instead of sleeping.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

CRASH_ENV = "AUDIOSETMIX_TEST_CRASH_SHARD"
HANG_ENV = "AUDIOSETMIX_TEST_HANG_SHARD"


def marker_path(meta_dir: str | os.PathLike, position: int) -> Path:
    return Path(meta_dir) / f"test-fault-{position}"


def _wanted(env: str, position: int) -> bool:
    value = os.environ.get(env, "").strip()
    return value != "" and value.lstrip("-").isdigit() and int(value) == position


def fault_wanted(meta_dir: str | os.PathLike | None, position: int) -> bool:
    """True for the first attempt at the shard named by the environment (its marker not yet there)."""
    if meta_dir is None or not (_wanted(CRASH_ENV, position) or _wanted(HANG_ENV, position)):
        return False
    return not marker_path(meta_dir, position).exists()


def maybe_fail_half_way(meta_dir: str | os.PathLike | None, position: int) -> None:
    """Called by the shard writer once half the shard's rows are on disk."""
    if not fault_wanted(meta_dir, position):
        return
    marker = marker_path(meta_dir, position)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(str(os.getpid()), encoding="utf-8")
    if _wanted(CRASH_ENV, position):
        os.kill(os.getpid(), signal.SIGKILL)
    while True:  # HANG: wait for the test to kill the build
        time.sleep(0.2)
