"""The bench/ scripts still run (tiny sizes): a renamed module or flag must fail here, not in the next measurement."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def bench(tmp_path, script: str, *args: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1")
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def test_build_bench_times_the_stretch_engine_inside_the_build(tmp_path):
    out = bench(tmp_path, "build.py", "--rows", "3", "--folder", str(tmp_path / "absent"))
    share = float(out.split("stretch engine")[1].split("%")[0])
    assert "synth-small (one process)" in out and 0 < share < 100 and "absent, skipped" in out


def test_engine_bench_compares_process_counts(tmp_path):
    """Each build really ran on the process count its line names (as the build itself reported it), and the
    ratio printed is the ratio of the two rates printed, each rows / seconds."""
    import re

    out = bench(tmp_path, "engine.py", "--rows", "6", "--rows_per_shard", "3", "--skip_ray")
    runs = {m["name"]: m for m in re.finditer(r"^(?P<name>local, num_proc \d)\s+(?P<rate>[\d.]+) rows/s  \((?P<rows>\d+) "
                                              r"rows, (?P<seconds>[\d.]+) s; (?P<ran_on>.*)\)$", out, re.MULTILINE)}
    assert sorted(runs) == ["local, num_proc 1", "local, num_proc 2"], out
    assert runs["local, num_proc 1"]["ran_on"] == "2 shard(s) with 1 process(es)"
    assert runs["local, num_proc 2"]["ran_on"] == "2 shard(s) with 2 process(es)"
    seconds = {name: float(m["seconds"]) for name, m in runs.items()}
    for name, m in runs.items():
        rows, took = int(m["rows"]), seconds[name]  # both printed to 0.1: the rate's rounding plus the seconds'
        assert float(m["rate"]) == pytest.approx(rows / took, abs=0.05 + rows * 0.05 / took**2 + 1e-6)
    ratio = float(re.search(r"num_proc 2 vs 1: ([\d.]+)x", out)[1])  # same rows: the ratio of the times, inverted
    assert ratio == pytest.approx(seconds["local, num_proc 1"] / seconds["local, num_proc 2"], rel=0.05, abs=0.01)


def test_captions_negatives_and_render_benches_run(tmp_path):
    out = bench(tmp_path, "captions.py", "--template_n", "20", "--endpoints", "1", "--latency", "0", "--concurrency", "4",
                "--rows_serial", "3", "--rows_parallel", "6")
    assert "speed-up concurrency 4 vs 1" in out and "% rows LLM" in out
    out = bench(tmp_path, "negatives.py", "--n", "3", "--repeats", "1")
    assert out.count("\n  ") >= 3  # one line per N = 0, 1, 3
    out = bench(tmp_path, "render.py", "--n", "2", "--repeats", "1")
    assert "ratio (ours / baseline)" in out


def test_verify_bench_prints_verify_beside_build(tmp_path):
    out = bench(tmp_path, "verify.py", "--rows", "3")
    assert "rows/s" in out and float(out.split("build time per row:")[1].split()[0]) > 0
