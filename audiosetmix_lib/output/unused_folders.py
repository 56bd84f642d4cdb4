"""Folders a build command creates before its output opens go again when it stops first.

The source scan and the `datasets` builder (its lock file in `.audiosetmix/builder-cache`) run
before the output's manifest is written; a build that stops there (bad metadata, a wrong flag,
Ctrl-C during the scan) did no work, so it leaves the folder as it found it: what it created is
removed, nothing that was there before is touched.
"""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path


class OpenedMark:
    """Set by the build once its output is opened (manifest written): from then on its files are kept."""

    opened = False

    def __call__(self, *_: object) -> None:
        self.opened = True


def _missing_chain(folder: Path) -> list[Path]:
    """`folder` and each missing parent above it, innermost first ([] when `folder` exists)."""
    chain = []
    while not folder.exists() and folder != folder.parent:
        chain.append(folder)
        folder = folder.parent
    return chain


@contextmanager
def removed_unless_opened(output_dir: Path | str, meta: Path):
    """Yield an `OpenedMark`; on an exception before it is set, remove what this block created: `meta`
    (the build's own `.audiosetmix/` or local state folder) whole, then the output folder and the parents
    made for it, each only if it is empty."""
    meta_created = not meta.exists()
    made = _missing_chain(output_dir) if isinstance(output_dir, Path) else []
    mark = OpenedMark()
    try:
        yield mark
    except BaseException:
        if not mark.opened:
            if meta_created:
                shutil.rmtree(meta, ignore_errors=True)
            for folder in made:  # innermost first: a parent goes only once its child went
                if folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()
        raise
