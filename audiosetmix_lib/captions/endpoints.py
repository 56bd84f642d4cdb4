"""Several LLM endpoints behind one client: least outstanding requests, per-endpoint health.

A request goes to the healthy endpoint with the fewest requests in flight, so a slow endpoint
(its requests stay outstanding longer) gets fewer of them without any tuning. A failure marks
its endpoint down for a backoff that doubles with each consecutive failure (or for the
server's Retry-After): while it is down it gets no new request, and the failed request moves
to another endpoint at once instead of sleeping on the one that failed. When every endpoint is
down the client waits for the first to come back, one probe at a time. An endpoint is *silent*
after requests in a row timed out or found no connection (no HTTP answer of any kind between
them); when every endpoint is silent the client gives up (`OpenAIBackend.dead_after`). Endpoints are named by
their position and a short hash of the URL, never by the URL, so reports can leave the machine.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import dataclass, field

SILENT_KINDS = ("timeout", "connection")  # failures that get no HTTP answer at all


def endpoint_id(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:8]


@dataclass
class Endpoint:
    index: int
    url: str
    outstanding: int = 0
    consecutive_failures: int = 0
    down_until: float = 0.0
    sent: int = 0
    answered: int = 0
    failures: Counter = field(default_factory=Counter)
    marked_down: int = 0
    silent_failures: int = 0  # timeouts and refused/dropped connections since its last HTTP answer
    last_silence: str = ""  # the kind of the last of them

    @property
    def name(self) -> str:
        return f"endpoint-{self.index} ({endpoint_id(self.url)})"

    def stats(self) -> dict:
        return {"sent": self.sent, "answered": self.answered, "failures": dict(sorted(self.failures.items())),
                "marked_down": self.marked_down}


class EndpointPool:
    """Picks endpoints and keeps their health; used from one event-loop thread, so no locks."""

    def __init__(self, urls: list[str], backoff: float = 0.5, max_backoff: float = 30.0, clock=time.monotonic) -> None:
        if not urls:
            raise ValueError("no endpoint")
        self.endpoints = [Endpoint(i, url) for i, url in enumerate(urls)]
        self.backoff, self.max_backoff, self.clock = backoff, max_backoff, clock

    def healthy(self, exclude: Endpoint | None = None) -> list[Endpoint]:
        now = self.clock()
        return [e for e in self.endpoints if e.down_until <= now and e is not exclude]

    def pick(self, exclude: Endpoint | None = None) -> Endpoint | None:
        """The healthy endpoint with the fewest requests in flight (lowest index on a tie); None if all are down."""
        candidates = self.healthy(exclude) or self.healthy()
        if not candidates:
            return None
        return min(candidates, key=lambda e: (e.outstanding, e.sent, e.index))

    def seconds_until_one_is_up(self) -> float:
        return max(0.0, min(e.down_until for e in self.endpoints) - self.clock())

    def start(self, endpoint: Endpoint) -> None:
        endpoint.outstanding += 1
        endpoint.sent += 1

    def succeeded(self, endpoint: Endpoint) -> None:
        endpoint.outstanding -= 1
        endpoint.answered += 1
        endpoint.consecutive_failures = endpoint.silent_failures = 0
        endpoint.down_until = 0.0

    def failed(self, endpoint: Endpoint, kind: str, retry_after: float | None = None) -> None:
        """A retryable failure: the endpoint rests for a doubling backoff, or for the server's Retry-After."""
        endpoint.outstanding -= 1
        endpoint.failures[kind] += 1
        endpoint.consecutive_failures += 1
        if kind in SILENT_KINDS:
            endpoint.silent_failures += 1
            endpoint.last_silence = kind
        else:  # an HTTP status or an unreadable body: the server is there
            endpoint.silent_failures = 0
        rest = retry_after if retry_after is not None else min(
            self.max_backoff, self.backoff * 2 ** (endpoint.consecutive_failures - 1))
        now = self.clock()
        if endpoint.down_until <= now:
            endpoint.marked_down += 1
        endpoint.down_until = max(endpoint.down_until, now + rest)

    def all_silent(self, after: int) -> bool:
        """Every endpoint had `after` requests in a row time out or find no connection since its last answer."""
        return all(e.silent_failures >= after for e in self.endpoints)

    def released(self, endpoint: Endpoint) -> None:
        """A request that ended without a verdict on the endpoint (a fatal configuration error)."""
        endpoint.outstanding -= 1

    def stats(self) -> dict:
        return {e.name: e.stats() for e in self.endpoints}
