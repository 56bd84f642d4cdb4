"""Local OpenAI-compatible test servers in their own processes (as several real endpoints would be)."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

SERVER_MODULE = "audiosetmix_lib.testing.server_cli"


@contextmanager
def server_processes(n: int, log_dir: Path, latency: float | list[float] = 0.0, stop_after: dict[int, int] | None = None):
    """Yield [(url, log_path)] for n server processes (`latency` one for all, or one each); all killed on exit."""
    procs, servers = [], []
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    try:
        for i in range(n):
            log = Path(log_dir) / f"server-{i}.jsonl"
            delay = latency[i] if isinstance(latency, list) else latency
            cmd = [sys.executable, "-m", SERVER_MODULE, "--latency", str(delay), "--log", str(log)]
            if stop_after and i in stop_after:
                cmd += ["--stop_after", str(stop_after[i])]
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
            procs.append(proc)
            servers.append((proc.stdout.readline().strip(), log))
        assert all(url.startswith("http://127.0.0.1:") for url, _ in servers), servers
        yield servers
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(timeout=30)
            proc.stdout.close()


def requests_logged(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0
