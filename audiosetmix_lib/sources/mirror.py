"""A local copy of a source folder that lives on an object store (`--source_path s3://bucket/my_audio`).

Decoding needs files (libsndfile, FFmpeg, truncation checks read headers), so a remote folder
is copied file by file into a per-machine cache, `$XDG_CACHE_HOME/audiosetmix/sources/<hash>/`:
the driver copies what is missing when it scans the source (every file is decoded once then),
and a worker on another machine fetches each file the first time it loads it. A file is
downloaded beside its place and renamed, so a killed copy never leaves half a file; a file
already there with the remote size is not fetched again. Nothing of the cache path reaches a
dataset (events name files relative to the folder).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import fsspec


def mirror_dir(url: str) -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "audiosetmix" / "sources" / hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def _fetch(fs, remote: str, local: Path, size: int | None) -> bool:
    """Copy one file unless the local one already has the remote size; True when it was downloaded."""
    if local.is_file() and (size is None or local.stat().st_size == size):
        return False
    local.parent.mkdir(parents=True, exist_ok=True)
    partial = local.with_name(f".{local.name}.partial-{os.getpid()}")
    try:
        fs.get_file(remote, str(partial))
        os.replace(partial, local)
    finally:
        partial.unlink(missing_ok=True)
    return True


def mirror_all(url: str, root: Path) -> int:
    """Copy every file of the remote folder that `root` lacks (or holds at another size); return how many."""
    fs, base = fsspec.core.url_to_fs(url)
    base = base.rstrip("/")
    fetched = 0
    for remote, info in sorted(fs.find(base, detail=True).items()):
        relative = remote[len(base) + 1:]
        if not relative or any(part in ("", ".", "..") for part in relative.split("/")):
            continue
        fetched += _fetch(fs, remote, root / relative, info.get("size"))
    return fetched


def fetch_one(url: str, root: Path, relative: str) -> None:
    """Make sure one file of the remote folder is in `root` (a worker's first load of it)."""
    if (root / relative).is_file():
        return
    fs, base = fsspec.core.url_to_fs(url)
    _fetch(fs, f"{base.rstrip('/')}/{relative}", root / relative, None)


def remote_is_folder(url: str) -> bool:
    fs, base = fsspec.core.url_to_fs(url)
    return fs.isdir(base)
