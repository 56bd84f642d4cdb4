"""Any OpenAI-compatible chat-completions server (vLLM, llama.cpp server, Ollama, hosted APIs).

Standard library only (urllib + a thread pool): `concurrency` requests in flight, a timeout
per request, and retries with exponential backoff on 429, 5xx, timeouts, dropped connections
and unreadable bodies, honouring `Retry-After`. After `trip_after` failed requests in a row the
rest of the batch fails at once (so a dead server costs one wave of timeouts per batch, and
`--llm_max_fallback_rate` stops the build); a line every `progress_every` s shows the wait. The API key is read from the environment
variable named by `api_key_env` at the moment of each request: it is never an attribute, so it
cannot end up in a pickle, a config, a log line or the dataset.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
import zlib
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from .backend import BackendError, Request, TransportFailure

FATAL_STATUS = (401, 403, 404)
MAX_RETRY_AFTER_S = 300.0


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


@dataclass
class OpenAIBackend:
    base_url: str
    model: str
    api_key_env: str | None = "OPENAI_API_KEY"
    concurrency: int = 8
    timeout: float = 60.0
    http_retries: int = 5
    backoff: float = 0.5
    max_backoff: float = 60.0
    trip_after: int = 8  # consecutive failed requests (after their retries) that give up the rest of a batch
    progress_every: float = 10.0  # seconds between "waiting for the server" lines while a batch is in flight

    name = "openai"

    def __post_init__(self) -> None:
        if not self.base_url:
            raise BackendError("the openai captioner needs --llm_base_url (e.g. http://127.0.0.1:8000/v1)")
        if not self.model:
            raise BackendError("the openai captioner needs --llm_model NAME")
        self.concurrency = max(1, int(self.concurrency))

    @property
    def url(self) -> str:
        base = self.base_url.rstrip("/")
        return base if base.endswith("/chat/completions") else base + "/chat/completions"

    def body(self, request: Request) -> dict:
        s = request.sampling
        return {"model": self.model, "messages": request.messages, "temperature": s.temperature, "top_p": s.top_p,
                "max_tokens": s.max_new_tokens, "seed": s.seed, "n": 1, "stream": False}

    def _headers(self) -> dict:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        if key:
            headers["Authorization"] = "Bearer " + key
        return headers

    def _once(self, payload: bytes) -> tuple[str | None, TransportFailure | None, float | None]:
        """One HTTP exchange: (answer, None, _) or (None, failure, retry_after_seconds)."""
        req = urllib.request.Request(self.url, data=payload, headers=self._headers(), method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            status = error.code
            retry_after = parse_retry_after(error.headers.get("Retry-After") if error.headers else None)
            error.close()
            if status in FATAL_STATUS:
                raise BackendError(f"{self.url} answered HTTP {status} for model {self.model!r}: check --llm_base_url, "
                                   f"--llm_model and the API key variable") from None
            return None, TransportFailure(f"http_{status}"), retry_after
        except (TimeoutError, socket.timeout):
            return None, TransportFailure("timeout", f"no answer within {self.timeout} s"), None
        except urllib.error.URLError as error:
            if isinstance(error.reason, (TimeoutError, socket.timeout)):
                return None, TransportFailure("timeout", f"no answer within {self.timeout} s"), None
            return None, TransportFailure("connection", str(error.reason)), None
        except (ConnectionError, OSError, http.client.HTTPException) as error:  # reset, closed, truncated body
            return None, TransportFailure("connection", type(error).__name__), None
        except ValueError as error:  # e.g. "unknown url type": every request would fail
            raise BackendError(f"cannot send to {self.url!r}: {error}") from None
        try:
            content = json.loads(raw)["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            return None, TransportFailure("invalid_response", "not a chat-completions JSON body"), None
        if not isinstance(content, str):
            return None, TransportFailure("invalid_response", "message content is not text"), None
        return content, None, None

    def _retryable(self, failure: TransportFailure) -> bool:
        if failure.kind.startswith("http_"):
            status = int(failure.kind[5:])
            return status == 429 or status == 408 or status >= 500
        return True  # timeout, connection, invalid_response

    def complete(self, request: Request) -> str | TransportFailure:
        payload = json.dumps(self.body(request), ensure_ascii=False).encode("utf-8")
        jitter = random.Random(zlib.crc32(payload))  # local, never the global random state
        failure = TransportFailure("connection")
        for attempt in range(self.http_retries + 1):
            answer, failure, retry_after = self._once(payload)
            if failure is None:
                return answer
            if attempt == self.http_retries or not self._retryable(failure):
                break
            delay = min(self.max_backoff, self.backoff * 2 ** attempt) * (0.5 + 0.5 * jitter.random())
            if retry_after is not None:
                delay = min(MAX_RETRY_AFTER_S, retry_after)
            time.sleep(delay)
        return failure

    def _guarded(self, request: Request, breaker: "_Breaker") -> str | TransportFailure:
        """One request, unless this batch already saw `trip_after` failures in a row (a dead or hanging server)."""
        if breaker.open():
            return TransportFailure("gave_up", f"{breaker.limit} requests in a row failed; the rest of the batch "
                                               f"falls back without waiting")
        answer = self.complete(request)
        breaker.record(isinstance(answer, TransportFailure))
        return answer

    def generate(self, requests: list[Request]) -> list[str | TransportFailure]:
        """Answers in request order. Prints a progress line every `progress_every` s while the batch waits."""
        if not requests:
            return []
        breaker = _Breaker(max(1, int(self.trip_after)))
        workers = min(self.concurrency, len(requests))
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(self._guarded, r, breaker) for r in requests]
            while True:
                done, pending = wait(futures, timeout=self.progress_every)
                if not pending:
                    break
                failed = sum(1 for f in done if isinstance(f.result(), TransportFailure))
                print(f"  captions: waiting for the LLM server ({urlsplit(self.url).netloc}): {len(done)} of "
                      f"{len(futures)} requests answered, {failed} failed, {time.monotonic() - started:.0f} s",
                      file=sys.stderr, flush=True)
            return [f.result() for f in futures]


class _Breaker:
    """Counts consecutive failed requests across a batch's threads."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._run = 0
        self._lock = threading.Lock()

    def open(self) -> bool:
        with self._lock:
            return self._run >= self.limit

    def record(self, failed: bool) -> None:
        with self._lock:
            self._run = self._run + 1 if failed else 0
