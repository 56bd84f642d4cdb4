"""Captions per second: the template grammar, and the `openai` backend at concurrency 1 vs N.

The LLM side runs against local test servers (127.0.0.1) with a simulated latency per
request (200 ms by default), no cache, so it measures what concurrency buys against a
latency-bound server (rates: captions / seconds; the serial run captions fewer rows so it
ends in seconds).

    python bench/captions.py [--endpoints 4] [--latency 0.2] [--concurrency 256] [--rows_parallel 402]

Against `--endpoints` local test servers, each its own process (as several vLLM servers
would be), captions/s at concurrency 1 and at `--concurrency`, side by side in one run, and
the client's CPU milliseconds per caption (this process's CPU time / captions); then the
same client against one in-process test server (the reference measurement of issue 14).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from contextlib import contextmanager
from itertools import islice

import numpy as np

from audiosetmix_lib.audibility import Audibility
from audiosetmix_lib.captions.backend import Sampling
from audiosetmix_lib.captions.captioner import CaptionSet, LLMCaptioner
from audiosetmix_lib.captions.openai_backend import OpenAIBackend
from audiosetmix_lib.captions.template import template_caption
from audiosetmix_lib.captions.template_captioner import TemplateCaptioner
from audiosetmix_lib.config import MixConfig
from audiosetmix_lib.describe import describe
from audiosetmix_lib.negatives import iter_negatives
from audiosetmix_lib.sampler import sample_recipe
from audiosetmix_lib.sources import EventPool, make_source
from audiosetmix_lib.testing.mock_server import MockChatServer


def recipes(n: int, seed: int = 0):
    source = make_source("synth")
    pool = EventPool(source.events())
    audible = Audibility(source, 16000).audible  # the recipes a build draws
    return pool, [sample_recipe(pool, MixConfig(), seed, "train", i, 16000, source.spec(), audible=audible) for i in range(n)]


def bench_template(n: int) -> float:
    _, rs = recipes(n)
    started = time.perf_counter()
    for r in rs:
        template_caption(describe(r), r.caption_seed)
    return n / (time.perf_counter() - started)


def caption_sets(rows: int, negatives: int):
    pool, rs = recipes(rows, seed=1)
    template, sets = TemplateCaptioner(), []
    for r in rs:
        chosen = [n.recipe for n in islice(iter_negatives(r, pool, np.random.default_rng(r.index)), negatives)]
        sets.append(CaptionSet(r.id, [r] + chosen, template.caption_set([r] + chosen)))
    return sets


def _caption(backend, sets) -> tuple[float, int, float, float]:
    """(captions per second, captions, LLM share of rows, client CPU ms per caption) for one backend."""
    captioner = LLMCaptioner(backend, "mock", Sampling(), max_retries=0)
    captioner.caption_sets(sets[:2])  # connections opened, event loop started: not counted
    captioner.records.clear()
    cpu, started = time.process_time(), time.perf_counter()
    captioner.caption_sets(sets[2:])
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    summary = captioner.summary()
    n = summary["requests_sent"]
    backend.close()
    return n / elapsed, n, summary["llm_rate"], 1000 * cpu / max(n, 1)


def bench_in_process(sets, latency: float, concurrency: int):
    """The issue's reference measurement: one in-process test server (its threads share this process's CPU)."""
    with MockChatServer(latency=latency) as server:
        server.log_entries = False
        return _caption(OpenAIBackend(base_url=server.url, model="mock", concurrency=concurrency, timeout=60.0), sets)


@contextmanager
def endpoint_processes(n: int, latency: float):
    """n local test servers, each its own process (as n LLM servers would be); killed on exit."""
    procs = []
    try:
        for _ in range(n):
            proc = subprocess.Popen([sys.executable, "-m", "audiosetmix_lib.testing.server_cli", "--latency", str(latency)],
                                    stdout=subprocess.PIPE, text=True)
            procs.append(proc)
        yield [proc.stdout.readline().strip() for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
            proc.stdout.close()


def bench_endpoints(urls, sets, concurrency: int):
    return _caption(OpenAIBackend(base_url=urls, model="mock", concurrency=concurrency, timeout=60.0), sets)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--template_n", type=int, default=2000)
    p.add_argument("--negatives", type=int, default=3)
    p.add_argument("--latency", type=float, default=0.2)
    p.add_argument("--endpoints", type=int, default=4)
    p.add_argument("--concurrency", type=int, default=256)
    p.add_argument("--rows_serial", type=int, default=14, help="rows captioned at concurrency 1")
    p.add_argument("--rows_parallel", type=int, default=402, help="rows captioned at --concurrency")
    args = p.parse_args(argv)

    rate = bench_template(args.template_n)
    print(f"template: {rate:,.0f} captions/s ({args.template_n} recipes, describe + template, one core)", flush=True)
    serial = caption_sets(args.rows_serial, args.negatives)
    parallel = caption_sets(args.rows_parallel, args.negatives)
    ms = args.latency * 1000
    with endpoint_processes(args.endpoints, args.latency) as urls:
        one = bench_endpoints(urls, serial, 1)
        many = bench_endpoints(urls, parallel, args.concurrency)
    inproc = bench_in_process(parallel, args.latency, args.concurrency)
    for name, (rate, n, ok, cpu_ms) in ((f"{args.endpoints} endpoint processes, concurrency 1", one),
                                        (f"{args.endpoints} endpoint processes, concurrency {args.concurrency}", many),
                                        (f"in-process test server, concurrency {args.concurrency}", inproc)):
        print(f"openai, {ms:.0f} ms latency, {name}: {rate:8.1f} captions/s ({n} captions, {100 * ok:.0f} % rows LLM, "
              f"client CPU {cpu_ms:.2f} ms per caption)")
    print(f"speed-up concurrency {args.concurrency} vs 1 over {args.endpoints} endpoints: {many[0] / one[0]:.1f}x "
          f"(goal >= 100x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
