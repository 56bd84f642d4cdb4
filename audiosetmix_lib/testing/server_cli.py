"""`python -m audiosetmix_lib.testing.server_cli`: the local test LLM server as its own process.

Prints its URL on stdout, serves until killed (tests of several endpoints, bench/captions.py).
"""

from __future__ import annotations

import argparse

from .mock_server import serve_process


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="A local OpenAI-compatible test server (prints its URL, serves until killed).")
    p.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    p.add_argument("--log", help="append one JSON line per request to this file")
    p.add_argument("--stop_after", type=int, help="exit abruptly when request N+1 arrives")
    args = p.parse_args(argv)
    serve_process(args.latency, args.log, args.stop_after)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
