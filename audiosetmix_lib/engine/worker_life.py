"""Worker processes end with their parent: SIGKILL on parent death (Linux prctl) and a parent-pid watchdog elsewhere.

A killed driver (SIGKILL included, where no handler runs) must not leave workers rendering
for minutes: on Linux the kernel kills a worker when its parent dies (PR_SET_PDEATHSIG); the
watchdog thread covers other systems and the race where the parent died before the prctl.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1
WATCHDOG_INTERVAL_S = 0.5


def _set_pdeathsig() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _watch(parent_pid: int) -> None:
    while True:
        if os.getppid() != parent_pid:
            os._exit(70)  # orphaned: the build is gone, nothing of ours needs this process
        time.sleep(WATCHDOG_INTERVAL_S)


def bind_to_parent(parent_pid: int) -> None:
    """Call first thing in a worker. Ctrl-C goes to the driver alone (it stops the workers itself)."""
    _set_pdeathsig()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if os.getppid() != parent_pid:
        os._exit(70)
    threading.Thread(target=_watch, args=(parent_pid,), name="audiosetmix-parent-watchdog", daemon=True).start()
