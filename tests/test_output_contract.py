"""The output contract, from outside: manifest, resume, crashes, killed drivers, orphans, foreign folders.

Builds run as real subprocesses (`python audiosetmix.py build ...`) so kills and process pools are
real; faults are injected deterministically (AUDIOSETMIX_TEST_CRASH_SHARD / _HANG_SHARD, with a
marker file to wait for, never a sleep-and-kill race). The reference is an uninterrupted build
in a fresh process with `--num_proc 1`.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # real subprocess builds and kills: deselect with -m "not slow"

ROOT = Path(__file__).resolve().parents[1]
# 3 + 3 + 2 train shards, 1 validation shard: 4 planned shards, positions 0..3
ARGS = ["--train", "8", "--validation", "2", "--test", "0", "--rows_per_shard", "3", "--seed", "5", "--num_negatives", "1",
        "--mix", '{"max_events": 2}']
POLL_S = 120.0


def run_build(out: Path, *extra: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "audiosetmix.py", "build", "--output_dir", str(out), *ARGS, *extra],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
                          capture_output=True, text=True, timeout=timeout)


def start_build(out: Path, *extra: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "audiosetmix.py", "build", "--output_dir", str(out), *ARGS, *extra],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def dataset_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".audiosetmix" not in p.relative_to(folder).parts}


def same_dataset(a: Path, b: Path) -> None:
    fa, fb = dataset_files(a), dataset_files(b)
    assert sorted(fa) == sorted(fb)
    for name in fa:
        if name == "README.md":  # the card names its folder once (load_dataset("<folder>")); all else is equal
            assert fa[name].replace(a.name.encode(), b"X") == fb[name].replace(b.name.encode(), b"X")
        else:
            assert fa[name] == fb[name], name


def our_processes(marker: str) -> list[int]:
    """PIDs of live processes whose command line contains `marker` (the build's own output path)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = next((line for line in (proc / "status").read_text().splitlines() if line.startswith("State:")), "")
        except OSError:
            continue
        if marker in cmdline and "Z" not in state.split()[1:2]:  # zombies are already dead
            found.append(int(proc.name))
    return found


def wait_until(predicate, what: str, timeout: float = POLL_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        time.sleep(0.2)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "ds"
    done = run_build(out, "--num_proc", "1")
    assert done.returncode == 0, done.stderr
    return out


def test_manifest_records_every_shard_with_rows_and_sha256_and_a_rerun_rewrites_nothing(reference):
    manifest = json.loads((reference / ".audiosetmix" / "manifest.json").read_text())
    assert manifest["complete"] is True and len(manifest["build_hash"]) == 64
    names = [s["name"] for s in manifest["shards"]]
    assert names == ["train-00000-of-00003.parquet", "train-00001-of-00003.parquet", "train-00002-of-00003.parquet",
                     "validation-00000-of-00001.parquet"]
    import pyarrow.parquet as pq

    for shard in manifest["shards"]:
        path = reference / shard["file"]
        assert shard["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert shard["rows"] == pq.ParquetFile(path).metadata.num_rows == shard["stop"] - shard["start"]
    assert "num_proc" not in json.dumps(manifest["determinants"])
    stamps = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in reference.rglob("*") if p.is_file()
              and p.name != "lock"}
    again = run_build(reference, "--num_proc", "2")
    assert again.returncode == 0, again.stderr
    assert "nothing rewritten" in again.stdout
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in stamps} == stamps


def test_crashed_shard_fails_loudly_and_the_rerun_resumes_byte_identical(tmp_path, reference):
    out = tmp_path / "ds"
    env = {"AUDIOSETMIX_TEST_CRASH_SHARD": "1"}
    first = run_build(out, "--num_proc", "2", env=env)
    assert first.returncode == 2
    assert len(error_lines(first.stderr)) == 1 and "resume" in error_lines(first.stderr)[0]
    assert "Traceback" not in first.stderr
    assert (out / ".audiosetmix" / "test-fault-1").exists()
    manifest = json.loads((out / ".audiosetmix" / "manifest.json").read_text())
    assert manifest["complete"] is False and not (out / "README.md").exists()
    recorded = [s["name"] for s in manifest["shards"] if s["sha256"]]
    assert "train-00001-of-00003.parquet" not in recorded
    wait_until(lambda: not our_processes(str(out)), "the crashed build's workers to end")
    second = run_build(out, "--num_proc", "2", env=env)  # the same command again
    assert second.returncode == 0, second.stderr
    assert "resuming" in second.stdout
    rebuilt = [line.split()[1].rstrip(":") for line in second.stdout.splitlines() if line.strip().startswith("shard ")]
    assert sorted(rebuilt) == sorted(set(s["name"] for s in manifest["shards"]) - set(recorded))
    assert not list((out / ".audiosetmix").rglob("*.partial-*"))
    same_dataset(reference, out)  # also: --num_proc 2 here, 1 there, each in a fresh process

    shard = out / "data" / "train-00001-of-00003.parquet"  # half a file where a finished shard was
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    third = run_build(out)
    assert third.returncode == 0, third.stderr
    assert "resuming" in third.stdout and third.stdout.count("  shard ") == 1  # only the damaged one is rebuilt
    same_dataset(reference, out)


def test_sigkilled_driver_leaves_no_workers_and_the_rerun_resumes(tmp_path, reference):
    out = tmp_path / "ds"
    env = {"AUDIOSETMIX_TEST_HANG_SHARD": "2"}
    driver = start_build(out, "--num_proc", "2", env=env)
    marker = out / ".audiosetmix" / "test-fault-2"
    try:
        wait_until(lambda: marker.exists() or driver.poll() is not None, "shard 2 to write half its rows")
        assert driver.poll() is None, driver.communicate()
        assert len(our_processes(str(out))) >= 2  # the driver and its workers are there
        driver.send_signal(signal.SIGKILL)
        driver.communicate(timeout=60)
    finally:
        if driver.poll() is None:
            driver.kill()
    wait_until(lambda: not our_processes(str(out)), "no process of the killed build to remain")
    again = run_build(out, "--num_proc", "2", env=env)
    assert again.returncode == 0, again.stderr
    assert "resuming" in again.stdout
    same_dataset(reference, out)


def test_sigterm_stops_the_build_with_one_error_line_and_no_workers(tmp_path):
    out = tmp_path / "ds"
    driver = start_build(out, "--num_proc", "2", env={"AUDIOSETMIX_TEST_HANG_SHARD": "0"})
    try:
        wait_until(lambda: (out / ".audiosetmix" / "test-fault-0").exists() or driver.poll() is not None,
                   "shard 0 to write half its rows")
        driver.send_signal(signal.SIGTERM)
        _, stderr = driver.communicate(timeout=60)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == 2
    assert error_lines(stderr) == [error_lines(stderr)[0]] and "SIGTERM" in stderr and "Traceback" not in stderr
    wait_until(lambda: not our_processes(str(out)), "the workers to end with the driver")


def test_a_foreign_folder_is_refused_and_overwrite_moves_instead_of_deleting(tmp_path):
    out = tmp_path / "mine"
    (out / "data").mkdir(parents=True)
    (out / "notes.txt").write_text("keep me")
    (out / "README.md").write_text("my readme")
    (out / "data" / "train-00000-of-00001.parquet").write_bytes(b"my data")
    refused = run_build(out)
    assert refused.returncode == 2 and len(error_lines(refused.stderr)) == 1
    assert "--overwrite" in refused.stderr and "Traceback" not in refused.stderr
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == \
        ["README.md", "data/train-00000-of-00001.parquet", "notes.txt"]
    done = run_build(out, "--overwrite")
    assert done.returncode == 0, done.stderr
    assert (out / "notes.txt").read_text() == "keep me"
    displaced = list((out / ".audiosetmix" / "displaced").iterdir())
    assert len(displaced) == 1
    assert (displaced[0] / "README.md").read_text() == "my readme"
    assert (displaced[0] / "data" / "train-00000-of-00001.parquet").read_bytes() == b"my data"
    import datasets

    ds = datasets.load_dataset(str(out))
    assert {s: len(ds[s]) for s in ds} == {"train": 8, "validation": 2}


def test_a_changed_build_replaces_data_only_when_complete(tmp_path, reference):
    import shutil

    import datasets

    out = tmp_path / "ds"
    shutil.copytree(reference, out)
    before = dataset_files(out)
    old_hash = json.loads((out / ".audiosetmix" / "manifest.json").read_text())["build_hash"]
    refused = run_build(out, "--seed", "6")  # the last --seed wins: a different build, into a finished one
    assert refused.returncode == 2 and len(error_lines(refused.stderr)) == 1 and "Traceback" not in refused.stderr
    line = error_lines(refused.stderr)[0]
    assert "holds a finished, different AudioSetMix build: 10 rows (train 8, validation 2), finished 20" in line
    assert "captions by template" in line and "another --output_dir" in line and "--overwrite" in line
    assert dataset_files(out) == before
    assert json.loads((out / ".audiosetmix" / "manifest.json").read_text())["build_hash"] == old_hash
    env = {"AUDIOSETMIX_TEST_CRASH_SHARD": "2"}
    crashed = run_build(out, "--seed", "6", "--overwrite", env=env)
    assert crashed.returncode != 0
    assert dataset_files(out) == before  # the old dataset is untouched and still loads
    assert len(datasets.load_dataset(str(out), split="train")) == 8
    done = run_build(out, "--seed", "6", "--overwrite", env=env)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / ".audiosetmix" / "manifest.json").read_text())
    assert manifest["complete"] and manifest["build_hash"] != old_hash
    after = dataset_files(out)
    assert sorted(after) == sorted(before)
    assert all(after[name] != before[name] for name in after if name.startswith("data/"))
    assert [json.loads(r)["seed"] for r in datasets.load_dataset(str(out), split="validation")["recipe"]] == [6, 6]
    assert not (out / ".audiosetmix" / "staging").exists()


def test_a_different_command_over_an_unfinished_build_needs_no_overwrite(tmp_path):
    """Only a finished dataset is protected: a build that never finished is no one's dataset yet."""
    import datasets

    out = tmp_path / "ds"
    crashed = run_build(out, env={"AUDIOSETMIX_TEST_CRASH_SHARD": "1"})
    assert crashed.returncode != 0 and not (out / "README.md").exists()
    other = run_build(out, "--seed", "6")
    assert other.returncode == 0, other.stderr
    assert [json.loads(r)["seed"] for r in datasets.load_dataset(str(out), split="validation")["recipe"]] == [6, 6]


def test_a_dataset_built_before_manifests_needs_overwrite_and_is_replaced_not_displaced(tmp_path, reference):
    import shutil

    out = tmp_path / "ds"
    shutil.copytree(reference, out, ignore=shutil.ignore_patterns(".audiosetmix"))  # README.md + data/ only
    refused = run_build(out)
    assert refused.returncode == 2 and len(error_lines(refused.stderr)) == 1
    assert "holds a finished, different AudioSetMix build: 10 rows (train 8, validation 2), date unknown." in refused.stderr
    done = run_build(out, "--overwrite")
    assert done.returncode == 0, done.stderr
    assert not (out / ".audiosetmix" / "displaced").exists()
    same_dataset(reference, out)


def test_a_damaged_manifest_is_written_again_by_the_same_command_when_the_shards_match_the_card(tmp_path, reference):
    import shutil

    out = tmp_path / "ds"
    shutil.copytree(reference, out)
    manifest = out / ".audiosetmix" / "manifest.json"
    manifest.write_bytes(b"")  # empty, as a full disk or an editor can leave it
    before = dataset_files(out)
    again = run_build(out)
    assert again.returncode == 0, again.stderr
    assert "manifest.json was damaged: written again" in again.stdout and "nothing rewritten" in again.stdout
    assert dataset_files(out) == before
    written, original = json.loads(manifest.read_text()), json.loads((reference / ".audiosetmix" / "manifest.json").read_text())
    assert written["complete"] and [written[k] for k in ("build_hash", "shards")] == [original[k] for k in ("build_hash", "shards")]
    assert next((out / ".audiosetmix" / "displaced").iterdir()).joinpath("manifest.json").read_bytes() == b""
    assert "nothing rewritten" in run_build(out).stdout


def test_a_damaged_manifest_over_changed_shards_is_one_error_line_and_overwrite_rebuilds_moving_it_aside(tmp_path, reference):
    import shutil

    import datasets

    out = tmp_path / "ds"
    shutil.copytree(reference, out)
    manifest = out / ".audiosetmix" / "manifest.json"
    damaged = manifest.read_bytes()[: manifest.stat().st_size // 2]  # truncated
    manifest.write_bytes(damaged)
    shard = out / "data" / "train-00001-of-00003.parquet"
    shard.unlink()  # data/ no longer what the card recorded
    before = dataset_files(out)
    refused = run_build(out)
    assert refused.returncode == 2 and len(error_lines(refused.stderr)) == 1 and "Traceback" not in refused.stderr
    line = error_lines(refused.stderr)[0]
    assert "manifest.json is damaged (JSONDecodeError" in line and "--overwrite" in line and "another --output_dir" in line
    assert dataset_files(out) == before and manifest.read_bytes() == damaged
    done = run_build(out, "--overwrite")
    assert done.returncode == 0, done.stderr
    same_dataset(reference, out)
    displaced = next((out / ".audiosetmix" / "displaced").iterdir())  # nothing deleted: the damaged manifest too
    assert (displaced / "manifest.json").read_bytes() == damaged and (displaced / "README.md").is_file()
    assert sorted(p.name for p in (displaced / "data").iterdir()) == sorted(p.name for p in (reference / "data").iterdir()
                                                                           if p.name != shard.name)
    assert len(datasets.load_dataset(str(out), split="train")) == 8


def test_a_new_renderer_version_is_a_different_build(monkeypatch):
    """A build begun by an older renderer (other bytes for the same drawn recipes) must not be resumed
    with this renderer's shards: the renderer's version is part of the build hash."""
    from audiosetmix_lib.builder import AudioSetMixConfig
    from audiosetmix_lib.output import determinants
    from audiosetmix_lib.output.manifest import build_hash
    from audiosetmix_lib.render import RENDER_VERSION

    config = AudioSetMixConfig(name="x")
    current = build_hash(determinants.build_determinants(config, {"name": "synth"}, []))
    monkeypatch.setattr(determinants, "RENDER_VERSION", RENDER_VERSION - 1)
    older = build_hash(determinants.build_determinants(config, {"name": "synth"}, []))
    assert older != current
