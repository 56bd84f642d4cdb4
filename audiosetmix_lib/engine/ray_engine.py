"""The Ray engine: the same planned shards, spread over a Ray cluster, byte-identical to the local engine.

Why Ray tasks and not Ray Data's writers: `Dataset.write_parquet` names its files itself
(`{uuid}_{block}.parquet`, one per block, blocks shaped by the scheduler), so a rerun or
another cluster size would write other names and other row groups. The output contract needs
fixed names and bytes (`train-00000-of-00004.parquet`, rows [0, 500), row groups of 100), so
each planned shard is ONE Ray task that runs the same `write_shard` as the local engine.

Two stages with their own concurrency, so neither waits behind the other:
- captioning (LLM captioners only): a few `CaptionActor`s (no CPU reserved: they wait on
  HTTP, each keeps `--llm_concurrency` requests in flight) caption whole shards, keeping the
  answers in the shard's own answer file;
- rendering: one task per shard (1 CPU each) that starts as soon as its shard's captions
  exist, while the actors caption the next shards. A Ray worker deserialises the RowMaker once
  and keeps it for its next shards (`worker_row_maker`), so its event cache stays warm, as in
  a local engine's worker.
The driver alone commits finished shards (rename + manifest) and gathers the caption records
(the fallback-rate guard runs on them as each shard's captions arrive). A worker killed
mid-shard is retried by Ray; the half-written file is never taken for a finished one.
"""

from __future__ import annotations

import copy
import os
import signal
import socket
import time
from dataclasses import replace

from ..captions.captioner import CaptionedSet, LLMCaptioner
from ..output.faults import FAULT_ENVS
from ..output.plan import ShardSpec
from ..output.shard_writer import CAPTION_BATCH_ROWS, ShardResult, write_shard
from ..stop_signals import BuildInterrupted, stops_deferred, take_back_stop_signals
from . import local_ray
from .local import WorkerDied

CAPTION_ACTORS = 2
TASK_RETRIES = 3  # a worker process that dies (killed, out of memory) is restarted this many times per shard


class RayUnavailable(RuntimeError):
    """Ray is not installed or the cluster cannot be reached; the message says what to do."""


class GivenCaptions:
    """A captioner whose texts were written elsewhere (the caption stage), looked up by row id."""

    source_name = "given"

    def __init__(self, captioned: dict[str, CaptionedSet]) -> None:
        self.captioned = captioned

    def caption_sets(self, sets, unit: str | None = None) -> list[CaptionedSet]:
        return [self.captioned[s.row_id] for s in sets]


def worker_maker(maker):
    """The maker shipped to workers: the captioner keeps its records in memory (returned to the driver),
    so no worker needs the driver's report file."""
    captioner = maker.captioner
    if isinstance(captioner, LLMCaptioner) and captioner.report is not None:
        captioner = copy.copy(captioner)
        captioner.report, captioner.records = None, []
    return replace(maker, captioner=captioner)


def caption_shard(maker, spec: ShardSpec, batch_rows: int = CAPTION_BATCH_ROWS) -> tuple[dict, list[dict]]:
    """(row id -> CaptionedSet, caption records) for one shard, in the local engine's caption batches."""
    captioned: dict[str, CaptionedSet] = {}
    unit = spec.name.removesuffix(".parquet")
    for start in range(spec.start, spec.stop, batch_rows):
        plans = [maker.plan(spec.split, i) for i in range(start, min(spec.stop, start + batch_rows))]
        sets = [caption_set for _, _, caption_set in plans]
        for caption_set, texts in zip(sets, maker.captioner.caption_sets(sets, unit=unit), strict=True):
            captioned[caption_set.row_id] = texts
    records, maker.captioner.records = list(maker.captioner.records), []
    return captioned, records


_WORKER_MAKERS: dict = {}  # one RowMaker per Ray worker process and build, kept across that worker's shards


def worker_row_maker(maker_box: list):
    """The build's RowMaker in this worker, deserialised once, not once per shard: its event cache (loaded,
    resampled recordings) stays warm from one shard to the next, as in a local engine's worker. The ref comes
    in a list so Ray passes the ref itself instead of resolving (and deserialising) it for every task."""
    import ray

    (ref,) = maker_box
    key = ref.hex()
    if key not in _WORKER_MAKERS:
        _WORKER_MAKERS.clear()  # a worker reused by a later build drops the earlier build's maker
        _WORKER_MAKERS[key] = ray.get(ref)
    return _WORKER_MAKERS[key]


def render_shard(maker_box: list, spec: ShardSpec, features, staging_dir: str, meta_dir: str,
                 captioned: dict | None, test_env: dict | None = None) -> ShardResult:
    maker = worker_row_maker(maker_box)
    for key in FAULT_ENVS:  # the driver's test fault settings, even on a cluster started elsewhere
        if (test_env or {}).get(key):
            os.environ[key] = test_env[key]
        else:
            os.environ.pop(key, None)
    if captioned is not None:
        maker = replace(maker, captioner=GivenCaptions(captioned))
    return write_shard(maker, spec, features, staging_dir, None, meta_dir)


def _test_env() -> dict:
    return {k: os.environ[k] for k in FAULT_ENVS if os.environ.get(k)}


def unreachable(address: str) -> str | None:
    """Why a `host:port` (or `ray://host:port`) address does not answer, or None: Ray itself would retry a dead
    address for minutes. `auto` and other forms are left to Ray, which fails fast on them."""
    target = address[len("ray://"):] if address.startswith("ray://") else address
    host, colon, port = target.rpartition(":")
    if not colon or not host or not port.isdigit() or "/" in target:
        return None
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=5):
            return None
    except OSError as error:
        return f"{type(error).__name__}: {error}"


def connect(address: str | None, num_cpus: int):
    """Join `address` (or RAY_ADDRESS), else start a local Ray with `num_cpus` CPUs in a folder of its own
    (`local_ray`: cleaned up after the build, even a killed one); (ray, that folder or None when joined)."""
    try:
        import ray
    except ImportError:
        raise RayUnavailable("--engine ray needs Ray: pip install 'audiosetmix[ray]' (or ray==2.60.0)") from None
    if ray.is_initialized():
        return ray, None
    address = address or os.environ.get("RAY_ADDRESS") or None
    why = unreachable(address) if address else None
    if why:
        raise RayUnavailable(f"cannot reach the Ray cluster at {address} ({why}); start it with `ray start --head` "
                             f"there, check the address (the head's host:port, or ray://host:10001), or leave "
                             f"--ray_address and RAY_ADDRESS unset for a local Ray")
    folder = None if address else local_ray.prepare()
    try:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, configure_logging=False,
                     _temp_dir=str(folder))
    except BaseException as error:
        if not address and ray.is_initialized():
            ray.shutdown()  # stopped while starting: the half-started local Ray goes too
        if folder is not None:
            local_ray.clean_up(folder)
        if isinstance(error, SystemExit) and error.code == signal.SIGTERM:
            raise BuildInterrupted("SIGTERM") from None  # Ray's own handler, in place while it starts
        if not isinstance(error, (ConnectionError, RuntimeError, ValueError)):
            raise
        raise RayUnavailable(f"cannot reach the Ray cluster at {address or 'a new local Ray'}: {error}; start one "
                             f"with `ray start --head` or leave --ray_address and RAY_ADDRESS unset") from None
    return ray, folder


def run_ray(maker, todo: list[ShardSpec], features, output, num_proc: int = 1, after_batch=None, log=print,
            address: str | None = None, caption_actors: int = CAPTION_ACTORS) -> None:
    """Build every shard of `todo` on Ray and commit each through `output` (a `output.contract.BuildOutput`)."""
    if not todo:
        return
    ray, own_folder = connect(address, max(1, num_proc))
    take_back_stop_signals()  # ray.init put its own SIGTERM handler (sys.exit(15)) in place of the driver's
    try:
        _run(ray, maker, todo, features, output, after_batch, log, caption_actors)
    finally:
        if own_folder is not None:
            ray.shutdown()  # its C core sets SIGTERM to the default while it ends (a stop then kills: exit 143)
            take_back_stop_signals()  # the card is still to be written
            local_ray.clean_up(own_folder)


def _run(ray, maker, todo, features, output, after_batch, log, caption_actors: int) -> None:
    from ray.exceptions import RayError

    started, total = time.time(), len(todo)
    shipped = worker_maker(maker)
    maker_ref = ray.put(shipped)
    features_ref = ray.put(features)
    staging, meta = str(output.staging_dir), str(output.meta_dir)
    render = ray.remote(num_cpus=1, max_retries=TASK_RETRIES)(render_shard)
    llm = isinstance(shipped.captioner, LLMCaptioner)
    faults = _test_env()
    records_refs, render_refs, actors = {}, {}, []
    if llm:
        actor_class = ray.remote(num_cpus=0, max_restarts=TASK_RETRIES, max_task_retries=TASK_RETRIES)(CaptionActor)
        actors = [actor_class.remote(maker_ref) for _ in range(max(1, min(caption_actors, total)))]
        for i, spec in enumerate(todo):
            captions_ref, records_ref = actors[i % len(actors)].caption.options(num_returns=2).remote(spec)
            records_refs[records_ref] = spec
            render_refs[render.remote([maker_ref], spec, features_ref, staging, meta, captions_ref, faults)] = spec
    else:
        for spec in todo:
            render_refs[render.remote([maker_ref], spec, features_ref, staging, meta, None, faults)] = spec
    report = maker.captioner.report if llm else None
    count = 0
    pending = list(records_refs) + list(render_refs)
    try:
        while pending:
            with stops_deferred():  # a stop raised inside Ray's wait would come out as a SystemError
                ready, pending = ray.wait(pending, num_returns=1, timeout=0.5)
            for ref in ready:
                try:
                    value = ray.get(ref)
                except RayError as error:
                    spec = records_refs.get(ref) or render_refs[ref]
                    cause = getattr(error, "cause", None)
                    if isinstance(cause, Exception) and not isinstance(cause, RayError):
                        raise cause from None  # e.g. BackendError: the same one line as the local engine
                    raise WorkerDied(f"the Ray workers building {spec.name} died {TASK_RETRIES + 1} times "
                                     f"({type(error).__name__})") from None
                if ref in records_refs:
                    if report is not None:
                        for record in value:
                            report.add(record)
                    else:
                        maker.captioner.records.extend(value)
                    if after_batch is not None:
                        after_batch(0)
                    continue
                count += 1
                output.commit(value)
                log(f"  shard {value.spec.name}: {value.rows} rows ({count}/{total} shards, "
                    f"{time.time() - started:.1f} s, ray)", flush=True)
    except BaseException:
        # No ray.cancel on the render tasks: cancelling races with Ray's own task retries and can abort the
        # driver process (a RAY_CHECK in CompletePendingTask, ray-project/ray#54798). The caption actors are
        # killed (their dependent renders then fail without running); the driver's exit, or ray.shutdown()
        # for a Ray we started, ends the rest of the job's tasks.
        for actor in actors:
            try:
                ray.kill(actor, no_restart=True)
            except Exception:  # noqa: BLE001 - best effort: the job's end removes it anyway
                pass
        raise


class CaptionActor:
    """Captions whole shards; one process with its own LLM client (event loop, keep-alive connections)."""

    def __init__(self, maker) -> None:
        self.maker = maker

    def caption(self, spec: ShardSpec):
        return caption_shard(self.maker, spec)
