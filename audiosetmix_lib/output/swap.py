"""Swap two directories in one step, so `data/` is always either the old dataset or the new one.

Linux has `renameat2(..., RENAME_EXCHANGE)` (glibc >= 2.28, local filesystems); elsewhere two
renames leave a window of microseconds without `data/` (documented in README "What you can
rely on"). Object stores have no rename at all: there the Ray engine's contract is new shard
names, the card written last as the commit point, old shards deleted afterwards.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _renameat2_exchange(a: Path, b: Path) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0


def swap_in(new: Path, current: Path) -> Path | None:
    """Make `new` become `current`; return where the previous `current` now is (for the caller to delete), or None."""
    if not current.exists():
        os.replace(new, current)
        return None
    if _renameat2_exchange(new, current):
        return new  # the old contents now live at `new`
    old = new.with_name(new.name + ".old")
    os.replace(current, old)
    os.replace(new, current)
    return old
