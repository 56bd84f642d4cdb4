"""Deterministic fault injection for tests: no sleep-and-kill races.

`AUDIOSETMIX_TEST_CRASH_SHARD=k`: the first attempt at planned shard k (its `position`) kills
its own process with SIGKILL after writing half its rows. `AUDIOSETMIX_TEST_HANG_SHARD=k`: it
stops there and waits to be killed. `AUDIOSETMIX_TEST_STOP_SHARD=k`: it stops itself with
SIGSTOP there and goes on when the test sends SIGCONT (to change the world under a running
build, e.g. delete a source file). Each one first creates the marker file
`<out>/.audiosetmix/test-fault-<k>`, so the attempt is "first" only while that file is
absent, and a test can wait for the marker instead of sleeping. The marker lives where the
output does (a local folder or an object store, through fsspec), so it works on any engine.
"""

from __future__ import annotations

import os
import signal
import time

import fsspec

CRASH_ENV = "AUDIOSETMIX_TEST_CRASH_SHARD"
HANG_ENV = "AUDIOSETMIX_TEST_HANG_SHARD"
STOP_ENV = "AUDIOSETMIX_TEST_STOP_SHARD"
FAULT_ENVS = (CRASH_ENV, HANG_ENV, STOP_ENV)


def marker_path(meta_dir: str | os.PathLike, position: int) -> str:
    return str(meta_dir).rstrip("/") + f"/test-fault-{position}"


def remove_marker(meta_dir: str | os.PathLike, position: int) -> None:
    fs, path = fsspec.core.url_to_fs(marker_path(meta_dir, position))
    if fs.exists(path):
        fs.rm_file(path)


def _wanted(env: str, position: int) -> bool:
    value = os.environ.get(env, "").strip()
    return value != "" and value.lstrip("-").isdigit() and int(value) == position


def fault_wanted(meta_dir: str | os.PathLike | None, position: int) -> bool:
    """True for the first attempt at the shard named by the environment (its marker not yet there)."""
    if meta_dir is None or not any(_wanted(env, position) for env in FAULT_ENVS):
        return False
    fs, path = fsspec.core.url_to_fs(marker_path(meta_dir, position))
    return not fs.exists(path)


def stops_only(position: int) -> bool:
    """The fault is a pause (SIGSTOP): the shard's bytes must stay those of a build without it."""
    return _wanted(STOP_ENV, position) and not (_wanted(CRASH_ENV, position) or _wanted(HANG_ENV, position))


def maybe_fail_half_way(meta_dir: str | os.PathLike | None, position: int) -> None:
    """Called by the shard writer once half the shard's rows are on disk."""
    if not fault_wanted(meta_dir, position):
        return
    fs, marker = fsspec.core.url_to_fs(marker_path(meta_dir, position))
    fs.makedirs(marker.rsplit("/", 1)[0], exist_ok=True)
    fs.pipe_file(marker, str(os.getpid()).encode())
    if _wanted(CRASH_ENV, position):
        os.kill(os.getpid(), signal.SIGKILL)
    if _wanted(STOP_ENV, position):
        os.kill(os.getpid(), signal.SIGSTOP)
        return  # SIGCONT: the shard goes on
    while True:  # HANG: wait for the test to kill the build
        time.sleep(0.2)
