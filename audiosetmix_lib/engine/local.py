"""The local engine: planned shards over ONE process pool for the whole build (or in-process for one process).

Each task is `write_shard` for one shard; the driver alone commits results (rename + manifest),
so the manifest has one writer. Workers are bound to the driver's life (`worker_life`). On
SIGTERM or Ctrl-C the driver kills its workers, keeps the finished shards and stops with
`BuildInterrupted`; the same command then resumes.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from ..output.plan import ShardSpec
from ..output.shard_writer import ShardResult, write_shard
from .worker_life import bind_to_parent


class WorkerDied(RuntimeError):
    """A worker process ended without finishing its shard (killed, out of memory)."""


_STATE: dict = {}


def _init_worker(parent_pid: int, maker, features, staging_dir: str, meta_dir: str, after_batch) -> None:
    bind_to_parent(parent_pid)
    _STATE.update(maker=maker, features=features, staging_dir=staging_dir, meta_dir=meta_dir, after_batch=after_batch)


def _run_shard(spec: ShardSpec) -> ShardResult:
    s = _STATE
    return write_shard(s["maker"], spec, s["features"], s["staging_dir"], s["after_batch"], s["meta_dir"])


def _kill_pool(pool: ProcessPoolExecutor) -> None:
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        if process.is_alive():
            process.kill()
    for process in processes:
        process.join(timeout=10)
    pool.shutdown(wait=False, cancel_futures=True)


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity, e.g. a container's or taskset's share), as `--num_proc`'s default."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def run_local(maker, todo: list[ShardSpec], features, output, num_proc: int = 1, after_batch=None, log=print) -> None:
    """Build every shard of `todo` and commit each through `output` (a `output.contract.BuildOutput`)."""
    if not todo:
        return
    started, total = time.time(), len(todo)

    def done(result: ShardResult, count: int) -> None:
        output.commit(result)
        log(f"  shard {result.spec.name}: {result.rows} rows ({count}/{total} shards, {time.time() - started:.1f} s)",
            flush=True)

    if num_proc <= 1:
        for count, spec in enumerate(todo, 1):
            done(write_shard(maker, spec, features, str(output.staging_dir), after_batch, str(output.meta_dir)), count)
        return
    context = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
    pool = ProcessPoolExecutor(max_workers=min(num_proc, total), mp_context=context, initializer=_init_worker,
                               initargs=(os.getpid(), maker, features, str(output.staging_dir),
                                         str(output.meta_dir), after_batch))
    try:
        futures = {pool.submit(_run_shard, spec): spec for spec in todo}
        count = 0
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                try:
                    result = future.result()
                except BrokenProcessPool:
                    raise WorkerDied(f"a worker process died while building {futures[future].name}") from None
                count += 1
                done(result, count)
    except BaseException:
        _kill_pool(pool)
        raise
    pool.shutdown(wait=True)
