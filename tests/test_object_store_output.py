"""`--output_dir` on an object store: the local engine's bytes, resume, replace, refusals (docs/scale.md).

memory:// is fsspec's in-process object store (no rename, one PUT per file), for single-process
builds; builds over several processes and Ray write to a real S3 API: moto's server on 127.0.0.1
in its own process, reached by s3fs over HTTP.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import fsspec
import pytest
from conftest import build_dataset
from s3_server import restore_environment, s3_endpoint, set_environment

from audiosetmix_lib.cli import main
from audiosetmix_lib.output.faults import CRASH_ENV

ROOT = Path(__file__).resolve().parents[1]
BUILD = ["--train", "10", "--validation", "3", "--test", "0", "--rows_per_shard", "4", "--seed", "5",
         "--num_negatives", "1"]
SHARDS = ["train-00000-of-00003.parquet", "train-00001-of-00003.parquet", "train-00002-of-00003.parquet",
          "validation-00000-of-00001.parquet"]


@pytest.fixture(autouse=True)
def driver_files_in_tmp(tmp_path, monkeypatch):
    """A build into an object store keeps its driver-side files under $XDG_CACHE_HOME: not the user's home here."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, str]:
    """sha256 of each shard of the same build into a local folder (the local engine, one process)."""
    out = build_dataset(tmp_path_factory.mktemp("reference") / "local", *BUILD)
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((out / "data").glob("*.parquet"))}


def remote_shards(url: str) -> dict[str, str]:
    fs, path = fsspec.core.url_to_fs(url)
    fs.invalidate_cache()
    return {p.rsplit("/", 1)[-1]: hashlib.sha256(fs.cat_file(p)).hexdigest()
            for p in sorted(fs.glob(f"{path}/data/*.parquet"))}


def remote_files(url: str) -> list[str]:
    fs, path = fsspec.core.url_to_fs(url)
    fs.invalidate_cache()
    return sorted(p[len(path.rstrip("/")) + 1:] for p in fs.find(path))


def memory_url() -> str:
    return f"memory://bucket-{uuid.uuid4().hex[:8]}/asm"


def test_a_build_into_an_object_store_has_the_local_bytes_and_resumes_only_what_is_missing(reference, capsys):
    url = memory_url()
    capsys.readouterr()
    assert main(["build", "--output_dir", url, *BUILD]) == 0
    assert f"warning: --output_dir {url} lives in this process's memory" in capsys.readouterr().err  # gone at exit
    assert list(reference) == SHARDS and remote_shards(url) == reference
    files = remote_files(url)
    assert files == [".audiosetmix/manifest.json", "README.md", *[f"data/{name}" for name in SHARDS]]  # nothing staged left
    fs = fsspec.filesystem("memory")
    card = fs.cat_file(url[len("memory://"):] + "/README.md").decode()
    assert "pretty_name: AudioSetMix" in card and "/tmp" not in card and str(ROOT) not in card
    manifest = json.loads(fs.cat_file(url[len("memory://"):] + "/.audiosetmix/manifest.json"))
    assert manifest["complete"] and [s["size"] for s in manifest["shards"]] == [
        fs.size(url[len("memory://"):] + f"/data/{name}") for name in SHARDS]

    created = {p: fs.info(p)["created"] for p in fs.find(url[len("memory://"):] + "/data")}
    capsys.readouterr()
    assert main(["build", "--output_dir", url, *BUILD]) == 0  # finished: nothing rewritten
    assert "already complete" in capsys.readouterr().out
    assert {p: fs.info(p)["created"] for p in created} == created

    # a shard lost (as if the upload never happened): the same command rebuilds that one shard only
    fs.rm_file(url[len("memory://"):] + "/data/train-00001-of-00003.parquet")
    assert main(["build", "--output_dir", url, *BUILD]) == 0
    printed = capsys.readouterr().out
    assert "resuming" in printed and "3 of 4 shards already finished" in printed and printed.count("  shard ") == 1
    assert remote_shards(url) == reference


def test_a_different_build_is_refused_then_replaces_the_old_one_with_overwrite_and_leaves_only_its_shards(tmp_path, capsys):
    url = memory_url()
    assert main(["build", "--output_dir", url, *BUILD]) == 0
    before = remote_shards(url)
    other = [*BUILD[:6], "--rows_per_shard", "10", *BUILD[8:]]  # the same rows, other shards: 1 train + 1 validation
    local = build_dataset(tmp_path / "other", *other)
    capsys.readouterr()
    assert main(["build", "--output_dir", url, *other]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds a finished, different AudioSetMix build: 13 rows (train 10, validation 3)" in err[0]
    assert "captions by template" in err[0] and "another --output_dir" in err[0] and "--overwrite" in err[0]
    assert remote_shards(url) == before
    assert main(["build", "--output_dir", url, *other, "--overwrite"]) == 0
    assert "earlier, different build" in capsys.readouterr().out
    assert remote_shards(url) == {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                                  for p in sorted((local / "data").glob("*.parquet"))}
    assert [f for f in remote_files(url) if f.startswith(("data/", ".audiosetmix/staging"))] == [
        "data/train-00000-of-00001.parquet", "data/validation-00000-of-00001.parquet"]


def test_a_damaged_manifest_on_an_object_store_is_written_again_or_refused_in_one_line(capsys):
    url = memory_url()
    fs = fsspec.filesystem("memory")
    root = url[len("memory://"):]
    assert main(["build", "--output_dir", url, *BUILD]) == 0
    before = remote_shards(url)
    fs.pipe_file(f"{root}/.audiosetmix/manifest.json", b'{"build_hash": "ab')  # truncated
    capsys.readouterr()
    assert main(["build", "--output_dir", url, *BUILD]) == 0  # the same command: shards match the card's sizes
    assert "written again" in capsys.readouterr().out and remote_shards(url) == before
    assert json.loads(fs.cat_file(f"{root}/.audiosetmix/manifest.json"))["complete"]

    fs.pipe_file(f"{root}/.audiosetmix/manifest.json", b"")
    fs.rm_file(f"{root}/data/{SHARDS[0]}")
    assert main(["build", "--output_dir", url, *BUILD]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "manifest.json is damaged (empty)" in err[0] and "--overwrite" in err[0]
    assert main(["build", "--output_dir", url, *BUILD, "--overwrite"]) == 0
    assert remote_shards(url) == before


def test_a_foreign_prefix_is_refused_and_overwrite_deletes_nothing(capsys):
    url = memory_url()
    fs = fsspec.filesystem("memory")
    root = url[len("memory://"):]
    fs.pipe_file(f"{root}/README.md", b"my notes")
    fs.pipe_file(f"{root}/data/mine.csv", b"a,b\n")
    assert main(["build", "--output_dir", url, *BUILD]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: --output_dir {url} is not empty") and "--overwrite" in err[0]
    assert remote_files(url) == ["README.md", "data/mine.csv"]

    assert main(["build", "--output_dir", url, *BUILD, "--overwrite"]) == 0
    displaced = [f for f in remote_files(url) if f.startswith(".audiosetmix/displaced/")]
    assert sorted(f.split("/", 3)[3] for f in displaced) == ["README.md", "data/mine.csv"]
    assert fs.cat_file(f"{root}/" + next(f for f in displaced if f.endswith("README.md"))) == b"my notes"


def test_an_object_store_without_its_backend_stops_with_one_error_line(capsys):
    assert main(["build", "--output_dir", "nosuchprotocol://bucket/asm", *BUILD]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nosuchprotocol:// is not a protocol fsspec knows" in err[0]


# ---- a real S3 API (moto's server) across processes -------------------------------------------------------------
@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    with s3_endpoint() as env:
        saved = set_environment(env)
        try:
            fsspec.filesystem("s3", skip_instance_cache=True).mkdir("builds")
            yield env
        finally:
            restore_environment(saved)


@pytest.mark.slow
def test_s3_build_on_two_processes_resumes_after_a_killed_worker_byte_identical(s3, reference, tmp_path):
    url = "s3://builds/two-processes"
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", XDG_CACHE_HOME=str(tmp_path / "cache"))
    env[CRASH_ENV] = "1"  # the first attempt at shard 1 SIGKILLs its worker after writing half its rows
    cmd = [sys.executable, str(ROOT / "audiosetmix.py"), "build", "--output_dir", url, *BUILD, "--num_proc", "2"]
    first = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode != 0 and first.stderr.strip().splitlines()[-1].startswith("error: "), first.stderr[-2000:]
    assert "README.md" not in remote_files(url)  # not finished: no card
    assert not any("partial" in f for f in remote_files(url))  # half a shard never reached the store

    again = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "resuming" in again.stdout
    assert remote_shards(url) == reference
    assert str(tmp_path) not in fsspec.filesystem("s3").cat_file("builds/two-processes/README.md").decode()


@pytest.mark.slow
def test_s3_build_on_ray_has_the_local_bytes_after_a_killed_worker(s3, reference, capfd):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": s3})
    try:
        os.environ[CRASH_ENV] = "2"  # the first attempt at shard 2 kills its Ray worker half-way; Ray retries it
        url = "s3://builds/ray"
        assert main(["build", "--output_dir", url, *BUILD, "--engine", "ray"]) == 0
    finally:
        os.environ.pop(CRASH_ENV, None)
        ray.shutdown()
    assert "render_shard failed" in "".join(capfd.readouterr())
    assert remote_shards(url) == reference
    assert ".audiosetmix/test-fault-2" not in remote_files(url)


def _audio_folder_files() -> dict[str, bytes]:
    """A small audiofolder (metadata.csv + wav files): 3 labels x 4 clips of distinct tones."""
    import io

    import numpy as np
    import soundfile as sf

    files, lines = {}, ["file_name,label"]
    for k, label in enumerate(("dog", "bell", "siren")):
        for j in range(4):
            t = np.arange(int(16000 * 2.5)) / 16000
            buffer = io.BytesIO()
            sf.write(buffer, (0.3 * np.sin(2 * np.pi * (300 + 200 * k + 37 * j) * t)).astype(np.float32), 16000,
                     format="WAV")
            files[f"audio/{label}-{j}.wav"] = buffer.getvalue()
            lines.append(f"audio/{label}-{j}.wav,{label}")
    files["metadata.csv"] = ("\n".join(lines) + "\n").encode()
    return files


def test_a_folder_source_on_an_object_store_builds_the_bytes_of_the_same_folder_on_disk(tmp_path, capsys):
    """`--source_path memory://...`: scanned through a local mirror; each worker fetches a file it lacks."""
    from audiosetmix_lib.sources.folder import FolderSource

    fs = fsspec.filesystem("memory")
    remote = f"memory://source-{uuid.uuid4().hex[:8]}/my_audio"
    local = tmp_path / "my_audio"
    for name, data in _audio_folder_files().items():
        fs.pipe_file(remote[len("memory://"):] + "/" + name, data)
        (local / name).parent.mkdir(parents=True, exist_ok=True)
        (local / name).write_bytes(data)
    rows = ["--config", "folder", "--train", "6", "--validation", "0", "--test", "0", "--num_negatives", "1"]
    on_disk = build_dataset(tmp_path / "from-disk", *rows, "--source_path", str(local))
    from_store = build_dataset(tmp_path / "from-store", *rows, "--source_path", remote)
    digest = lambda out: {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (out / "data").glob("*.parquet")}  # noqa: E731
    assert digest(from_store) == digest(on_disk) and len(digest(on_disk)) == 1
    card = (from_store / "README.md").read_text()
    assert str(tmp_path) not in card  # neither the mirror's path nor the folder's

    source = FolderSource(remote)  # a worker elsewhere: its mirror lacks a file until it loads it
    event = source.events()[0]
    (source.root / event.audio).unlink()
    assert source.load(event, 16000).size > 0 and (source.root / event.audio).is_file()
    assert not list(source.root.rglob(".*.partial-*"))


def test_a_missing_remote_source_folder_stops_with_one_error_line(capsys):
    assert main(["build", "--output_dir", memory_url(), "--config", "folder", "--source_path",
                 "memory://nowhere/at-all", "--train", "2", "--validation", "0", "--test", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "memory://nowhere/at-all is not a folder" in err[0]


def test_an_s3_prefix_this_machine_cannot_write_stops_with_one_error_line(s3, capsys):
    assert main(["build", "--output_dir", "s3://no-such-bucket/asm", *BUILD]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --output_dir s3://no-such-bucket/asm: cannot write there")
    assert "bucket exists" in err[0]


def test_llm_answers_live_beside_shards_on_the_object_store_and_feed_a_new_build(capsys):
    """An LLM build into an object store keeps its answer files there; a build into a new prefix whose --llm_cache
    names the first one sends no request."""
    from audiosetmix_lib.testing.mock_server import MockChatServer

    first, second = memory_url(), memory_url()
    with MockChatServer() as server:
        llm = ["--captioner", "openai", "--llm_model", "mock", "--llm_base_url", server.url, "--llm_concurrency", "4"]
        assert main(["build", "--output_dir", first, *BUILD, *llm]) == 0
        asked = len(server.log)
        assert asked > 0 and any(f.startswith(".audiosetmix/answers/") for f in remote_files(first))
        assert main(["build", "--output_dir", second, *BUILD, *llm, "--llm_cache", first]) == 0
        assert len(server.log) == asked
    assert remote_shards(second) == remote_shards(first)
    report = json.loads(fsspec.filesystem("memory").cat_file(second[len("memory://"):] + "/caption_report.json"))
    assert report["requests_sent"] == 0 and report["cache_hits"] == asked
