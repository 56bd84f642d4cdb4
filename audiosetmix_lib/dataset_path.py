"""Tell a mistyped local folder from a Hub dataset id before `datasets` reports "couldn't reach the Hub".

`load_dataset("output/typo")` looks like a Hub id to `datasets`, which then blames the
network. A name that is a path (absolute, `./`, `../`, `~`, more than one `/`, or any name
while the Hub is offline) and does not exist is reported as a missing folder instead.
"""

from __future__ import annotations

import os
from pathlib import Path


class DatasetPathError(ValueError):
    """A dataset argument that names neither an existing folder nor a reachable Hub dataset."""


def _offline() -> bool:
    return any(os.environ.get(k, "").strip().lower() in ("1", "true", "yes", "on")
               for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def looks_like_path(name: str) -> bool:
    return (name.startswith(("/", "./", "../", "~", ".\\")) or name.count("/") > 1 or os.sep != "/" and os.sep in name
            or name in (".", ".."))


def check_dataset_arg(name: str, flag: str) -> None:
    """Raise DatasetPathError for a name that cannot be a dataset; return quietly if it may be one."""
    path = Path(os.path.expanduser(name))
    if path.exists():
        if not path.is_dir():
            raise DatasetPathError(f"{flag} {name}: is a file, not a dataset folder (give the folder that holds "
                                   f"README.md and data/)")
        return
    if looks_like_path(name):
        raise DatasetPathError(f"{flag} {name}: no such folder; check the path (a built AudioSetMix dataset is the "
                               f"--output_dir of `audiosetmix.py build`)")
    if _offline():
        raise DatasetPathError(f"{flag} {name}: no such local folder, and the Hub is offline (HF_HUB_OFFLINE=1); "
                               f"check the path, or unset HF_HUB_OFFLINE to load the Hub dataset {name!r}")


def describe_load_failure(name: str, flag: str, error: Exception) -> DatasetPathError:
    """A `datasets` failure for a name that is not a local folder: one sentence with the fix."""
    return DatasetPathError(f"{flag} {name}: not a local folder, and loading it as a Hub dataset failed "
                            f"({type(error).__name__}); check the path, the dataset id, the network and "
                            f"`huggingface-cli login` for private datasets")


def load_dataset_checked(name: str, flag: str, config: str | None = None, split: str | None = None):
    """`datasets.load_dataset` for a folder or Hub id, a mistyped folder reported as one sentence with the fix."""
    import datasets

    check_dataset_arg(name, flag)
    local = Path(os.path.expanduser(name))
    try:
        return datasets.load_dataset(str(local) if local.exists() else name, config, split=split)
    except (OSError, datasets.exceptions.DatasetNotFoundError) as error:
        if local.exists():
            raise DatasetPathError(f"{flag} {name}: not a dataset folder ({type(error).__name__}); give the "
                                   f"--output_dir of an `audiosetmix.py build`") from None
        raise describe_load_failure(name, flag, error) from None
