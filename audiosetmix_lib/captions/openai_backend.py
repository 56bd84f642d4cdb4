"""Any OpenAI-compatible chat-completions server (vLLM, SGLang, llama.cpp server, Ollama, hosted APIs).

Built for cluster rates: one process keeps up to `concurrency` requests in flight on an asyncio
event loop (one background thread, not a thread per request), over keep-alive connections
(aiohttp's pooled connector), spread over one or more endpoints by least outstanding requests
(`endpoints.EndpointPool`). Each request has a timeout; 429, 5xx, timeouts, dropped connections
and unreadable bodies are retried with exponential backoff honouring `Retry-After` — on another
healthy endpoint at once when there is one, so a failing endpoint does not spend the retry
budget. A dead or hanging server is given up after `dead_after` attempts in a row on every
endpoint timed out or found no connection, with no HTTP answer between them: with
`--llm_concurrency` >= `dead_after` that is one `--llm_timeout` for a hanging server and
milliseconds for a closed port, and the build stops with one line (`EndpointsSilent`; the
finished shards stay). After `trip_after` requests of a batch failed in a row otherwise (429,
5xx, after their retries and failovers) the rest of the batch fails at once and
`--llm_max_fallback_rate` judges the rows; a line every `progress_every` s shows the wait
(answered, failed and waiting requests apart). The API key is read from the environment
variable named by `api_key_env` at the moment of each request: it is never an attribute, so it cannot end up in a pickle, a config, a
log line or the dataset.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import random
import sys
import threading
import time
import zlib
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import aiohttp

from .backend import BackendError, Request, TransportFailure
from .endpoints import EndpointPool

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


def chat_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    return base if base.endswith("/chat/completions") else base + "/chat/completions"


def base_urls(base_url) -> list[str]:
    """One URL, a list of URLs, or a comma-separated string of them; duplicates dropped, order kept."""
    items = [base_url] if isinstance(base_url, str) else list(base_url or [])
    urls = [u.strip() for item in items for u in str(item).split(",") if u.strip()]
    return list(dict.fromkeys(urls))


class EndpointsSilent(BackendError):
    """Every endpoint timed out or refused `dead_after` requests in a row: nobody is there to answer."""


class _Runtime:
    """The event loop thread, HTTP session and endpoint pool of one process (rebuilt after a fork)."""

    def __init__(self, urls: list[str], backoff: float, max_backoff: float) -> None:
        self.pid = os.getpid()
        self.pool = EndpointPool(urls, backoff=backoff, max_backoff=max_backoff)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="audiosetmix-llm-client", daemon=True)
        self.thread.start()
        self.session: aiohttp.ClientSession = self.run(self._open())
        self.reported: dict = {}

    async def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60.0, enable_cleanup_closed=True)
        return aiohttp.ClientSession(connector=connector, auto_decompress=True, trust_env=False)

    def run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def close(self) -> None:
        if self.pid == os.getpid() and self.loop.is_running():
            self.run(self.session.close())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=5)


@dataclass
class OpenAIBackend:
    base_url: str | list[str]
    model: str
    api_key_env: str | None = "OPENAI_API_KEY"
    concurrency: int = 8
    timeout: float = 60.0
    http_retries: int = 5
    backoff: float = 0.5
    max_backoff: float = 60.0
    trip_after: int = 8  # consecutive failed requests (after their retries) that give up the rest of a batch
    dead_after: int = 3  # attempts in a row without any HTTP answer, on every endpoint, that stop the build
    progress_every: float = 10.0  # seconds between "waiting for the server" lines while a batch is in flight

    name = "openai"

    def __post_init__(self) -> None:
        if not base_urls(self.base_url):
            raise BackendError("the openai captioner needs --llm_base_url (e.g. http://127.0.0.1:8000/v1)")
        if not self.model:
            raise BackendError("the openai captioner needs --llm_model NAME")
        self.concurrency = max(1, int(self.concurrency))
        self._runtime: _Runtime | None = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_runtime"] = None  # a loop, a thread and sockets stay in their process
        return state

    @property
    def urls(self) -> list[str]:
        return [chat_url(u) for u in base_urls(self.base_url)]

    @property
    def url(self) -> str:
        return self.urls[0]

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

    def runtime(self) -> _Runtime:
        if self._runtime is None or self._runtime.pid != os.getpid():
            self._runtime = _Runtime(self.urls, backoff=self.backoff, max_backoff=min(self.max_backoff, 30.0))
        return self._runtime

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None

    # ---- one HTTP exchange ------------------------------------------------------------------------

    async def _once(self, session: aiohttp.ClientSession, url: str, payload: bytes, headers: dict,
                    timeout: aiohttp.ClientTimeout) -> tuple[str | None, TransportFailure | None, float | None]:
        """(answer, None, _) or (None, failure, retry_after_seconds); raises BackendError on a fatal status."""
        try:
            async with session.post(url, data=payload, headers=headers, timeout=timeout) as response:
                raw = await response.read()
                status = response.status
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
        except (asyncio.TimeoutError, TimeoutError):
            return None, TransportFailure("timeout", f"no answer within {self.timeout} s"), None
        except aiohttp.InvalidURL as error:
            raise BackendError(f"cannot send to {url!r}: invalid URL {error}") from None
        except (aiohttp.ClientError, OSError) as error:  # refused, reset, closed, truncated body
            return None, TransportFailure("connection", type(error).__name__), None
        if status in FATAL_STATUS:
            raise BackendError(f"{url} answered HTTP {status} for model {self.model!r}: check --llm_base_url, "
                               f"--llm_model and the API key variable")
        if status != 200:
            return None, TransportFailure(f"http_{status}"), retry_after
        try:
            content = json.loads(raw)["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            return None, TransportFailure("invalid_response", "not a chat-completions JSON body"), None
        if not isinstance(content, str):
            return None, TransportFailure("invalid_response", "message content is not text"), None
        return content, None, None

    def _silence_message(self, pool: EndpointPool) -> str:
        what = {"timeout": f"timed out (no answer within --llm_timeout {self.timeout:g} s)",
                "connection": "found no server (connection refused or dropped)"}
        hosts = "; ".join(f"{urlsplit(e.url).netloc}: {e.silent_failures} requests in a row {what[e.last_silence]}"
                          for e in pool.endpoints)
        return (f"the LLM server does not answer ({hosts}): check that it runs at --llm_base_url and answers "
                f"(its logs); a busy server needs a larger --llm_timeout or a lower --llm_concurrency; finished "
                f"shards are kept, the same command resumes")

    @staticmethod
    def _retryable(failure: TransportFailure) -> bool:
        if failure.kind.startswith("http_"):
            status = int(failure.kind[5:])
            return status == 429 or status == 408 or status >= 500
        return True  # timeout, connection, invalid_response

    async def _complete(self, runtime: _Runtime, request: Request, batch: "_Batch",
                        timeout: aiohttp.ClientTimeout) -> str | TransportFailure:
        if batch.tripped():
            answer = TransportFailure("gave_up", f"{batch.trip_after} requests in a row failed; the rest of the "
                                                 f"batch falls back without waiting")
        else:
            answer = await self._attempts(runtime, request, timeout)
        batch.record(isinstance(answer, TransportFailure))
        return answer

    async def _attempts(self, runtime: _Runtime, request: Request,
                        timeout: aiohttp.ClientTimeout) -> str | TransportFailure:
        payload = json.dumps(self.body(request), ensure_ascii=False).encode("utf-8")
        jitter = None  # seeded from the payload when a retry first needs it; never the global random state
        pool = runtime.pool
        failures, free_failovers, last = 0, len(pool.endpoints) - 1, None
        while True:
            endpoint = pool.pick(exclude=last)
            if endpoint is None:  # every endpoint rests: wait for the first to come back
                endpoint = min(pool.endpoints, key=lambda e: e.down_until)
            pool.start(endpoint)
            try:
                answer, failure, retry_after = await self._once(runtime.session, endpoint.url, payload, self._headers(),
                                                                timeout)
            except BaseException:
                pool.released(endpoint)
                raise
            if failure is None:
                pool.succeeded(endpoint)
                return answer
            if not self._retryable(failure):
                pool.failed(endpoint, failure.kind)
                return failure
            pool.failed(endpoint, failure.kind, None if retry_after is None else min(MAX_RETRY_AFTER_S, retry_after))
            if pool.all_silent(max(1, int(self.dead_after))):
                raise EndpointsSilent(self._silence_message(pool))
            last = endpoint
            if free_failovers > 0 and pool.healthy(exclude=endpoint):
                free_failovers -= 1  # another endpoint is up: go there now, the budget stays
                continue
            if failures == self.http_retries:
                return failure
            if jitter is None:
                jitter = random.Random(zlib.crc32(payload))
            delay = min(self.max_backoff, self.backoff * 2 ** failures) * (0.5 + 0.5 * jitter.random())
            if retry_after is not None:
                delay = min(MAX_RETRY_AFTER_S, retry_after)
            failures += 1
            await asyncio.sleep(delay)

    async def _generate(self, runtime: _Runtime, requests: list[Request], batch: "_Batch") -> list[str | TransportFailure]:
        """`concurrency` workers take the requests in order: as many in flight as a semaphore over one task per
        request would allow, without a task and a semaphore wait per request."""
        answers: list = [None] * len(requests)
        order = iter(range(len(requests)))
        timeout = aiohttp.ClientTimeout(total=self.timeout)

        async def worker() -> None:
            for i in order:  # shared: each index goes to one worker
                answers[i] = await self._complete(runtime, requests[i], batch, timeout)

        workers = [asyncio.ensure_future(worker()) for _ in range(min(self.concurrency, len(requests)))]
        try:
            await asyncio.gather(*workers)
        except BaseException:  # a fatal answer (401, 404, ...) ends the batch: nobody sends the rest
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            raise
        return answers

    def generate(self, requests: list[Request]) -> list[str | TransportFailure]:
        """Answers in request order. Prints a progress line every `progress_every` s while the batch waits."""
        if not requests:
            return []
        runtime = self.runtime()
        batch = _Batch(max(1, int(self.trip_after)))
        future = asyncio.run_coroutine_threadsafe(self._generate(runtime, requests, batch), runtime.loop)
        started = time.monotonic()
        while True:
            try:
                return future.result(timeout=self.progress_every)
            except concurrent.futures.TimeoutError:
                hosts = ", ".join(urlsplit(u).netloc for u in self.urls)
                print(f"  captions: waiting for the LLM server ({hosts}): of {len(requests)} requests "
                      f"{batch.done - batch.failed} answered, {batch.failed} failed, {len(requests) - batch.done} "
                      f"waiting; {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)

    def take_endpoint_stats(self) -> dict:
        """Per-endpoint counts since the last call (so records summed over processes and batches add up)."""
        if self._runtime is None or self._runtime.pid != os.getpid():
            return {}
        runtime = self._runtime
        now = runtime.pool.stats()
        delta = {}
        for name, stats in now.items():
            before = runtime.reported.get(name, {"sent": 0, "answered": 0, "failures": {}, "marked_down": 0})
            d = {k: stats[k] - before[k] for k in ("sent", "answered", "marked_down")}
            d["failures"] = {k: v - before["failures"].get(k, 0) for k, v in stats["failures"].items()
                             if v - before["failures"].get(k, 0)}
            if d["sent"] or d["marked_down"] or d["failures"]:
                delta[name] = d
        runtime.reported = json.loads(json.dumps(now))
        return delta


@dataclass
class _Batch:
    """One `generate` call's progress and its run of consecutive failures (used on the loop thread only)."""

    trip_after: int
    done: int = 0  # requests with a verdict: answered or failed (after their retries)
    failed: int = 0
    run: int = field(default=0)

    def tripped(self) -> bool:
        return self.run >= self.trip_after

    def record(self, failed: bool) -> None:
        self.done += 1
        self.failed += int(failed)
        self.run = self.run + 1 if failed else 0
