"""Expected failures of the command-line tools -> one `error: <cause and fix>` line (exit code 2 at the caller).

Anything not listed here is a bug and keeps its traceback.
"""

from __future__ import annotations

from .captions.backend import BackendError
from .captions.fallback_guard import FallbackRateExceeded
from .dataset_path import DatasetPathError
from .engine.local import WorkerDied
from .engine.ray_engine import RayUnavailable
from .evaluation.errors import EvaluationError
from .locations import LocationError
from .output.contract import OutputError
from .sources.base import SourceError
from .stats_cli import DatasetError
from .stop_signals import BuildInterrupted
from .verify.in_build import VerifyMismatch


def error_message(error: BaseException) -> str | None:
    """The one-line message for an expected failure, or None for an unexpected one."""
    if isinstance(error, KeyboardInterrupt):
        return ("interrupted (Ctrl-C); a build keeps the shards it finished: run the same command again to resume")
    if isinstance(error, BuildInterrupted):
        return (f"build stopped by {error}; the finished shards are kept: run the same command again to resume")
    if isinstance(error, WorkerDied):
        return (f"{error} (killed, or out of memory); the finished shards are kept: run the same command again "
                f"to resume (fewer --num_proc if memory ran out)")
    if isinstance(error, (BackendError, FallbackRateExceeded, OutputError, SourceError, DatasetPathError, DatasetError,
                          EvaluationError, LocationError, RayUnavailable, VerifyMismatch)):
        return str(error)
    if type(error).__name__ in ("UsageError", "PushError"):
        return str(error)
    if isinstance(error, SystemExit) and isinstance(error.code, str) and error.code.startswith("error: "):
        return error.code[len("error: "):]  # the flag checks' own messages: the same line, and exit code 2
    return None
