"""What the output contract needs from where it writes: a local folder or an object store.

`contract.BuildOutput` is the one state machine (plan, resume, replace, card last); a
`Storage` gives it files by path relative to the output's root ("data/x.parquet") and says
how each promise is kept there: a local folder renames, locks and swaps `data/` in one step;
an object store has whole-object PUTs, no lock and no rename (`object_store.ObjectStore`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from typing import BinaryIO


class OutputError(ValueError):
    """The output cannot take this build (foreign files, another build running, ...); the message says what to do."""


class Storage(ABC):
    kind: str  # "folder" or "prefix": how messages name the output
    uploads_in_place: bool  # workers write shards straight into their place (no rename to move them there)

    @property
    @abstractmethod
    def root(self) -> str:
        """The output as the user named it (a path or a URL), for messages."""

    @abstractmethod
    def url(self, rel: str = "") -> str:
        """`rel` as workers and readers reach it (a local path or a URL)."""

    @abstractmethod
    def check_usable(self) -> None:
        """Raise OutputError when this machine cannot build here (a file, not a folder; no write permission)."""

    @abstractmethod
    def names(self, rel: str = "") -> list[str]:
        """The names directly under `rel` (empty when it does not exist)."""

    @abstractmethod
    def files(self, rel: str = "") -> list[str]:
        """Every file under `rel`, relative to the root."""

    @abstractmethod
    def exists(self, rel: str) -> bool: ...

    @abstractmethod
    def size(self, rel: str) -> int | None:
        """Bytes of the file at `rel`, None when absent."""

    @abstractmethod
    def open_binary(self, rel: str) -> AbstractContextManager[BinaryIO]: ...

    @abstractmethod
    def read_text(self, rel: str) -> str | None:
        """The text at `rel`, None when absent."""

    @abstractmethod
    def write_text(self, rel: str, text: str) -> None:
        """Readers see the old text or the new, never half (rename after fsync; one PUT)."""

    @abstractmethod
    def remove(self, rel: str) -> None:
        """A file or a whole tree; nothing when absent."""

    @abstractmethod
    def move(self, rel: str, dest: str) -> None:
        """A file or a tree to another place under the root."""

    @abstractmethod
    def place(self, written: str, rel: str) -> None:
        """Put a shard a worker finished at `written` (a path or URL) at `rel`."""

    @abstractmethod
    def intact(self, rel: str, sha256: str | None, size: int | None) -> bool:
        """The shard at `rel` is the one recorded (local: its sha256; object store: its size, an object being whole or
        absent)."""

    @abstractmethod
    def replace_dir(self, staged: str, rel: str) -> None:
        """Make the files of `staged` the contents of `rel` (one rename on a local disk; copies on an object store).
        What `rel` held may be left under `staged` for the caller to delete."""

    @abstractmethod
    def commit_window(self) -> AbstractContextManager:
        """Around the switch of `data/` and the card: SIGTERM / Ctrl-C held where the switch is short."""

    @abstractmethod
    def lock(self, message: str) -> None:
        """Take the output for this build, or raise OutputError(message) when another build holds it."""

    @abstractmethod
    def unlock(self) -> None: ...

    @abstractmethod
    def remove_partials(self) -> None:
        """Files a killed attempt left half-written (never finished shards or cards)."""
