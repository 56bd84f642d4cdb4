"""Captions per second: the template grammar, and the `openai` backend at concurrency 1 vs N.

The LLM side runs against the local mock server (127.0.0.1) with a simulated latency per
request (200 ms by default), no cache, so it measures what concurrency buys against a
latency-bound server; both concurrency levels caption the same sets in this one run.

    python bench/captions.py [--template_n 2000] [--rows 12] [--negatives 3] [--latency 0.2] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import time


def recipes(n: int, seed: int = 0):
    from audiosetmix_lib.config import MixConfig
    from audiosetmix_lib.sampler import sample_recipe
    from audiosetmix_lib.sources import EventPool, make_source

    source = make_source("synth")
    pool = EventPool(source.events())
    return pool, [sample_recipe(pool, MixConfig(), seed, "train", i, 16000, source.spec()) for i in range(n)]


def bench_template(n: int) -> float:
    from audiosetmix_lib.captions.template import template_caption
    from audiosetmix_lib.describe import describe

    _, rs = recipes(n)
    started = time.perf_counter()
    for r in rs:
        template_caption(describe(r), r.caption_seed)
    return n / (time.perf_counter() - started)


def caption_sets(rows: int, negatives: int):
    import numpy as np

    from audiosetmix_lib.captions.captioner import CaptionSet
    from audiosetmix_lib.captions.template_captioner import TemplateCaptioner
    from audiosetmix_lib.negatives import iter_negatives

    pool, rs = recipes(rows, seed=1)
    template, sets = TemplateCaptioner(), []
    for r in rs:
        chosen = [n.recipe for _, n in zip(range(negatives), iter_negatives(r, pool, np.random.default_rng(r.index)))]
        sets.append(CaptionSet(r.id, [r] + chosen, template.caption_set([r] + chosen)))
    return sets


def bench_openai(sets, latency: float, concurrency: int) -> tuple[float, int, float]:
    """(captions per second, captions, LLM share of rows) for one concurrency level."""
    from audiosetmix_lib.captions.backend import Sampling
    from audiosetmix_lib.captions.captioner import LLMCaptioner
    from audiosetmix_lib.captions.openai_backend import OpenAIBackend
    from audiosetmix_lib.testing.mock_server import MockChatServer

    with MockChatServer(latency=latency) as server:
        backend = OpenAIBackend(base_url=server.url, model="mock", concurrency=concurrency, timeout=30.0)
        captioner = LLMCaptioner(backend, "mock", Sampling(), max_retries=0)
        started = time.perf_counter()
        captioner.caption_sets(sets)
        elapsed = time.perf_counter() - started
        n = len(server.log)
    return n / elapsed, n, captioner.summary()["llm_rate"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--template_n", type=int, default=2000)
    p.add_argument("--rows", type=int, default=12)
    p.add_argument("--negatives", type=int, default=3)
    p.add_argument("--latency", type=float, default=0.2)
    p.add_argument("--concurrency", type=int, default=16)
    args = p.parse_args(argv)

    rate = bench_template(args.template_n)
    print(f"template: {rate:,.0f} captions/s ({args.template_n} recipes, describe + template, one core)")
    sets = caption_sets(args.rows, args.negatives)
    one, n1, ok1 = bench_openai(sets, args.latency, 1)
    many, n2, ok2 = bench_openai(sets, args.latency, args.concurrency)
    print(f"openai, {args.latency * 1000:.0f} ms latency, concurrency 1: {one:.2f} captions/s ({n1} requests, "
          f"{100 * ok1:.0f} % rows LLM)")
    print(f"openai, {args.latency * 1000:.0f} ms latency, concurrency {args.concurrency}: {many:.2f} captions/s "
          f"({n2} requests, {100 * ok2:.0f} % rows LLM)")
    print(f"speed-up concurrency {args.concurrency} vs 1: {many / one:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
