"""A build's own local Ray is cleaned up after it, even after a SIGKILL (issue 25 item 7).

Real processes: a stand-in for Ray's head process (its command line names the folder, as
raylet's does) with a child (as Ray's workers are the raylet's), and a real Ray build killed
with SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest
from helpers import alive_pids

from audiosetmix_lib.engine import local_ray
from audiosetmix_lib.output.faults import HANG_ENV

ROOT = Path(__file__).resolve().parents[1]
SLEEPER = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']); time.sleep(300)"


def fake_ray(folder: Path) -> list[int]:
    """A process naming `folder` in its command line, and its child; their pids."""
    head = subprocess.Popen([sys.executable, "-c", SLEEPER, f"--session_dir={folder}/session_x"])
    deadline = time.monotonic() + 30
    while not psutil.Process(head.pid).children() and time.monotonic() < deadline:
        time.sleep(0.05)
    return [head.pid, *(c.pid for c in psutil.Process(head.pid).children())]


def test_the_next_build_sweeps_a_killed_builds_ray_and_leaves_a_running_one(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    started = psutil.Process(gone.pid).create_time()
    gone.wait()
    stale = Path(tempfile.gettempdir()) / f"{local_ray.PREFIX}test-stale-{os.getpid()}"
    running = Path(tempfile.gettempdir()) / f"{local_ray.PREFIX}test-running-{os.getpid()}"
    stale_pids, running_pids = [], []
    try:
        for folder, pid, when in ((stale, gone.pid, started), (running, os.getpid(), psutil.Process().create_time())):
            folder.mkdir()
            (folder / local_ray.DRIVER_FILE).write_text(json.dumps({"pid": pid, "started": when}))
        stale_pids, running_pids = fake_ray(stale), fake_ray(running)
        assert len(stale_pids) == 2 and alive_pids(stale_pids) == stale_pids
        swept = local_ray.sweep_stale()
        assert stale in swept and running not in swept
        deadline = time.monotonic() + 30
        while alive_pids(stale_pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive_pids(stale_pids) and not stale.exists()  # the dead build's processes and folder are gone
        assert alive_pids(running_pids) == running_pids and running.exists()  # a running build's are not touched
    finally:
        for pid in alive_pids(stale_pids + running_pids):
            os.kill(pid, signal.SIGKILL)
        for folder in (stale, running):
            subprocess.run(["rm", "-rf", str(folder)], check=False)


@pytest.mark.slow
def test_a_killed_ray_build_leaves_no_ray_process_and_no_ray_folder(tmp_path):
    pytest.importorskip("ray")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", HANG_ENV: "0"}
    env.pop("RAY_ADDRESS", None)  # the build starts its own local Ray
    cmd = [sys.executable, str(ROOT / "audiosetmix.py"), "build", "--output_dir", str(out), "--train", "4",
           "--validation", "0", "--test", "0", "--rows_per_shard", "4", "--engine", "ray", "--num_proc", "1"]
    driver = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    folder = local_ray.temp_dir_for(driver.pid)
    marker = out / ".audiosetmix" / "test-fault-0"
    deadline = time.monotonic() + 300
    while not marker.exists() or not marker.read_text().strip():  # a Ray worker hangs in shard 0
        assert driver.poll() is None, "the driver ended before the injected hang"
        assert time.monotonic() < deadline, "no hang within 300 s"
        time.sleep(0.2)
    ray_pids = [p.pid for p in local_ray.session_processes(folder)]
    worker = int(marker.read_text())
    assert worker in ray_pids and len(ray_pids) >= 3  # head processes and the hanging worker, found by the folder
    os.killpg(driver.pid, signal.SIGKILL)  # the driver's whole group; the reaper lives in its own session
    driver.wait(timeout=30)
    deadline = time.monotonic() + 60
    while (alive_pids(ray_pids) or folder.exists()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive_pids(ray_pids), f"Ray processes of the killed build still alive: {alive_pids(ray_pids)}"
    assert not folder.exists()
