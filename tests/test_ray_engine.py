"""`--engine ray` on a local Ray with 2 CPUs: the same bytes as the local engine, crashes and a killed driver."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import build_dataset
from helpers import alive_pids

from audiosetmix_lib.cli import main
from audiosetmix_lib.output.faults import CRASH_ENV, HANG_ENV
from audiosetmix_lib.testing.mock_server import MockChatServer, Reply

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
BUILD = ["--train", "10", "--validation", "3", "--test", "0", "--rows_per_shard", "4", "--seed", "11",
         "--num_negatives", "1"]
SHARDS = ["train-00000-of-00003.parquet", "train-00001-of-00003.parquet", "train-00002-of-00003.parquet",
          "validation-00000-of-00001.parquet"]


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, bytes]:
    out = build_dataset(tmp_path_factory.mktemp("reference") / "local", *BUILD, "--num_proc", "1")
    return shard_bytes(out)


def shard_bytes(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "data").glob("*.parquet"))}


def row_ids(out: Path) -> list[str]:
    import datasets

    return [i for split in ("train", "validation") for i in datasets.load_dataset(str(out), split=split)["id"]]


def test_ray_writes_the_local_engines_bytes_template_and_openai(tmp_path, local_ray, reference):
    on_ray = build_dataset(tmp_path / "ray", *BUILD, "--engine", "ray")
    assert list(reference) == SHARDS and shard_bytes(on_ray) == reference

    with MockChatServer() as server:
        llm = ["--captioner", "openai", "--llm_model", "mock", "--llm_base_url", server.url, "--llm_concurrency", "8"]
        local_llm = build_dataset(tmp_path / "local-llm", *BUILD, *llm)
        asked = len(server.log)
        ray_llm = build_dataset(tmp_path / "ray-llm", *BUILD, *llm, "--engine", "ray")
        assert asked > 0 and len(server.log) == 2 * asked  # its own answers: the same prompts asked once each
        # a build into a new folder naming the earlier answers sends zero requests, on Ray too
        again = build_dataset(tmp_path / "ray-llm-again", *BUILD, *llm, "--engine", "ray",
                              "--llm_cache", (tmp_path / "local-llm").as_uri())
        assert len(server.log) == 2 * asked
    assert shard_bytes(ray_llm) == shard_bytes(local_llm) == shard_bytes(again)
    assert shard_bytes(ray_llm) != reference  # the LLM texts really are in the shards
    report = json.loads((ray_llm / "caption_report.json").read_text())
    assert report["rows"] == 13 and report["llm_rate"] == 1.0 and report["requests_sent"] == asked
    report = json.loads((again / "caption_report.json").read_text())
    assert report["requests_sent"] == 0 and report["cache_hits"] == asked


def test_a_server_refusing_the_key_stops_a_ray_build_with_one_error_line(tmp_path, local_ray, capsys):
    with MockChatServer(lambda body, data: Reply(status=401, tag="http_401")) as server:
        code = main(["build", "--output_dir", str(tmp_path / "refused"), *BUILD, "--engine", "ray", "--captioner", "openai",
                     "--llm_model", "mock", "--llm_base_url", server.url])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("error: ") and "HTTP 401" in err[-1], err[-3:]
    assert "Traceback" not in "\n".join(err)


def test_ray_worker_killed_half_way_every_row_once(tmp_path, local_ray, reference, monkeypatch, capfd):
    monkeypatch.setenv(CRASH_ENV, "1")  # the first attempt at shard 1 SIGKILLs its worker after 2 of 4 rows
    capfd.readouterr()
    out = build_dataset(tmp_path / "crash", *BUILD, "--engine", "ray")
    printed = "".join(capfd.readouterr())
    assert "render_shard failed" in printed and "retried" in printed  # Ray saw the worker die and retried it
    assert row_ids(out) == [f"train-{i}" for i in range(10)] + [f"validation-{i}" for i in range(3)]
    assert shard_bytes(out) == reference
    assert not list((out / ".audiosetmix").rglob("*.partial-*"))


def test_killed_ray_driver_leaves_no_worker_and_rerun_resumes_byte_identical(tmp_path, local_ray, reference, capsys):
    out = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1")
    env.pop(CRASH_ENV, None)
    env[HANG_ENV] = "2"  # shard 2 stops half-way and waits: the driver is killed while it hangs
    env["RAY_ADDRESS"] = ray.get_runtime_context().gcs_address  # joins the running cluster (the RAY_ADDRESS path)
    cmd = [sys.executable, str(ROOT / "audiosetmix.py"), "build", "--output_dir", str(out), *BUILD, "--engine", "ray"]
    driver = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    marker = out / ".audiosetmix" / "test-fault-2"
    deadline = time.monotonic() + 300
    while not marker.exists() or not marker.read_text().strip():
        assert driver.poll() is None, "the driver ended before the injected hang"
        assert time.monotonic() < deadline, "no hang within 300 s"
        time.sleep(0.2)
    ours = [driver.pid, int(marker.read_text())]  # the driver and the Ray worker hanging in shard 2
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait(timeout=30)
    deadline = time.monotonic() + 120
    while alive_pids(ours) and time.monotonic() < deadline:
        time.sleep(1)
    assert not alive_pids(ours), f"processes of the killed build still alive after 120 s: {alive_pids(ours)}"

    capsys.readouterr()
    build_dataset(out, *BUILD, "--engine", "ray")  # the same command again
    printed = capsys.readouterr().out
    assert "resuming" in printed
    assert shard_bytes(out) == reference
    assert row_ids(out) == [f"train-{i}" for i in range(10)] + [f"validation-{i}" for i in range(3)]


def test_a_ray_worker_deserialises_the_row_maker_once_per_build(local_ray):
    """Shards on one worker share its RowMaker (and so its warm event cache); a new build's maker replaces it."""
    from audiosetmix_lib.engine.ray_engine import worker_row_maker

    @ray.remote
    def probe(box_a, box_b):
        first, again, other = worker_row_maker(box_a), worker_row_maker(box_a), worker_row_maker(box_b)
        return first is again, first is other, first, other

    same, shared, first, other = ray.get(probe.remote([ray.put({"build": 1})], [ray.put({"build": 2})]))
    assert same and not shared and first == {"build": 1} and other == {"build": 2}
