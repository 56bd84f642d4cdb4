"""The local Ray a build starts for itself, and the cleaning up after it, even after a SIGKILL.

Ray's head processes (gcs_server, raylet, monitors) and its workers outlive a driver killed
with SIGKILL for about a minute, and every session leaves a folder in Ray's temporary folder
for good. So a build that starts its own Ray gives it a temporary folder of its own,
`<tmp>/asmray-<driver pid>/` (short: Ray's socket paths must stay under 108 bytes), records
there which process it is (`driver.json`: pid and start time), and starts a *reaper*: a
small process in its own session that waits for the driver to end, however it ends, then
stops the processes of that Ray (those whose command line names the folder, and their
children: the workers) and removes the folder. A build that ends normally cleans up at once
after `ray.shutdown()`; the next build sweeps what a reaper killed with it left. Nothing
else is touched: a Ray that a build joins (`--ray_address`, RAY_ADDRESS) is not its own.

    python -m audiosetmix_lib.engine.local_ray PID START_TIME FOLDER   # the reaper (started by the build)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PREFIX = "asmray-"
DRIVER_FILE = "driver.json"
POLL_S = 0.5
TERM_GRACE_S = 3.0


def temp_dir_for(pid: int) -> Path:
    return Path(tempfile.gettempdir()) / f"{PREFIX}{pid}"


def _create_time(pid: int) -> float | None:
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def driver_alive(pid: int, started: float) -> bool:
    """The driver still runs: its pid exists with the start time recorded (a reused pid is another process)."""
    found = _create_time(pid)
    return found is not None and abs(found - started) < 1.0


def session_processes(folder: Path) -> list:
    """The processes whose command line names `folder` (Ray's head processes), and all their descendants."""
    import psutil

    exact, inside, found = str(folder), str(folder) + os.sep, {}
    for proc in psutil.process_iter(["cmdline"]):
        try:
            parts = proc.info["cmdline"] or ()
            if proc.pid != os.getpid() and any(part == exact or inside in part for part in parts):
                found[proc.pid] = proc
                found.update((child.pid, child) for child in proc.children(recursive=True))
        except psutil.Error:
            continue
    return list(found.values())


def clean_up(folder: Path) -> None:
    """Stop what still runs of the Ray in `folder` (SIGTERM, then SIGKILL) and remove the folder."""
    import psutil

    processes = session_processes(folder)
    for proc in processes:
        try:
            proc.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(processes, timeout=TERM_GRACE_S)
    for proc in alive:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=TERM_GRACE_S)
    shutil.rmtree(folder, ignore_errors=True)


def sweep_stale() -> list[Path]:
    """Clean the folders of local Rays whose build is gone (its reaper was killed too); return them."""
    swept = []
    for folder in sorted(Path(tempfile.gettempdir()).glob(PREFIX + "*")):
        try:
            driver = json.loads((folder / DRIVER_FILE).read_text())
            gone = not driver_alive(int(driver["pid"]), float(driver["started"]))
        except (OSError, ValueError, KeyError, TypeError):
            gone = False  # not ours, or being written right now: left alone
        if gone:
            clean_up(folder)
            swept.append(folder)
    return swept


def prepare() -> Path:
    """This build's Ray folder, with its driver record and a reaper watching the driver; earlier leftovers swept."""
    sweep_stale()
    folder = temp_dir_for(os.getpid())
    shutil.rmtree(folder, ignore_errors=True)  # a folder of an earlier process with this pid: its driver is gone
    folder.mkdir(parents=True)
    started = _create_time(os.getpid())
    (folder / DRIVER_FILE).write_text(json.dumps({"pid": os.getpid(), "started": started}))
    subprocess.Popen([sys.executable, "-m", __name__, str(os.getpid()), repr(started), str(folder)],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True, close_fds=True)  # its own session: a signal to the build's group misses it
    return folder


def reap(pid: int, started: float, folder: Path) -> None:
    while driver_alive(pid, started):
        time.sleep(POLL_S)
    clean_up(folder)


def main(argv: list[str] | None = None) -> None:
    pid, started, folder = (sys.argv[1:] if argv is None else argv)
    reap(int(pid), float(started), Path(folder))


if __name__ == "__main__":
    main()
