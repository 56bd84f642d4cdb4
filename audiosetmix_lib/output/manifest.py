"""`<out>/.audiosetmix/manifest.json`: what this folder's build is, and which of its shards are finished.

Written before any shard, rewritten (atomically: temp file + rename) each time a shard is
recorded. `build_hash` covers everything that determines the row bytes and nothing else (not
the process count, engine, concurrency or LLM endpoints), so the same command resumes and a
changed configuration is a new build.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

META_DIR = ".audiosetmix"
MANIFEST_NAME = "manifest.json"
FORMAT = 1


def build_hash(determinants: dict) -> str:
    payload = json.dumps(determinants, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def write_json_atomic(path: Path, data) -> None:
    """Write to a temp file in the same folder, fsync, then rename over `path` (a reader sees old or new, never half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@dataclass
class Manifest:
    build_hash: str
    determinants: dict
    target: str  # "data": shards go straight into data/; "staging": they wait in staging until the build is complete
    shards: list[dict]  # ShardSpec fields + "file" (relative to the output folder), "rows", "sha256" (None until recorded)
    complete: bool = False
    committed: dict | None = None  # what data/ holds now: {"build_hash", "files"}, or None
    format: int = FORMAT
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Manifest":
        known = {k: data[k] for k in ("build_hash", "determinants", "target", "shards", "complete", "committed", "format", "notes")
                 if k in data}
        return cls(**known)

    def save(self, root: Path) -> None:
        write_json_atomic(manifest_path(root), self.to_dict())

    def loadable(self) -> dict | None:
        """What `data/` holds of this build or an earlier one ({"build_hash", "files"}), that a different build must
        leave loadable until it replaces it; None when nothing there is a finished dataset."""
        if self.complete:
            return {"build_hash": self.build_hash, "files": [s["file"] for s in self.shards]}
        return self.committed

    def record(self, name: str, file: str, rows: int, sha256: str) -> None:
        for shard in self.shards:
            if shard["name"] == name:
                shard.update(file=file, rows=rows, sha256=sha256)
                return
        raise KeyError(f"shard {name} is not in the plan")


def manifest_path(root: Path) -> Path:
    return Path(root) / META_DIR / MANIFEST_NAME


def load_manifest(root: Path) -> Manifest | None:
    path = manifest_path(root)
    if not path.exists():
        return None
    return Manifest.from_dict(json.loads(path.read_text(encoding="utf-8")))
