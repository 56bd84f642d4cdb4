"""Every expected failure of the command-line tools ends with ONE `error:` line and exit code 2 (no traceback).

Each case runs the real script in a fresh process, as a user would.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from audiosetmix_lib.testing.mock_server import MockChatServer, Reply

pytestmark = pytest.mark.slow  # real subprocess builds and kills: deselect with -m "not slow"

ROOT = Path(__file__).resolve().parents[1]


def run(*argv: str, env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", **(env or {})})


def one_error(done: subprocess.CompletedProcess) -> str:
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    return lines[0]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_mistyped_dataset_folder_is_named_as_such(tmp_path):
    typo = str(tmp_path / "outptu" / "audiosetmix")
    for argv in (["audiosetmix.py", "show", "--dataset_dir", typo],
                 ["train_clap.py", "--dataset", typo, "--output_dir", str(tmp_path / "clap")],
                 ["eval/evaluate_clap.py", "--dataset", typo, "--model", str(tmp_path / "clap"),
                  "--output_dir", str(tmp_path / "eval")]):
        line = one_error(run(*argv))
        assert "no such folder" in line and typo in line and "Hub" not in line, argv


def test_bad_mix_json_and_wrong_key(tmp_path):
    line = one_error(run("audiosetmix.py", "build", "--output_dir", str(tmp_path / "o"), "--mix", "{overlap: 1}"))
    assert "--mix is not valid JSON" in line
    line = one_error(run("audiosetmix.py", "build", "--output_dir", str(tmp_path / "o"), "--mix", '{"overlap": 0.5}'))
    assert "overlap" in line and "overlap_probability" in line  # the wrong key and the right ones


def test_sizes_are_validated_before_any_work(tmp_path):
    out = tmp_path / "o"
    assert "--train -5" in one_error(run("audiosetmix.py", "build", "--output_dir", str(out), "--train", "-5"))
    line = one_error(run("audiosetmix.py", "build", "--output_dir", str(out), "--train", "0", "--validation", "0",
                         "--test", "0"))
    assert "0 rows" in line
    assert not out.exists()  # nothing rendered, nothing written


def test_render_with_a_bare_index(tiny_dataset_dir, tmp_path):
    line = one_error(run("audiosetmix.py", "render", "--dataset_dir", str(tiny_dataset_dir), "--id", "3",
                         "--out", str(tmp_path / "x.wav")))
    assert "train-3" in line


def test_push_without_network(tiny_dataset_dir):
    env = {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": f"http://127.0.0.1:{closed_port()}", "HF_TOKEN": "hf_dummy"}
    line = one_error(run("audiosetmix.py", "push", "--dataset_dir", str(tiny_dataset_dir), "--repo_id", "me/x", env=env))
    assert "network" in line and "--dry_run" in line


def test_401_is_one_line_naming_the_key(tmp_path):
    with MockChatServer(lambda body, data: Reply(status=401, tag="401")) as server:
        done = run("audiosetmix.py", "build", "--output_dir", str(tmp_path / "o"), "--train", "2", "--validation", "0",
                   "--test", "0", "--captioner", "openai", "--llm_base_url", server.url, "--llm_model", "mock",
                   "--num_proc", "2", "--rows_per_shard", "1")
    line = one_error(done)
    assert "HTTP 401" in line and "API key" in line


@pytest.mark.parametrize("engine,stop", [("local", signal.SIGINT), ("ray", signal.SIGTERM)])
def test_ctrl_c_is_one_line_and_says_how_to_resume(tmp_path, engine, stop):
    """Also while the driver waits inside Ray (a signal raised there used to come out as a SystemError traceback)."""
    if engine == "ray":
        pytest.importorskip("ray")
    out = tmp_path / "o"
    build = subprocess.Popen([sys.executable, "audiosetmix.py", "build", "--output_dir", str(out), "--train", "4",
                              "--validation", "0", "--test", "0", "--rows_per_shard", "2", "--engine", engine], cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
                                  "AUDIOSETMIX_TEST_HANG_SHARD": "0"},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (out / ".audiosetmix" / "test-fault-0").exists() and build.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        build.send_signal(stop)
        _, stderr = build.communicate(timeout=60)
    finally:
        if build.poll() is None:
            build.kill()
    done = subprocess.CompletedProcess(build.args, build.returncode, "", stderr)
    line = one_error(done)
    assert "resume" in line and stop.name in line, line


@pytest.mark.parametrize("flag", ["--llm_max_fallback_rate"])
def test_flag_names_are_exact(flag):
    done = run("audiosetmix.py", "build", "--help")
    assert flag in done.stdout and "--overwrite" in done.stdout and "--llm_cache_namespace" in done.stdout


def test_outputs_the_workers_cannot_reach_are_refused_before_any_work(tmp_path):
    """memory:// lives in one process: with workers it is refused at once, not after the build; a backend that
    connects when it is created (ftp://, here to a closed port) fails as one line, not a traceback."""
    for argv, said in ((["--engine", "ray"], "--engine ray"), (["--num_proc", "2"], "--num_proc 2")):
        done = run("audiosetmix.py", "build", "--output_dir", "memory://bucket/asm", "--train", "4",
                   "--validation", "0", "--test", "0", *argv)
        line = one_error(done)
        assert "memory://" in line and said in line and "--num_proc 1" in line, line
        assert "source synth" not in done.stdout and "Ray" not in done.stderr  # refused before the scan and Ray
    line = one_error(run("audiosetmix.py", "build", "--output_dir", f"ftp://127.0.0.1:{closed_port()}/asm", "--train", "4",
                         "--validation", "0", "--test", "0"))
    assert "cannot write there" in line and "ConnectionRefusedError" in line, line


def test_llm_settings_and_caches_are_checked_before_any_work(tmp_path):
    """A bad LLM setting is one line naming its flag; a --llm_cache that would silently reuse nothing (a mistyped
    folder, which used to become a new empty SQLite file) is refused and nothing is created there."""
    llm = ["audiosetmix.py", "build", "--output_dir", str(tmp_path / "o"), "--train", "4", "--validation", "0", "--test", "0",
           "--captioner", "openai", "--llm_model", "mock", "--llm_base_url", f"http://127.0.0.1:{closed_port()}/v1"]
    line = one_error(run(*llm, "--llm_concurrency", "0"))
    assert "--llm_concurrency" in line and "got 0" in line, line
    typo = tmp_path / "run1" / ".audiosetmix" / "answer"
    for given in (str(typo), str(typo) + "/", typo.as_uri()):
        line = one_error(run(*llm, "--llm_cache", given))
        assert "--llm_cache" in line and "no such folder" in line, line
    assert not (tmp_path / "run1").exists()
    line = one_error(run(*llm, "--engine", "ray", "--llm_cache", str(tmp_path / "answers.sqlite")))
    assert "SQLite" in line and "Ray" in line and not (tmp_path / "answers.sqlite").exists(), line
    line = one_error(run(*[a for a in llm if a not in ("--captioner", "openai")]))  # LLM flags, template captioner
    assert "--llm_model, --llm_base_url given" in line and "--captioner openai" in line, line


@pytest.mark.parametrize("server", ["429", "closed port"])
def test_a_build_stopped_by_its_llm_server_closes_its_http_client(tmp_path, server):
    """The stop's error is the last word: no 'Unclosed client session' from the HTTP client after it (a server
    that only says 429: the fallback guard; a closed port: nobody answers)."""
    build = ["audiosetmix.py", "build", "--output_dir", str(tmp_path / "o"), "--train", "4", "--validation", "0",
             "--test", "0", "--captioner", "openai", "--llm_model", "mock", "--llm_timeout", "0.5",
             "--llm_http_retries", "0"]
    if server == "closed port":
        done = run(*build, "--llm_base_url", f"http://127.0.0.1:{closed_port()}/v1")
    else:
        with MockChatServer(lambda body, data: Reply(status=429, tag="429")) as mock:
            done = run(*build, "--llm_base_url", mock.url)
    line = one_error(done)
    assert ("fell back to template captions" if server == "429" else "does not answer") in line, line
    assert "Unclosed" not in done.stderr and done.stderr.rstrip().splitlines()[-1] == line, done.stderr[-1500:]


def test_a_ray_address_that_does_not_answer_is_one_line_at_once(tmp_path):
    """Ray would retry a dead host:port for minutes; the build says so at once, naming the address, whether it
    came from --ray_address or RAY_ADDRESS."""
    pytest.importorskip("ray")
    dead = f"127.0.0.1:{closed_port()}"
    build = ["audiosetmix.py", "build", "--output_dir", str(tmp_path / "o"), "--train", "4", "--validation", "0",
             "--test", "0", "--engine", "ray"]
    for argv, env in ((["--ray_address", dead], None), ([], {"RAY_ADDRESS": dead}), (["--ray_address", "ray://" + dead], None)):
        line = one_error(run(*build, *argv, env=env, timeout=120))
        assert "cannot reach the Ray cluster" in line and dead in line and "ConnectionRefusedError" in line, line


def test_values_a_build_cannot_use_are_one_line_each(tmp_path):
    """Each used to crash after "building N shard(s)" (seed -1, sample rate 100) or to be taken silently (num_proc 0)."""
    build = ["audiosetmix.py", "build", "--output_dir", str(tmp_path / "o"), "--train", "4", "--validation", "0", "--test", "0"]
    llm = ["--captioner", "openai", "--llm_model", "mock"]
    cases = [(["--seed", "-1"], "--seed -1"), (["--sample_rate", "100"], "--sample_rate 100"),
             (["--sample_rate", "1000000"], "--sample_rate 1000000"), (["--num_proc", "0"], "--num_proc 0"),
             (["--audio_negatives", "-1"], "--audio_negatives -1"), (["--min_event_seconds", "-1"], "--min_event_seconds"),
             (["--ray_address", "auto"], "--engine ray"), (["--output_dir", " "], "--output_dir is empty"),
             ([*llm, "--llm_base_url", "ftp://host/v1"], "not an http:// or https:// URL"),
             ([*llm, "--llm_base_url", "http://127.0.0.1:1/v1", "--llm_timeout", "0"], "--llm_timeout"),
             (["--sample_rate", "1e5"], "invalid int value: '1e5'"), (["--trian", "3"], "unrecognized arguments: --trian")]
    for argv, said in cases:
        line = one_error(run(*build, *argv))
        assert said in line, (argv, line)
    assert not (tmp_path / "o" / "data").exists()


def test_a_reader_that_goes_away_does_not_stop_the_build(tmp_path):
    """`build ... | head -1`: the build finishes (its card is written) and exits 0, with no BrokenPipeError."""
    out = tmp_path / "o"
    build = subprocess.Popen([sys.executable, "audiosetmix.py", "build", "--output_dir", str(out), "--train", "8",
                              "--validation", "0", "--test", "0", "--rows_per_shard", "2"], cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert build.stdout.readline().startswith("source ")
        build.stdout.close()  # the reader leaves, as `head -1` does
        stderr = build.stderr.read()
        assert build.wait(timeout=180) == 0, stderr[-2000:]
    finally:
        if build.poll() is None:
            build.kill()
    assert "Traceback" not in stderr and (out / "README.md").exists()
    assert len(list((out / "data").glob("train-*.parquet"))) == 4
