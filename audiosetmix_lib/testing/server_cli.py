"""`python -m audiosetmix_lib.testing.server_cli`: the local test LLM server as its own process.

Prints its URL on stdout, serves until killed (tests of several endpoints, bench/captions.py).
"""

from __future__ import annotations

import argparse

from .mock_server import serve_process
from .paraphrase import Slips


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="A local OpenAI-compatible test server (prints its URL, serves until killed).")
    p.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    p.add_argument("--log", help="append one JSON line per request to this file")
    p.add_argument("--stop_after", type=int, help="exit abruptly when request N+1 arrives")
    p.add_argument("--paraphrase", action="store_true",
                   help="answer like a sampled model: a rewording chosen by the request's seed (facts kept)")
    p.add_argument("--drop_modifier_rate", type=float, default=0.0, metavar="P",
                   help="with --paraphrase: share of answers (to prompts with a modifier) that leave one modifier out")
    p.add_argument("--opposite_modifier_rate", type=float, default=0.0, metavar="Q",
                   help="with --paraphrase: share of answers (to prompts with a modifier) that state one the other way round")
    args = p.parse_args(argv)
    if (args.drop_modifier_rate or args.opposite_modifier_rate) and not args.paraphrase:
        p.error("--drop_modifier_rate and --opposite_modifier_rate need --paraphrase")
    try:
        slips = Slips(args.drop_modifier_rate, args.opposite_modifier_rate) if args.paraphrase else None
    except ValueError as error:
        p.error(str(error))
    serve_process(args.latency, args.log, args.stop_after, slips)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
