"""What every LLM backend takes and returns, so the captioner can batch, cache and retry any of them.

A backend turns a list of requests into a list of the same length, in the same order: each
item is the answer text, or a `TransportFailure` when no answer came (timeout, HTTP error
after retries, unreadable response). A transport failure is not an answer: it is never cached
and its caption falls back to the template. Misconfiguration that would fail every request
(bad key, unknown model or URL) raises `BackendError` and stops the build instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class BackendError(RuntimeError):
    """A configuration error every request would hit: stop instead of falling back row by row."""


@dataclass(frozen=True)
class Sampling:
    """Generation parameters; `seed` is the attempt number, so a retry is a new, reproducible draw."""

    temperature: float = 0.7
    top_p: float = 0.95
    max_new_tokens: int = 64
    seed: int = 0

    def to_dict(self) -> dict:
        return {"temperature": self.temperature, "top_p": self.top_p, "max_new_tokens": self.max_new_tokens, "seed": self.seed}


@dataclass(frozen=True)
class Request:
    messages: list[dict] = field(hash=False)
    sampling: Sampling = Sampling()


@dataclass(frozen=True)
class TransportFailure:
    kind: str  # "timeout", "connection", "http_500", "http_429", "invalid_response", ...
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}" if self.detail else self.kind


class Backend(Protocol):
    """What the captioner needs from a backend (`TransformersBackend`, `OpenAIBackend`)."""

    name: str

    def generate(self, requests: list[Request]) -> list[str | TransportFailure]: ...

    def take_endpoint_stats(self) -> dict:
        """Per-endpoint counts since the last call ({} for a backend without endpoints)."""
        ...

    def close(self) -> None:
        """Release connections and threads (a no-op where there are none)."""
        ...
