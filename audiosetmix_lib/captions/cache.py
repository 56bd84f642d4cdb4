"""Persistent answer cache: one SQLite file, shared safely by several build processes.

Every answer a backend gave is stored, rejected ones included, under a key that hashes
everything that could change it (backend, endpoint id, model, prompt version, prompt text,
sampling parameters, attempt number), so a rebuild with the same configuration sends no request
for a prompt already well answered (a rejected answer is asked again, `captioner.LLMCaptioner`), and a retry (attempt 1, 2, ...) has its own entry. Transport
failures are never stored. WAL mode and a busy timeout let `--num_proc` workers and parallel
builds share the file; on a race the first stored answer wins and every process uses it.

Switching a file to WAL needs an exclusive lock, and SQLite answers "database is locked" at once
rather than wait in the busy handler when several connections open a new file together (waiting
could deadlock), so opening retries that step itself until the same timeout.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path

BUSY_TIMEOUT_S = 120.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    backend TEXT NOT NULL,
    model TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    answer TEXT NOT NULL,
    created REAL NOT NULL
)
"""


def cache_key(backend: str, model: str, prompt_version: str, prompt: str, sampling: dict, attempt: int,
              endpoint: str = "") -> str:
    """`endpoint` names who answers (`cli_args.endpoint_id`: a namespace or a hash of the URL set, never a URL)."""
    fields = {"backend": backend, "model": model, "prompt_version": prompt_version, "prompt": prompt,
              "sampling": sampling, "attempt": attempt}
    if endpoint:
        fields["endpoint"] = endpoint
    payload = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _execute_retrying_lock(conn: sqlite3.Connection, statement: str, deadline: float) -> None:
    """Run a set-up statement, retrying with backoff while another process holds the lock."""
    delay = 0.005
    while True:
        try:
            conn.execute(statement)
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


class SQLiteStore:
    """A lazily opened connection per process (the object pickles to its path only)."""

    schema = ""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = str(Path(path).expanduser().resolve())
        self._conn: sqlite3.Connection | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        return {"path": self.path}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["path"])

    def connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            deadline = time.monotonic() + BUSY_TIMEOUT_S
            _execute_retrying_lock(conn, "PRAGMA journal_mode = WAL", deadline)
            conn.execute("PRAGMA synchronous = NORMAL")
            _execute_retrying_lock(conn, self.schema, deadline)
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def close(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None


class AnswerCache(SQLiteStore):
    schema = _SCHEMA

    def get_many(self, keys: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        with self._lock:
            conn = self.connection()
            unique = sorted(set(keys))
            for start in range(0, len(unique), 500):
                part = unique[start:start + 500]
                marks = ",".join("?" * len(part))
                for key, answer in conn.execute(f"SELECT key, answer FROM answers WHERE key IN ({marks})", part):
                    found[key] = answer
        return found

    def put(self, key: str, answer: str, backend: str, model: str, prompt_version: str, attempt: int,
            replace: bool = False) -> str:
        """Store an answer unless one is there already (first writer wins), or over it with `replace`; return the stored one."""
        with self._lock:
            conn = self.connection()
            verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
            conn.execute(f"{verb} INTO answers (key, backend, model, prompt_version, attempt, answer, created) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)", (key, backend, model, prompt_version, attempt, answer, time.time()))
            row = conn.execute("SELECT answer FROM answers WHERE key = ?", (key,)).fetchone()
        return row[0] if row else answer

    def __len__(self) -> int:
        with self._lock:
            return self.connection().execute("SELECT COUNT(*) FROM answers").fetchone()[0]
