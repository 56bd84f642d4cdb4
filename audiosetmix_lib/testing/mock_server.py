"""A local OpenAI-compatible chat-completions server, for tests, benchmarks and dry runs.

It reads the prompt's data block and answers with a caption that follows the prompt's rules
(`good_caption`), after an optional simulated latency. A `policy` can replace any answer by
a bad caption, an HTTP error, a slow answer or a broken body, to rehearse a flaky server.
Standard library only; binds 127.0.0.1 on a free port; every request is logged.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ..captions.prompt import parse_data_block
from .paraphrase import Slips, paraphrase, request_rng


@dataclass
class Reply:
    """What the server does with one request."""

    text: str | None = None  # caption to answer with (None: the good caption)
    status: int = 200
    headers: dict = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering
    raw: bytes | None = None  # a body sent as is (e.g. invalid JSON)
    tag: str = "good"  # what the test meant by it, for the log


def good_caption(data: dict) -> str:
    """A short caption that names every sound with its qualities, in order, with its relation."""
    parts = []
    for sound in data["sounds"]:
        words = " ".join([*sound["qualities"], sound["name"]])
        if sound["starts"] == "at the beginning":
            parts.append(f"A {words}")
        elif sound["background"]:
            parts.append(f" with a {words} in the background")
        elif sound["starts"].startswith("while"):
            parts.append(f" while a {words}")
        else:
            parts.append(f", then a {words}")
    return "".join(parts) + " is heard."


def user_content(body: dict) -> str:
    return [m for m in body["messages"] if m["role"] == "user"][-1]["content"]


class MockChatServer:
    """`with MockChatServer(policy) as server: ... server.url ...`; `policy(body, data) -> Reply`."""

    def __init__(self, policy=None, latency: float = 0.0) -> None:
        self.policy = policy
        self.latency = latency
        self.log: list[dict] = []
        self.log_entries = True  # a long-running server process keeps no per-request log in memory
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                if len(raw) < length:  # the client hung up mid-request
                    self.close_connection = True
                    return
                server._answer(self, json.loads(raw))

        class Server(ThreadingHTTPServer):
            request_queue_size = 1024  # the default backlog of 5 drops bursts of concurrent connects

            def handle_error(self, request, client_address) -> None:
                """A client that hangs up (a batch cancelled after a fatal answer) is not a server error."""
                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> "MockChatServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _answer(self, handler: BaseHTTPRequestHandler, body: dict) -> None:
        data = parse_data_block(user_content(body))
        reply = self.policy(body, data) if self.policy else Reply()
        entry = {"time": time.monotonic(), "seed": body.get("seed"), "prompt": user_content(body), "tag": reply.tag,
                 "status": reply.status, "authorization": handler.headers.get("Authorization")}
        if self.log_entries:
            with self.lock:
                self.log.append(entry)
        if self.latency or reply.delay:
            time.sleep(self.latency + reply.delay)
        if reply.raw is not None:
            payload = reply.raw
        elif reply.status != 200:
            payload = json.dumps({"error": {"message": "simulated", "code": reply.status}}).encode()
        else:
            text = good_caption(data) if reply.text is None else reply.text
            payload = json.dumps({"id": "mock", "object": "chat.completion", "model": body.get("model"),
                                  "choices": [{"index": 0, "finish_reason": "stop",
                                               "message": {"role": "assistant", "content": text}}]}).encode()
        try:
            handler.send_response(reply.status)
            for key, value in reply.headers.items():
                handler.send_header(key, value)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
            pass


def paraphrase_policy(slips: Slips | None = None):
    """Answer like a sampled model: a rewording chosen by the request's `seed` and prompt, with seeded slips."""
    slips = slips if slips is not None else Slips()

    def policy(body: dict, data: dict) -> Reply:
        text, slip = paraphrase(data, request_rng(body.get("seed"), user_content(body)), slips)
        return Reply(text=text, tag=slip)

    return policy


# ---- as a separate process (tests of several endpoints, benchmarks) ------------------------------


def serve_process(latency: float = 0.0, log_path: str | None = None, stop_after: int | None = None,
                  slips: Slips | None = None) -> None:
    """Serve until killed; print the URL on stdout first. Each request appends one line to `log_path`.

    `slips`: answer with `paraphrase_policy(slips)` (varied wording, seeded slips) instead of `good_caption`.

    `stop_after N`: the process exits at once (no goodbye to open connections) when request N+1
    arrives — a deterministic "server died mid-build", with no sleep-and-kill race.
    """
    counter = {"n": 0}
    answer = paraphrase_policy(slips) if slips is not None else (lambda body, data: Reply())
    log = open(log_path, "a", encoding="utf-8", buffering=1) if log_path else None  # noqa: SIM115 - lives with the process

    def policy(body, data) -> Reply:
        with server.lock:
            counter["n"] += 1
            n = counter["n"]
        if stop_after is not None and n > stop_after:
            os._exit(0)
        reply = answer(body, data)
        if log is not None:
            prompt = zlib.crc32(user_content(body).encode("utf-8"))
            log.write(json.dumps({"n": n, "seed": body.get("seed"), "prompt": prompt, "tag": reply.tag}) + "\n")
        return reply

    server = MockChatServer(policy, latency=latency)
    server.log_entries = False
    with server:
        sys.stdout.write(server.url + "\n")
        sys.stdout.flush()
        server.thread.join()
