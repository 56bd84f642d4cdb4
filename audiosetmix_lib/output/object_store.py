"""The output contract's storage on an object store (`s3://`, `gs://`, any fsspec filesystem without rename).

The same layout, manifest and promises as a local folder (`contract.BuildOutput` runs both),
kept with what object stores offer instead of renames and `flock`:

- one PUT is atomic: an object is visible whole or not at all. Workers write each shard in a
  local temporary folder and upload it in one PUT (`shard_writer.write_shard`) straight into
  its place, so a killed worker leaves nothing, never half a shard; the manifest and the card
  are single PUTs too.
- a different build into a finished output waits in `.audiosetmix/staging/<hash>/data/` and is
  copied over `data/` at the end. That copy is not one step as on a local disk (no rename):
  while it runs, `data/` holds some old and some new shards. The card, written last, and the
  manifest say which build is complete; a killed copy finishes on the rerun.
- no lock: an object store cannot hold one for a killed build to lose. Two builds into the
  same URL at once are not detected (docs/scale.md).
- resume trusts the recorded size of an uploaded shard (downloading every shard to hash it
  again would cost its whole size); the sha256 recorded is the one the worker computed.
"""

from __future__ import annotations

import hashlib
import os
from contextlib import nullcontext
from pathlib import Path

import fsspec

from .manifest import META_DIR
from .storage import OutputError, Storage


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") if i else p.rstrip("/") for i, p in enumerate(parts) if p or not i)


class ObjectStore(Storage):
    kind = "prefix"
    uploads_in_place = True  # a worker's one PUT puts the shard where it belongs

    def __init__(self, url: str) -> None:
        self._url = str(url).rstrip("/")
        try:
            self.fs, self._path = fsspec.core.url_to_fs(self._url)  # some backends connect here (ftp://, sftp://)
        except Exception as error:  # noqa: BLE001 - see check_usable
            raise self._cannot_write(error) from None

    @property
    def root(self) -> str:
        return self._url

    def url(self, rel: str = "") -> str:
        return _join(self._url, rel)

    def _at(self, rel: str = "") -> str:
        return _join(self._path, rel)

    def check_usable(self) -> None:
        """A prefix this machine cannot write (no bucket, no credentials, no permission) fails here, before any work."""
        try:
            probe = self._at(f"{META_DIR}/.write-test-{os.getpid()}")
            self.fs.pipe_file(probe, b"")
            self.fs.rm_file(probe)
        except Exception as error:  # noqa: BLE001 - every backend has its own errors (botocore, google-auth, OSError)
            raise self._cannot_write(error) from None
        self.fs.invalidate_cache()
        if self.fs.isfile(self._path):
            raise OutputError(f"--output_dir {self.root} is an object, not a prefix: choose a prefix (a folder path)")

    def _cannot_write(self, error: Exception) -> OutputError:
        return OutputError(f"--output_dir {self.root}: cannot write there ({type(error).__name__}: {str(error)[:200]}); "
                           f"check that the bucket exists (and its host answers) and that this machine's credentials "
                           f"may write to it (e.g. AWS_PROFILE, GOOGLE_APPLICATION_CREDENTIALS)")

    def names(self, rel: str = "") -> list[str]:
        self.fs.invalidate_cache()  # listings cached by this process may predate other writers
        if not self.fs.exists(self._at(rel)):
            return []
        return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(self._at(rel), detail=False))

    def files(self, rel: str = "") -> list[str]:
        self.fs.invalidate_cache()
        root = self._path.rstrip("/") + "/"
        return sorted(p[len(root):] for p in self.fs.find(self._at(rel)) if p.startswith(root))

    def exists(self, rel: str) -> bool:
        return self.fs.exists(self._at(rel))

    def size(self, rel: str) -> int | None:
        self.fs.invalidate_cache(self._at(rel).rsplit("/", 1)[0])  # a worker elsewhere may have uploaded it
        try:
            return self.fs.size(self._at(rel))
        except FileNotFoundError:
            return None

    def open_binary(self, rel: str):
        return self.fs.open(self._at(rel), "rb")

    def read_text(self, rel: str) -> str | None:
        try:
            return self.fs.cat_file(self._at(rel)).decode("utf-8", errors="replace")
        except FileNotFoundError:
            return None

    def write_text(self, rel: str, text: str) -> None:
        self.fs.pipe_file(self._at(rel), text.encode("utf-8"))

    def remove(self, rel: str) -> None:
        if self.fs.exists(self._at(rel)):
            self.fs.rm(self._at(rel), recursive=True)

    def move(self, rel: str, dest: str) -> None:
        self.fs.mv(self._at(rel), self._at(dest), recursive=True)

    def place(self, written: str, rel: str) -> None:
        if written.rstrip("/") != self.url(rel):  # workers upload in place: nothing to move
            self.fs.copy(fsspec.core.url_to_fs(written)[1], self._at(rel))

    def intact(self, rel: str, sha256: str | None, size: int | None) -> bool:
        return size is not None and self.size(rel) == size

    def replace_dir(self, staged: str, rel: str) -> None:
        for name in self.names(staged):
            self.fs.copy(self._at(f"{staged}/{name}"), self._at(f"{rel}/{name}"))

    def commit_window(self):
        return nullcontext()  # the copy may take long: a stop stays possible, the rerun finishes it

    def lock(self, message: str) -> None:
        """Nothing to hold (see the module docstring)."""

    def unlock(self) -> None:
        """Nothing held."""

    def remove_partials(self) -> None:
        """Nothing: an object is whole or absent."""


def driver_state_dir(output: Path | str) -> Path:
    """The driver's own files (caption-report database, `datasets` lock cache): `<out>/.audiosetmix/` for a local
    folder; for an object store a local folder per URL (SQLite cannot live on one; nothing here is in the dataset)."""
    if isinstance(output, Path):
        return output / META_DIR
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "audiosetmix" / "remote-builds" / hashlib.sha256(output.encode("utf-8")).hexdigest()[:16]


def output_url(output: Path | str, *parts: str) -> str:
    """A location inside the output, as a path (local) or a URL (object store), for workers and messages."""
    return str(output.joinpath(*parts)) if isinstance(output, Path) else "/".join((output, *parts))


__all__ = ["ObjectStore", "driver_state_dir", "output_url"]
