"""The output contract on an object store (`s3://`, `gs://`, any fsspec filesystem without rename).

Same layout, manifest and promises as `output.contract.BuildOutput` (same methods, so every
engine uses either), built on what object stores do offer instead of renames and `flock`:

- one PUT is atomic: an object is visible whole or not at all. Workers write each shard in a
  local temporary folder and upload it in one PUT (`shard_writer.write_shard`), so a killed
  worker leaves nothing, never half a shard; the manifest and the card are single PUTs too.
- a fresh build (or a resumed one) uploads shards straight into `data/`; the driver verifies
  each (row count in the Parquet footer, size) and records it in the manifest.
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
import json
import os
import time
from pathlib import Path

import fsspec
import pyarrow.parquet as pq

from .contract import CARD, DATA_DIR, DISPLACE, OutputError, _looks_like_shard
from .faults import remove_marker
from .manifest import MANIFEST_NAME, META_DIR, Manifest, build_hash
from .plan import ShardSpec
from .shard_writer import ShardResult


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") if i else p.rstrip("/") for i, p in enumerate(parts))


class ObjectStoreOutput:
    def __init__(self, url: str, plan: list[ShardSpec], determinants: dict, overwrite: bool = False) -> None:
        self.root = url.rstrip("/")
        self.fs, self._path = fsspec.core.url_to_fs(self.root)
        self.plan = plan
        self.determinants = determinants
        self.hash = build_hash(determinants)
        self.overwrite = overwrite
        self.manifest: Manifest | None = None
        self.state = ""
        self.notes: list[str] = []

    # ---- locations (URLs for workers, paths for self.fs) ------------------------------------
    def url(self, *parts: str) -> str:
        return _join(self.root, *parts)

    def _p(self, *parts: str) -> str:
        return _join(self._path, *parts)

    @property
    def meta_dir(self) -> str:
        return self.url(META_DIR)

    @property
    def answers_dir(self) -> str:
        return self.url(META_DIR, "answers")

    @property
    def _staging_rel(self) -> str:
        return f"{META_DIR}/staging/{self.hash[:16]}/{DATA_DIR}"

    @property
    def staging_dir(self) -> str:
        """Where workers upload finished shards: data/ itself, or this build's staging while replacing."""
        return self.url(DATA_DIR if self.manifest is None or self.manifest.target == "data" else self._staging_rel)

    # ---- open -------------------------------------------------------------------------------
    def open(self) -> list[ShardSpec]:
        check_object_store_output(self.root, self.overwrite)
        previous = load_remote_manifest(self.fs, self._path)
        if previous is None and self._entries():
            self._displace_foreign()
        if previous is not None and previous.build_hash == self.hash:
            self.manifest = previous
            todo = self._unfinished()
            self.state = "done" if previous.complete and not todo else "resume"
            if self.state == "done":
                return []
            self.manifest.complete = False
        else:
            committed = None
            if previous is not None:
                committed = previous.loadable()
                if committed is None:
                    self._delete_recorded(previous)
                self._rm(self._p(META_DIR, "staging"))
            self.state = "replace" if committed else "fresh"
            self.manifest = Manifest(self.hash, self.determinants, "staging" if committed else "data",
                                     [dict(spec.to_dict(), name=spec.name, file=None, rows=None, sha256=None, size=None)
                                      for spec in self.plan], False, committed)
            todo = list(self.plan)
        self._save()
        return todo

    def close(self) -> None:
        """Nothing held (no lock on an object store)."""

    def _entries(self) -> list[str]:
        self.fs.invalidate_cache()  # listings cached by this process may predate other writers
        if not self.fs.exists(self._path):
            return []
        names = [p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(self._path, detail=False)]
        return [n for n in names if n != META_DIR]

    def _displace_foreign(self) -> None:
        """--overwrite on a prefix that is not ours: move (copy, then delete the source) what would collide."""
        moved = [name for name in DISPLACE if self.fs.exists(self._p(name))]
        if not moved:
            return
        dest = f"{META_DIR}/displaced/{time.strftime('%Y%m%dT%H%M%S')}"
        for name in moved:
            self.fs.mv(self._p(name), self._p(dest, name), recursive=True)
        self.notes.append(f"--overwrite: moved {', '.join(moved)} to {dest} (nothing deleted)")

    def _rm(self, path: str) -> None:
        if self.fs.exists(path):
            self.fs.rm(path, recursive=True)

    def _delete_recorded(self, manifest: Manifest) -> None:
        for shard in manifest.shards:
            for rel in {shard.get("file"), f"{DATA_DIR}/{shard['name']}" if manifest.target == "data" else None} - {None}:
                self._rm(self._p(rel))

    def _unfinished(self) -> list[ShardSpec]:
        """Planned shards without a recorded file of the recorded size (an upload is whole or absent)."""
        todo = []
        self.fs.invalidate_cache()
        for spec in self.plan:
            record = next((s for s in self.manifest.shards if s["name"] == spec.name), None)
            ok = False
            if record and record.get("file"):
                try:
                    ok = self.fs.size(self._p(record["file"])) == record.get("size")
                except FileNotFoundError:
                    ok = False
            if not ok:
                if record is not None:
                    record.update(file=None, rows=None, sha256=None, size=None)
                todo.append(spec)
        return todo

    def _save(self) -> None:
        text = json.dumps(self.manifest.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        self.fs.pipe_file(self._p(META_DIR, MANIFEST_NAME), text.encode("utf-8"))

    # ---- commit -----------------------------------------------------------------------------
    def commit(self, result: ShardResult) -> None:
        """Verify an uploaded shard (footer row count, size) and record it (the driver calls this, one at a time)."""
        rel = f"{(DATA_DIR if self.manifest.target == 'data' else self._staging_rel)}/{result.spec.name}"
        path = self._p(rel)
        self.fs.invalidate_cache(self._p(rel.rsplit("/", 1)[0]))  # a worker elsewhere uploaded it
        try:
            size = self.fs.size(path)
            with self.fs.open(path, "rb") as f:
                rows = pq.ParquetFile(f).metadata.num_rows
        except FileNotFoundError:
            size, rows = None, None
        if rows != result.spec.rows or rows != result.rows or size != result.size:
            raise OutputError(f"shard {result.spec.name} failed verification ({rows} rows and {size} bytes at "
                              f"{self.url(rel)}, {result.spec.rows} rows planned): run the command again to rebuild it")
        self.manifest.record(result.spec.name, rel, rows, result.sha256)
        next(s for s in self.manifest.shards if s["name"] == result.spec.name)["size"] = size
        self._save()

    def finished_files(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for shard in self.manifest.shards:
            out.setdefault(shard["split"], []).append(self.url(shard["file"]))
        return out

    # ---- finish -----------------------------------------------------------------------------
    def finish(self, card_text: str, extra_files: dict[str, str] | None = None, remove: tuple[str, ...] = ()) -> None:
        """All shards recorded: copy staged shards over data/ (replace), extra files, the card last (one PUT)."""
        missing = [s["name"] for s in self.manifest.shards if not s.get("file")]
        if missing:
            raise OutputError(f"{len(missing)} shard(s) not finished ({missing[0]}, ...): run the command again to resume")
        for shard in self.manifest.shards:  # replace: one shard at a time, recorded, so a killed copy resumes
            final = f"{DATA_DIR}/{shard['name']}"
            if shard["file"] != final:
                self.fs.copy(self._p(shard["file"]), self._p(final))
                shard["file"] = final
                self._save()
        self.manifest.target = "data"
        for name, text in (extra_files or {}).items():
            self.fs.pipe_file(self._p(name), text.encode("utf-8"))
        for name in remove:
            self._rm(self._p(name))
        ours = {s["name"] for s in self.manifest.shards}
        self.fs.invalidate_cache()
        if self.fs.exists(self._p(DATA_DIR)):
            for path in self.fs.ls(self._p(DATA_DIR), detail=False):
                name = path.rstrip("/").rsplit("/", 1)[-1]
                if name not in ours and _looks_like_shard(name):
                    self.fs.rm_file(path)
        self.fs.pipe_file(self._p(CARD), card_text.encode("utf-8"))
        self.manifest.complete = True
        self.manifest.committed = {"build_hash": self.hash, "files": [s["file"] for s in self.manifest.shards]}
        self._save()
        self._rm(self._p(META_DIR, "staging"))
        for spec in self.plan:
            remove_marker(self.meta_dir, spec.position)


def load_remote_manifest(fs, path: str) -> Manifest | None:
    try:
        data = fs.cat_file(_join(path, META_DIR, MANIFEST_NAME))
    except FileNotFoundError:
        return None
    return Manifest.from_dict(json.loads(data.decode("utf-8")))


def check_object_store_output(url: str, overwrite: bool = False) -> None:
    """Refuse early what `ObjectStoreOutput.open` would refuse: a prefix this machine cannot write (no bucket, no
    credentials, no permission), or a non-empty prefix that is not an AudioSetMix output."""
    try:
        fs, path = fsspec.core.url_to_fs(url)  # some backends connect here (ftp://, sftp://)
        probe = _join(path, META_DIR, f".write-test-{os.getpid()}")
        fs.pipe_file(probe, b"")
        fs.rm_file(probe)
    except Exception as error:  # noqa: BLE001 - every backend has its own errors (botocore, google-auth, OSError)
        raise OutputError(f"--output_dir {url}: cannot write there ({type(error).__name__}: {str(error)[:200]}); check that "
                          f"the bucket exists (and its host answers) and that this machine's credentials may write to it "
                          f"(e.g. AWS_PROFILE, GOOGLE_APPLICATION_CREDENTIALS)") from None
    fs.invalidate_cache()
    if fs.isfile(path):
        raise OutputError(f"--output_dir {url} is an object, not a prefix: choose a prefix (a folder path)")
    if overwrite or load_remote_manifest(fs, path) is not None or not fs.exists(path):
        return
    names = [p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(path, detail=False)]
    if any(n != META_DIR for n in names):
        raise OutputError(f"--output_dir {url} is not empty and is not an AudioSetMix output (no {META_DIR}/manifest.json): "
                          f"choose a new or empty prefix, or pass --overwrite (nothing of yours is deleted: an existing "
                          f"{', '.join(DISPLACE)} are moved to {META_DIR}/displaced/)")


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


__all__ = ["ObjectStoreOutput", "check_object_store_output", "driver_state_dir", "load_remote_manifest", "output_url"]
