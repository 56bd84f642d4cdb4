"""`<out>/.audiosetmix/manifest.json`: what this folder's build is, and which of its shards are finished.

Written before any shard, rewritten (whole: rename or one PUT, by the storage) each time a
shard is recorded. `build_hash` covers everything that determines the row bytes and nothing
else (not the process count, engine, concurrency or LLM endpoints), so the same command
resumes and a changed configuration is a new build.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

META_DIR = ".audiosetmix"
MANIFEST_NAME = "manifest.json"
MANIFEST = f"{META_DIR}/{MANIFEST_NAME}"
FORMAT = 1


class ManifestUnreadable(ValueError):
    """The manifest is there but is not a manifest (empty, truncated, edited)."""


def build_hash(determinants: dict) -> str:
    payload = json.dumps(determinants, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass
class Manifest:
    build_hash: str
    determinants: dict
    target: str  # "data": shards go straight into data/; "staging": they wait in staging until the build is complete
    shards: list[dict]  # ShardSpec fields + "file" (relative to the output), "rows", "sha256", "size" (None until recorded)
    complete: bool = False
    committed: dict | None = None  # what data/ holds now: {"build_hash", "files", "summary"}, or None
    format: int = FORMAT
    notes: list[str] = field(default_factory=list)
    finished_at: str | None = None  # UTC, when the card was written

    def to_text(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_text(cls, text: str) -> "Manifest":
        """Raises ManifestUnreadable for anything that is not a manifest."""
        try:
            data = json.loads(text)
            known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
            manifest = cls(**known)
            if not isinstance(manifest.shards, list) or not isinstance(manifest.build_hash, str):
                raise TypeError("no shards or build hash")
        except (ValueError, TypeError) as error:
            reason = "empty" if not text.strip() else f"{type(error).__name__}: {str(error)[:120]}"
            raise ManifestUnreadable(reason) from None
        return manifest

    def summary(self) -> dict:
        """What a user needs to recognise this build: rows per split, when it finished, who wrote the captions."""
        rows: dict[str, int] = {}
        for shard in self.shards:
            rows[shard["split"]] = rows.get(shard["split"], 0) + int(shard["stop"]) - int(shard["start"])
        return {"rows": rows, "finished_at": self.finished_at, "captioner": self.determinants.get("captioner")}

    def loadable(self) -> dict | None:
        """What `data/` holds of this build or an earlier one ({"build_hash", "files", "summary"}), that a different
        build must leave loadable until it replaces it; None when nothing there is a finished dataset."""
        if self.complete:
            return {"build_hash": self.build_hash, "files": [s["file"] for s in self.shards], "summary": self.summary()}
        return self.committed

    def record(self, name: str, file: str, rows: int, sha256: str, size: int | None) -> None:
        for shard in self.shards:
            if shard["name"] == name:
                shard.update(file=file, rows=rows, sha256=sha256, size=size)
                return
        raise KeyError(f"shard {name} is not in the plan")
