"""Where a build reads and writes: plain paths and fsspec URLs, checked before any work.

Workers on other machines must reach the sources and the output, so `--output_dir` and the
source paths accept `file://` URLs (a filesystem every node mounts, e.g. NFS, has the same
path everywhere). `hf://` is refused as a build destination: every write to the Hub is a
commit and parallel writers conflict; build to a folder, then `push`. Other protocols (s3://,
gs://) are named in the error with the way round them, since the output contract renames
staged shards, which object stores cannot do atomically.
"""

from __future__ import annotations

from pathlib import Path


class LocationError(ValueError):
    """A path or URL a build cannot use; the message says what to do instead."""


def local_path(value: str, flag: str) -> Path:
    """`value` as an absolute local path; `file://` URLs are local paths."""
    if value.startswith("hf://"):
        raise LocationError(f"{flag} {value}: hf:// is not a build destination (every write is a commit and parallel "
                            f"writers conflict); build into a local or shared folder, then `python audiosetmix.py push "
                            f"--dataset_dir DIR --repo_id ...`")
    if value.startswith("file://"):
        value = value[len("file://"):]
    elif "://" in value:
        protocol = value.split("://", 1)[0]
        raise LocationError(f"{flag} {value}: {protocol}:// is not supported for builds yet (the output contract renames "
                            f"staged shards); use a folder every worker mounts (e.g. NFS, same path on each node) or "
                            f"build locally and copy the finished folder (e.g. `fsspec`/`aws s3 sync`)")
    return Path(value).expanduser().resolve()
