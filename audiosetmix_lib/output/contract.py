"""The output's life cycle: check it, plan or resume, stage and commit shards, card last — on any storage.

    out = BuildOutput(open_storage(location), plan, determinants, overwrite=False)
    todo = out.open()                        # refuses a foreign folder or another finished build; manifest first
    for spec in todo:                         # any engine, any order, any process
        result = write_shard(maker, spec, features, out.staging_dir, meta_dir=out.meta_dir)
        out.commit(result)                    # driver only: put into place, verify, record rows + sha256 + size
    out.finish(card_text, extra_files)        # data/ replaced if staged, card last, old shards deleted

An output with `.audiosetmix/manifest.json` is an AudioSetMix output. Same build hash: only
missing or unverifiable shards are built again. A different hash where a finished dataset is:
refused unless `overwrite`; then the new shards wait in staging and replace `data/` when all
are done (the old dataset stays loadable until then). A foreign non-empty folder is refused
unless `overwrite`; even then nothing of the user's is deleted: its `README.md`, `data/` and
`caption_report.json` are moved to `.audiosetmix/displaced/` (see `DISPLACE`).
How each step is kept on a local disk or an object store is the `Storage`'s business
(`local_storage.LocalFolder`, `object_store.ObjectStore`).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass

import pyarrow.parquet as pq
import yaml

from ..locations import is_remote
from .faults import remove_marker
from .local_storage import LocalFolder
from .manifest import MANIFEST, META_DIR, Manifest, ManifestUnreadable, build_hash
from .object_store import ObjectStore
from .plan import ShardSpec
from .shard_writer import ShardResult, stream_sha256
from .storage import OutputError, Storage

DATA_DIR = "data"
CARD = "README.md"
DISPLACE = (CARD, DATA_DIR, "caption_report.json")  # what a foreign folder loses to our dataset under --overwrite (moved, not deleted)


def open_storage(location: str | os.PathLike) -> Storage:
    """A local folder (a Path, or file://) or an object store (an fsspec URL such as s3://)."""
    return ObjectStore(str(location)) if is_remote(location) else LocalFolder(location)


def check_output(location: str | os.PathLike, overwrite: bool = False) -> None:
    """Refuse early (before scanning sources) what `BuildOutput.open` would refuse without knowing the build."""
    storage = open_storage(location)
    storage.check_usable()
    found = inspect_output(storage)
    if found.refusal and not found.damaged and not overwrite:  # a damaged manifest: the build may still recover it
        raise OutputError(found.refusal)


@dataclass
class Existing:
    """What an output holds before a build opens it."""

    manifest: Manifest | None = None
    legacy: bool = False  # a dataset built before manifests
    refusal: str | None = None  # why no build may go there without --overwrite (foreign, or its manifest damaged)
    damaged: bool = False  # its manifest is there but unreadable


def inspect_output(storage: Storage) -> Existing:
    try:
        previous = read_manifest(storage)
    except ManifestUnreadable as error:
        return Existing(refusal=f"--output_dir {storage.root}: {MANIFEST} is damaged ({error}) and {DATA_DIR}/ does not hold "
                                f"this command's finished shards (checked against the sizes its card recorded): pass "
                                f"--overwrite to build anew (its {', '.join(DISPLACE)} and the damaged manifest are moved to "
                                f"{META_DIR}/displaced/, nothing is deleted), or choose another --output_dir", damaged=True)
    legacy = previous is None and is_legacy_output(storage)
    if previous is None and not legacy and any(name != META_DIR for name in storage.names()):
        return Existing(refusal=f"--output_dir {storage.root} is not empty and is not an AudioSetMix output (no "
                                f"{MANIFEST}): choose a new or empty {storage.kind}, or pass --overwrite (nothing of "
                                f"yours is deleted: an existing {', '.join(DISPLACE)} are moved to {META_DIR}/displaced/)")
    return Existing(previous, legacy)


def card_split_sizes(card: str | None) -> dict[str, tuple[int, int]]:
    """{split: (num_bytes, num_examples)} as a card's `dataset_info` recorded them; {} where there are none."""
    if not card or not card.startswith("---\n"):
        return {}
    try:
        header = yaml.safe_load(card[4:].split("\n---", 1)[0]) or {}
        splits = (header.get("dataset_info") or {}).get("splits") or []
        return {s["name"]: (int(s["num_bytes"]), int(s["num_examples"])) for s in splits}
    except (yaml.YAMLError, AttributeError, KeyError, TypeError, ValueError):
        return {}


def read_manifest(storage: Storage) -> Manifest | None:
    """None where there is none; raises ManifestUnreadable where it is empty, truncated or not a manifest."""
    text = storage.read_text(MANIFEST)
    return None if text is None else Manifest.from_text(text)


def is_legacy_output(storage: Storage) -> bool:
    """A dataset built before the manifest existed: our card, our shard names, and nothing else."""
    if "pretty_name: AudioSetMix" not in (storage.read_text(CARD) or ""):
        return False
    return all(f in (CARD, "caption_report.json") or (f.startswith(f"{DATA_DIR}/") and _looks_like_shard(f[5:]))
               for f in storage.files() if not f.startswith(f"{META_DIR}/"))


def _looks_like_shard(name: str) -> bool:
    return re.fullmatch(r"(train|validation|test)-\d{5}-of-\d{5}\.parquet", name) is not None


def describe_build(summary: dict | None) -> str:
    """'2,500 rows (train 2,000, validation 250, test 250), finished 2026-12-07 22:10 UTC, captions by openai (model x)'."""
    summary = summary or {}
    rows = summary.get("rows") or {}
    text = (f"{sum(rows.values()):,} rows ({', '.join(f'{split} {n:,}' for split, n in rows.items())})" if rows
            else "rows unknown")
    text += f", finished {summary['finished_at']}" if summary.get("finished_at") else ", date unknown"
    captioner = summary.get("captioner") or {}
    if captioner.get("name"):
        model = f" (model {captioner['model']})" if captioner.get("model") else ""
        text += f", captions by {captioner['name']}{model}"
    return text


class BuildOutput:
    def __init__(self, storage: Storage, plan: list[ShardSpec], determinants: dict, overwrite: bool = False) -> None:
        self.storage = storage
        self.plan = plan
        self.determinants = determinants
        self.hash = build_hash(determinants)
        self.overwrite = overwrite
        self.manifest: Manifest | None = None
        self.state = ""  # fresh | resume | replace | done
        self.notes: list[str] = []  # what the build should tell the user about the output

    # ---- places ---------------------------------------------------------------------------
    @property
    def meta_dir(self) -> str:
        return self.storage.url(META_DIR)

    @property
    def _staging(self) -> str:
        return f"{META_DIR}/staging/{self.hash[:16]}"

    def _target(self) -> str:
        """Where finished shards belong until the build is complete: data/, or data/ inside this build's staging."""
        return DATA_DIR if self.manifest.target == "data" else f"{self._staging}/{DATA_DIR}"

    @property
    def staging_dir(self) -> str:
        """Where shard writers put their files: their place itself where the storage uploads in place, else staging."""
        return self.storage.url(self._target() if self.storage.uploads_in_place else self._staging)

    # ---- open -----------------------------------------------------------------------------
    def open(self) -> list[ShardSpec]:
        """Check the output, take the lock, write the manifest; return the shards still to build."""
        storage = self.storage
        storage.check_usable()
        found = inspect_output(storage)
        if found.refusal and not found.damaged and not self.overwrite:
            raise OutputError(found.refusal)
        storage.lock(f"another build is writing into {storage.root} (it holds {META_DIR}/lock): wait for it, "
                     f"or stop it and run this command again to resume")
        if found.damaged and not self.overwrite:
            return self._recover_manifest(found.refusal)
        if found.refusal:
            self._move_aside((*DISPLACE, MANIFEST), "--overwrite: ")
        storage.remove_partials()
        if found.manifest is not None and found.manifest.build_hash == self.hash:
            todo = self._resume(found.manifest)
        else:
            todo = self._begin(found.manifest, found.legacy)
        if self.state != "done":  # a finished build is not rewritten, its manifest included
            self._save()
        return todo

    def _resume(self, previous: Manifest) -> list[ShardSpec]:
        self.manifest = previous
        self._recover_interrupted_switch()
        todo = self._unfinished()
        self.state = "done" if previous.complete and not todo else "resume"
        if self.state == "resume":
            self.manifest.complete = False
        return todo

    def _begin(self, previous: Manifest | None, legacy: bool) -> list[ShardSpec]:
        """A new build: refuse to replace a finished different one without --overwrite; stage it if one is there."""
        committed = self._legacy_dataset() if legacy else previous.loadable() if previous is not None else None
        if committed is not None and committed["build_hash"] != self.hash and not self.overwrite:
            raise OutputError(f"--output_dir {self.storage.root} holds a finished, different AudioSetMix build: "
                              f"{describe_build(committed.get('summary'))}. Keep both by giving this build another "
                              f"--output_dir, or pass --overwrite to replace it (the new build is staged and replaces "
                              f"data/ only when complete)")
        if previous is not None:
            if committed is None:  # an unfinished earlier build wrote into data/: nothing loadable to keep
                self._delete_recorded(previous)
            self._drop_other_staging()
        self.state = "replace" if committed else "fresh"
        self.manifest = Manifest(self.hash, self.determinants, "staging" if committed else "data",
                                 [dict(spec.to_dict(), name=spec.name, file=None, rows=None, sha256=None, size=None)
                                  for spec in self.plan], False, committed)
        return list(self.plan)

    def _legacy_dataset(self) -> dict:
        files = [f"{DATA_DIR}/{name}" for name in self.storage.names(DATA_DIR) if _looks_like_shard(name)]
        rows: dict[str, int] = {}
        for file in files:
            split = file.split("/", 1)[1].split("-", 1)[0]
            rows[split] = rows.get(split, 0) + (self._footer_rows(file) or 0)
        return {"build_hash": "legacy", "files": files, "summary": {"rows": rows}}

    def close(self) -> None:
        self.storage.unlock()

    def _move_aside(self, names: tuple[str, ...], why: str = "") -> None:
        """--overwrite on an output that is not ours (or whose manifest is damaged): move what would collide with our
        dataset, delete nothing."""
        moved = [name for name in names if self.storage.exists(name)]
        if not moved:
            return
        dest = f"{META_DIR}/displaced/{time.strftime('%Y%m%dT%H%M%S')}"
        for name in moved:
            self.storage.move(name, f"{dest}/{name.rsplit('/', 1)[-1]}")
        self.notes.append(f"{why}moved {', '.join(moved)} to {dest} (nothing deleted)")

    def _recover_manifest(self, refusal: str) -> list[ShardSpec]:
        """A damaged manifest and the same command: when data/ holds every planned shard, with the rows planned and,
        per split, the bytes and rows the card recorded, the build is finished: its manifest is written again."""
        recorded = card_split_sizes(self.storage.read_text(CARD))
        shards = [self._found_shard(spec) for spec in self.plan]
        if not recorded or None in shards:
            raise OutputError(refusal)
        found = {split: (sum(s["size"] for s in shards if s["split"] == split),
                         sum(s["rows"] for s in shards if s["split"] == split)) for split in recorded}
        if found != recorded or {s["split"] for s in shards} != set(recorded):
            raise OutputError(refusal)
        for shard in shards:
            with self.storage.open_binary(shard["file"]) as f:
                shard["sha256"] = stream_sha256(f)
        self._move_aside((MANIFEST,))
        self.manifest = Manifest(self.hash, self.determinants, "data", shards, True)
        self.manifest.committed = self.manifest.loadable()
        self._save()
        self.notes.append(f"{MANIFEST} was damaged: written again from {DATA_DIR}/, whose shards match this command's "
                          f"plan and the sizes the card recorded")
        self.state = "done"
        return []

    def _found_shard(self, spec: ShardSpec) -> dict | None:
        """A planned shard in data/ with the planned rows (its Parquet footer), or None."""
        rel = f"{DATA_DIR}/{spec.name}"
        rows = self._footer_rows(rel)
        if rows != spec.rows:
            return None
        return dict(spec.to_dict(), name=spec.name, file=rel, rows=rows, sha256=None, size=self.storage.size(rel))

    def _footer_rows(self, rel: str) -> int | None:
        """The row count in the Parquet footer of `rel`; None when it is absent or not Parquet."""
        if self.storage.size(rel) is None:
            return None
        try:
            with self.storage.open_binary(rel) as f:
                return pq.ParquetFile(f).metadata.num_rows
        except (OSError, ValueError):  # pyarrow's ArrowInvalid is a ValueError
            return None

    def _drop_other_staging(self) -> None:
        for name in self.storage.names(f"{META_DIR}/staging"):
            if f"{META_DIR}/staging/{name}" != self._staging:
                self.storage.remove(f"{META_DIR}/staging/{name}")

    def _delete_recorded(self, manifest: Manifest) -> None:
        for shard in manifest.shards:  # recorded files, and unrecorded files of the plan in data/: ours too
            for rel in {shard.get("file"), f"{DATA_DIR}/{shard['name']}" if manifest.target == "data" else None} - {None}:
                self.storage.remove(rel)

    def _recover_interrupted_switch(self) -> None:
        """A kill between the switch of data/ and the card: staging no longer holds the shards, data/ does."""
        m = self.manifest
        if m.target != "staging" or not all(s.get("sha256") for s in m.shards):
            return
        first = m.shards[0]
        if self.storage.intact(first["file"], first["sha256"], first.get("size")):
            return  # still staged (not switched, or copied by an object store): finish switches again
        if all(self.storage.intact(f"{DATA_DIR}/{s['name']}", s["sha256"], s.get("size")) for s in m.shards):
            for shard in m.shards:
                shard["file"] = f"{DATA_DIR}/{shard['name']}"
            m.target = "data"

    def _unfinished(self) -> list[ShardSpec]:
        """Planned shards without a recorded file that is still the one recorded."""
        todo = []
        for spec in self.plan:
            record = next((s for s in self.manifest.shards if s["name"] == spec.name), None)
            if record is None or not record.get("file") or not self.storage.intact(record["file"], record.get("sha256"),
                                                                                   record.get("size")):
                if record is not None:
                    record.update(file=None, rows=None, sha256=None, size=None)
                todo.append(spec)
        return todo

    def _save(self) -> None:
        self.storage.write_text(MANIFEST, self.manifest.to_text())

    # ---- commit ---------------------------------------------------------------------------
    def commit(self, result: ShardResult) -> None:
        """Put a finished shard in its place, verify it there and record it (the driver calls this, one at a time)."""
        rel = f"{self._target()}/{result.spec.name}"
        self.storage.place(result.path, rel)
        size, rows = self.storage.size(rel), self._footer_rows(rel)
        if rows != result.spec.rows or rows != result.rows or not self.storage.intact(rel, result.sha256, result.size):
            raise OutputError(f"shard {result.spec.name} failed verification ({rows} rows and {size} bytes at "
                              f"{self.storage.url(rel)}, {result.spec.rows} rows planned): run the command again to rebuild it")
        self.manifest.record(result.spec.name, rel, rows, result.sha256, size)
        self._save()

    def finished_files(self) -> dict[str, list[str]]:
        """The build's shard files per split, in plan order (call after every shard is committed)."""
        out: dict[str, list[str]] = {}
        for shard in self.manifest.shards:
            out.setdefault(shard["split"], []).append(self.storage.url(shard["file"]))
        return out

    # ---- finish ---------------------------------------------------------------------------
    def finish(self, card_text: str, extra_files: dict[str, str] | None = None, remove: tuple[str, ...] = ()) -> None:
        """All shards committed: extra files, then data/ switched to the staged shards (replace), the card last."""
        missing = [s["name"] for s in self.manifest.shards if not s.get("file")]
        if missing:
            raise OutputError(f"{len(missing)} shard(s) not finished ({missing[0]}, ...): run the command again to resume")
        for name, text in (extra_files or {}).items():
            self.storage.write_text(name, text)
        for name in remove:
            self.storage.remove(name)
        with self.storage.commit_window():  # the switch and the card: back to back
            if self.manifest.target == "staging":
                self.storage.replace_dir(f"{self._staging}/{DATA_DIR}", DATA_DIR)
            self._remove_other_shards()
            self.storage.write_text(CARD, card_text)
        for shard in self.manifest.shards:
            shard["file"] = f"{DATA_DIR}/{shard['name']}"
        self.manifest.target = "data"
        self.manifest.complete = True
        self.manifest.finished_at = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        self.manifest.committed = self.manifest.loadable()
        self._save()
        self.storage.remove(f"{META_DIR}/staging")
        for spec in self.plan:
            remove_marker(self.meta_dir, spec.position)

    def _remove_other_shards(self) -> None:
        """Shards of an earlier, different build in data/ that this build's plan does not name."""
        ours = {s["name"] for s in self.manifest.shards}
        for name in self.storage.names(DATA_DIR):
            if name not in ours and _looks_like_shard(name):
                self.storage.remove(f"{DATA_DIR}/{name}")


__all__ = ["BuildOutput", "OutputError", "check_output", "describe_build", "inspect_output", "open_storage"]
