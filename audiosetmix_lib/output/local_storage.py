"""The output contract's storage on a local (or mounted) filesystem: renames, `flock`, one-step swap.

Every text is written beside its place, fsynced and renamed over it; a finished shard is
renamed from staging into its place; `data/` is swapped with the staged one in one step
(`swap.swap_in`), with SIGTERM / Ctrl-C held until the card has followed it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
from contextlib import contextmanager
from pathlib import Path

from .manifest import META_DIR
from .shard_writer import file_sha256
from .storage import OutputError, Storage
from .swap import swap_in


class LocalFolder(Storage):
    kind = "folder"
    uploads_in_place = False  # workers write into staging; `place` renames a finished shard into data/

    def __init__(self, root: str | os.PathLike) -> None:
        self.path = Path(root)
        self._lock_fd: int | None = None

    @property
    def root(self) -> str:
        return str(self.path)

    def _at(self, rel: str) -> Path:
        return self.path / rel if rel else self.path

    def url(self, rel: str = "") -> str:
        return str(self._at(rel))

    def check_usable(self) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise OutputError(f"--output_dir {self.path} is a file, not a folder: choose a folder path")

    def names(self, rel: str = "") -> list[str]:
        folder = self._at(rel)
        return sorted(child.name for child in folder.iterdir()) if folder.is_dir() else []

    def files(self, rel: str = "") -> list[str]:
        return sorted(p.relative_to(self.path).as_posix() for p in self._at(rel).rglob("*") if p.is_file())

    def exists(self, rel: str) -> bool:
        return self._at(rel).exists()

    def size(self, rel: str) -> int | None:
        path = self._at(rel)
        return path.stat().st_size if path.is_file() else None

    def open_binary(self, rel: str):
        return open(self._at(rel), "rb")

    def read_text(self, rel: str) -> str | None:
        path = self._at(rel)
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None

    def write_text(self, rel: str, text: str) -> None:
        path = self._at(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def remove(self, rel: str) -> None:
        path = self._at(rel)
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)

    def move(self, rel: str, dest: str) -> None:
        self._at(dest).parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._at(rel), self._at(dest))

    def place(self, written: str, rel: str) -> None:
        self._at(rel).parent.mkdir(parents=True, exist_ok=True)
        os.replace(written, self._at(rel))

    def intact(self, rel: str, sha256: str | None, size: int | None) -> bool:
        path = self._at(rel)
        return path.is_file() and sha256 is not None and file_sha256(path) == sha256

    def replace_dir(self, staged: str, rel: str) -> None:
        swap_in(self._at(staged), self._at(rel))  # the old contents end up at `staged` (or beside it): under staging

    @contextmanager
    def commit_window(self):
        """Only SIGKILL or power loss can fall between the swap and the card (the contract's resume finishes then)."""
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)

    def lock(self, message: str) -> None:
        meta = self._at(META_DIR)
        meta.mkdir(parents=True, exist_ok=True)
        fd = os.open(meta / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise OutputError(message) from None
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def remove_partials(self) -> None:
        for partial in self._at(f"{META_DIR}/staging").rglob("*.partial-*"):  # a shard writer's (shard_writer)
            partial.unlink(missing_ok=True)
        for folder in (self.path, self._at(META_DIR)):  # a card, report or manifest written but not yet renamed
            for tmp in folder.glob(".*.tmp-*"):
                tmp.unlink(missing_ok=True)
