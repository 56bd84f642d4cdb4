"""The output folder's life cycle: check it, plan or resume, stage and commit shards, card last.

    out = BuildOutput(root, plan, determinants, overwrite=False)
    todo = out.open()                        # refuses a foreign folder, writes the manifest first
    for spec in todo:                         # any engine, any order, any process
        result = write_shard(maker, spec, features, out.staging_dir, meta_dir=out.meta_dir)
        out.commit(result)                    # driver only: rename into place, record rows + sha256
    out.finish(card_text, extra_files)        # swap data/ in if replacing, card last, old shards deleted

A folder with `.audiosetmix/manifest.json` is an AudioSetMix output. Same build hash: only
missing or unverifiable shards are built again. Different hash: the new shards wait in staging
and replace `data/` in one step when all are done (the old dataset stays loadable until then).
A foreign non-empty folder is refused unless `overwrite`; even then nothing of the user's is
deleted: its `README.md`, `data/` and `caption_report.json` are moved to `.audiosetmix/displaced/` (see `DISPLACE`).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import signal
import time
from pathlib import Path

import pyarrow.parquet as pq

from .faults import remove_marker
from .manifest import META_DIR, Manifest, build_hash, load_manifest
from .plan import ShardSpec
from .shard_writer import ShardResult, file_sha256
from .swap import swap_in

DATA_DIR = "data"
CARD = "README.md"
DISPLACE = (CARD, DATA_DIR, "caption_report.json")  # what a foreign folder loses to our dataset under --overwrite (moved, not deleted)
ANSWERS_DIR = "answers"


class OutputError(ValueError):
    """The output folder cannot take this build (foreign files, another build running); the message says what to do."""


def _is_empty(root: Path) -> bool:
    """Nothing there but (perhaps) our own `.audiosetmix/` left by a build killed before its manifest."""
    return not root.exists() or all(child.name == META_DIR for child in root.iterdir())


def check_output_dir(root: str | os.PathLike, overwrite: bool = False) -> None:
    """Refuse early (before scanning sources) what `BuildOutput.open` would refuse."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise OutputError(f"--output_dir {root} is a file, not a folder: choose a folder path")
    if not overwrite and not _is_empty(root) and load_manifest(root) is None and not is_legacy_output(root):
        raise OutputError(_foreign_message(root))


def is_legacy_output(root: Path) -> bool:
    """A dataset built before the manifest existed: our card, our shard names, and nothing else."""
    card = Path(root) / CARD
    if not card.is_file() or "pretty_name: AudioSetMix" not in card.read_text(encoding="utf-8", errors="replace"):
        return False
    files = [p.relative_to(root).as_posix() for p in Path(root).rglob("*") if p.is_file()]
    return all(f in (CARD, "caption_report.json") or (f.startswith(f"{DATA_DIR}/") and _looks_like_shard(f[5:]))
               for f in files if not f.startswith(f"{META_DIR}/"))


def _foreign_message(root: Path) -> str:
    return (f"--output_dir {root} is not empty and is not an AudioSetMix output (no {META_DIR}/manifest.json): choose "
            f"a new or empty folder, or pass --overwrite (nothing of yours is deleted: an existing "
            f"{', '.join(DISPLACE)} are moved to {META_DIR}/displaced/)")


class BuildOutput:
    def __init__(self, root: str | os.PathLike, plan: list[ShardSpec], determinants: dict, overwrite: bool = False) -> None:
        self.root = Path(root)
        self.plan = plan
        self.determinants = determinants
        self.hash = build_hash(determinants)
        self.overwrite = overwrite
        self.manifest: Manifest | None = None
        self.state = ""  # fresh | resume | replace | done
        self.notes: list[str] = []  # what the build should tell the user about the folder
        self._lock_fd: int | None = None

    # ---- paths ----------------------------------------------------------------------------
    @property
    def meta_dir(self) -> Path:
        return self.root / META_DIR

    @property
    def staging_dir(self) -> Path:
        """Where shard writers put their files (partial files included) for this build hash."""
        return self.meta_dir / "staging" / self.hash[:16]

    @property
    def answers_dir(self) -> Path:
        return self.meta_dir / ANSWERS_DIR

    def _target_dir(self) -> Path:
        return self.root / DATA_DIR if self.manifest.target == "data" else self.staging_dir / DATA_DIR

    # ---- open -----------------------------------------------------------------------------
    def open(self) -> list[ShardSpec]:
        """Check the folder, take the lock, write the manifest; return the shards still to build."""
        check_output_dir(self.root, self.overwrite)
        previous = load_manifest(self.root) if self.root.exists() else None
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock()
        legacy = previous is None and is_legacy_output(self.root)
        if previous is None and not legacy:
            self._displace_foreign()
        self._remove_partials()
        if previous is not None and previous.build_hash == self.hash:
            self.manifest = previous
            self._recover_interrupted_swap()
            todo = self._unfinished()
            self.state = "done" if previous.complete and not todo else "resume"
            if self.state == "done":
                return []
            self.manifest.complete = False
        else:
            committed = {"build_hash": "legacy", "files": sorted(p.relative_to(self.root).as_posix() for p in
                                                                 (self.root / DATA_DIR).glob("*.parquet"))} if legacy else None
            if previous is not None:
                committed = previous.loadable()
                if committed is None:  # an unfinished earlier build wrote into data/: nothing loadable to keep
                    self._delete_recorded(previous)
                self._drop_other_staging()
            self.state = "replace" if committed else "fresh"
            self.manifest = Manifest(self.hash, self.determinants, "staging" if committed else "data",
                                     [dict(spec.to_dict(), name=spec.name, file=None, rows=None, sha256=None)
                                      for spec in self.plan], False, committed)
            todo = list(self.plan)
        self.manifest.save(self.root)
        return todo

    def _lock(self) -> None:
        self.meta_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.meta_dir / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise OutputError(f"another build is writing into {self.root} (it holds {META_DIR}/lock): wait for it, "
                              f"or stop it and run this command again to resume") from None
        self._lock_fd = fd

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _displace_foreign(self) -> None:
        """--overwrite on a folder that is not ours: move what would collide with our dataset, delete nothing."""
        moved = [name for name in DISPLACE if (self.root / name).exists()]
        if not moved:
            return
        dest = self.meta_dir / "displaced" / time.strftime("%Y%m%dT%H%M%S")
        dest.mkdir(parents=True, exist_ok=True)
        for name in moved:
            os.replace(self.root / name, dest / name)
        self.notes.append(f"--overwrite: moved {', '.join(moved)} to {dest.relative_to(self.root)} (nothing deleted)")

    def _remove_partials(self) -> None:
        """Files a killed attempt left half-written are never finished shards: delete them."""
        staging = self.meta_dir / "staging"
        if staging.exists():
            for partial in staging.rglob("*.partial-*"):
                partial.unlink(missing_ok=True)
        for name in (CARD, "caption_report.json"):  # a card or report written but not yet renamed
            for tmp in self.root.glob(f".{name}.tmp-*"):
                tmp.unlink(missing_ok=True)

    def _drop_other_staging(self) -> None:
        staging = self.meta_dir / "staging"
        if staging.exists():
            for child in staging.iterdir():
                if child != self.staging_dir:
                    shutil.rmtree(child, ignore_errors=True)

    def _delete_recorded(self, manifest: Manifest) -> None:
        for shard in manifest.shards:
            if shard.get("file"):
                (self.root / shard["file"]).unlink(missing_ok=True)
        for spec in manifest.shards:  # unrecorded files of the plan in data/ are ours too
            if manifest.target == "data":
                (self.root / DATA_DIR / spec["name"]).unlink(missing_ok=True)

    def _recover_interrupted_swap(self) -> None:
        """A kill between the data/ swap and the card: data/ already holds this build's shards; finish from there."""
        m = self.manifest
        if m.target != "staging" or not all(s.get("sha256") for s in m.shards):
            return
        in_data = [self.root / DATA_DIR / s["name"] for s in m.shards]
        if all(p.exists() and file_sha256(p) == s["sha256"] for p, s in zip(in_data, m.shards)):
            for shard in m.shards:
                shard["file"] = f"{DATA_DIR}/{shard['name']}"
            m.target = "data"
            m.save(self.root)

    def _unfinished(self) -> list[ShardSpec]:
        """Planned shards without a recorded file whose size of rows and sha256 still match."""
        todo = []
        for spec in self.plan:
            record = next((s for s in self.manifest.shards if s["name"] == spec.name), None)
            path = self.root / record["file"] if record and record.get("file") else None
            if path is None or not path.exists() or record.get("sha256") != file_sha256(path):
                if record is not None:
                    record.update(file=None, rows=None, sha256=None)
                todo.append(spec)
        return todo

    # ---- commit ---------------------------------------------------------------------------
    def commit(self, result: ShardResult) -> None:
        """Verify a finished shard, move it into its place and record it (the driver calls this, one at a time)."""
        staged = Path(result.path)
        rows = pq.ParquetFile(staged).metadata.num_rows
        if rows != result.spec.rows or rows != result.rows or file_sha256(staged) != result.sha256:
            raise OutputError(f"shard {result.spec.name} failed verification ({rows} rows on disk, "
                              f"{result.spec.rows} planned): run the command again to rebuild it")
        target = self._target_dir()
        target.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target / result.spec.name)
        self.manifest.record(result.spec.name, (target / result.spec.name).relative_to(self.root).as_posix(),
                             rows, result.sha256)
        self.manifest.save(self.root)

    def finished_files(self) -> dict[str, list[Path]]:
        """The build's shard files per split, in plan order (call after every shard is committed)."""
        out: dict[str, list[Path]] = {}
        for shard in self.manifest.shards:
            out.setdefault(shard["split"], []).append(self.root / shard["file"])
        return out

    # ---- finish ---------------------------------------------------------------------------
    def finish(self, card_text: str, extra_files: dict[str, str] | None = None, remove: tuple[str, ...] = ()) -> None:
        """All shards committed: swap data/ in (replace), write extra files, the card last; delete the old shards."""
        missing = [s["name"] for s in self.manifest.shards if not s.get("file")]
        if missing:
            raise OutputError(f"{len(missing)} shard(s) not finished ({missing[0]}, ...): run the command again to resume")
        for name, text in (extra_files or {}).items():
            _write_text_atomic(self.root / name, text)
        for name in remove:
            (self.root / name).unlink(missing_ok=True)
        card_tmp = _write_text_atomic(self.root / CARD, card_text, commit=False)
        old = None
        # The swap and the card are the commit: two renames back to back, with SIGTERM / Ctrl-C held until both
        # are done (only SIGKILL or power loss can fall between them; `_recover_interrupted_swap` then finishes).
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        try:
            if self.manifest.target == "staging":
                old = swap_in(self.staging_dir / DATA_DIR, self.root / DATA_DIR)
            os.replace(card_tmp, self.root / CARD)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        if self.manifest.target == "staging":
            for shard in self.manifest.shards:
                shard["file"] = f"{DATA_DIR}/{shard['name']}"
            self.manifest.target = "data"
        self.manifest.complete = True
        self.manifest.committed = {"build_hash": self.hash, "files": [s["file"] for s in self.manifest.shards]}
        self.manifest.save(self.root)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        self._clean_after_finish()

    def _clean_after_finish(self) -> None:
        shutil.rmtree(self.meta_dir / "staging", ignore_errors=True)
        for spec in self.plan:
            remove_marker(self.meta_dir, spec.position)
        # shards of an earlier, different build written straight into data/ and no longer in the plan
        ours = {s["name"] for s in self.manifest.shards}
        data = self.root / DATA_DIR
        for path in data.glob("*.parquet"):
            if path.name not in ours and _looks_like_shard(path.name):
                path.unlink()


def _looks_like_shard(name: str) -> bool:
    return re.fullmatch(r"(train|validation|test)-\d{5}-of-\d{5}\.parquet", name) is not None


def _write_text_atomic(path: Path, text: str, commit: bool = True) -> Path:
    """Write beside `path` and fsync; rename over `path` now (commit) or return the temp file for the caller to rename."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    if commit:
        os.replace(tmp, path)
    return tmp


__all__ = ["BuildOutput", "OutputError", "check_output_dir"]
