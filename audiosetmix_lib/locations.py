"""Where a build reads and writes: plain paths and fsspec URLs, checked before any work.

Workers on other machines must reach the sources and the output, so `--output_dir` and the
source paths accept `file://` URLs (a filesystem every node mounts, e.g. NFS, has the same
path everywhere). `--output_dir` also takes object-store URLs (`s3://`, `gs://`, any fsspec
protocol whose backend is installed: `pip install s3fs` / `gcsfs`), built on the object-store
form of the output contract (`output.object_store`). `hf://` is refused as a build
destination: every write to the Hub is a commit and parallel writers conflict; build to a
folder or a bucket, then `push`.
"""

from __future__ import annotations

from pathlib import Path

import fsspec


class LocationError(ValueError):
    """A path or URL a build cannot use; the message says what to do instead."""


def _refuse_hf(value: str, flag: str) -> None:
    if value.startswith("hf://"):
        raise LocationError(f"{flag} {value}: hf:// is not a build destination (every write is a commit and parallel "
                            f"writers conflict); build into a local or shared folder, then `python audiosetmix.py push "
                            f"--dataset_dir DIR --repo_id ...`")


def is_remote(location) -> bool:
    """An fsspec URL other than file:// (object stores, memory://): no rename, no flock, one PUT per file."""
    text = str(location)
    return "://" in text and not text.startswith("file://")


def location(value: str, flag: str) -> Path | str:
    """A local folder (Path; `file://` included) or a URL (str) of an fsspec protocol whose backend is installed."""
    if not is_remote(value):
        return local_path(value, flag)
    protocol = value.split("://", 1)[0]
    try:
        fsspec.get_filesystem_class(protocol)
    except ValueError:
        raise LocationError(f"{flag} {value}: {protocol}:// is not a protocol fsspec knows; use a folder, file://, "
                            f"s3://, gs:// or another fsspec protocol") from None
    except ImportError as error:
        raise LocationError(f"{flag} {value}: {protocol}:// needs its fsspec backend ({error}); install it, e.g. "
                            f"`pip install s3fs` for s3://, `pip install gcsfs` for gs://") from None
    return value.rstrip("/")


def output_location(value: str, flag: str = "--output_dir") -> Path | str:
    """Where a build writes: a local folder or an object-store URL, never hf:// (see the module docstring)."""
    if not value.strip():
        raise LocationError(f"{flag} is empty: give the folder (or object-store URL) to build into")
    _refuse_hf(value, flag)
    return location(value, flag)


PROCESS_LOCAL = ("memory",)  # fsspec stores that live in one process's memory: other processes see none of it


def is_process_local(value) -> bool:
    """An fsspec store that lives in this process's memory (memory://)."""
    return "://" in str(value) and str(value).split("://", 1)[0] in PROCESS_LOCAL


def check_workers_reach(value, flag: str, engine: str, num_proc: int) -> None:
    """Refuse a process-local store (memory://) when other processes would write the shards: a worker's
    writes would stay in its own memory, and the build would fail only after all its work."""
    if is_process_local(value) and (engine == "ray" or num_proc > 1):
        raise LocationError(f"{flag} {value}: {str(value).split('://', 1)[0]}:// lives in this process's memory, where the workers of "
                            f"{'--engine ray' if engine == 'ray' else f'--num_proc {num_proc}'} cannot write; use "
                            f"--engine local --num_proc 1, or a folder or an object store (s3://, gs://)")


def local_path(value: str, flag: str) -> Path:
    """`value` as an absolute local path; `file://` URLs are local paths."""
    _refuse_hf(value, flag)
    if value.startswith("file://"):
        value = value[len("file://"):]
    elif "://" in value:
        protocol = value.split("://", 1)[0]
        raise LocationError(f"{flag} {value}: {protocol}:// is not supported here (sources are read from a path); use a "
                            f"folder every worker mounts (e.g. NFS, same path on each node), or copy the files there")
    return Path(value).expanduser().resolve()

