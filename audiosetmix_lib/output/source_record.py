"""Where a build's source lay on the machine that built it: a local record for `render`, never published.

Rows and the card name local files relative to `<source_root>` (no build-machine path leaves the
machine); `.audiosetmix/` is never pushed, so the folder can be remembered there and `render` on
the same machine needs no `--source_root`.
"""

from __future__ import annotations

import json
from pathlib import Path

from .manifest import META_DIR

RECORD = "source_root.json"


def record_source_root(output_dir: Path, source) -> None:
    """Remember `source.source_root()` (a local folder or URL) in the output's local metadata."""
    root = source.source_root()
    if root is None:
        return
    meta = Path(output_dir) / META_DIR
    meta.mkdir(parents=True, exist_ok=True)
    (meta / RECORD).write_text(json.dumps({"source_root": str(root)}) + "\n", encoding="utf-8")


def recorded_source_root(dataset_dir) -> str | None:
    """The recorded source folder when it still exists on this machine (None: no record, a URL, or gone)."""
    record = Path(dataset_dir) / META_DIR / RECORD
    try:
        root = json.loads(record.read_text(encoding="utf-8")).get("source_root")
    except (OSError, ValueError, AttributeError):
        return None
    return root if isinstance(root, str) and "://" not in root and Path(root).is_dir() else None
