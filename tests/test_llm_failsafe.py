"""Broken LLM servers stop a build (--llm_max_fallback_rate); the answer cache names its endpoint.

Real HTTP to the local test server (hanging, 429, garbage answers) or to a closed port.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from audiosetmix_lib.captions.backend import Request, Sampling
from audiosetmix_lib.captions.fallback_guard import FallbackGuard, FallbackRateExceeded
from audiosetmix_lib.captions.openai_backend import OpenAIBackend
from audiosetmix_lib.captions.prompt import build_messages
from audiosetmix_lib.captions.report import ReportStore
from audiosetmix_lib.cli import main
from audiosetmix_lib.config import MixConfig
from audiosetmix_lib.describe import describe
from audiosetmix_lib.rows import RowMaker
from audiosetmix_lib.sources import EventPool, make_source
from audiosetmix_lib.testing.mock_server import MockChatServer, Reply

ROWS = ["--train", "6", "--validation", "0", "--test", "0", "--num_negatives", "1", "--seed", "3",
        "--mix", '{"max_events": 2}', "--rows_per_shard", "3"]


def llm_build(out: Path, url: str, *extra: str) -> int:
    return main(["build", "--output_dir", str(out), *ROWS, "--captioner", "openai", "--llm_base_url", url,
                 "--llm_model", "mock", "--llm_timeout", "0.5", "--llm_http_retries", "0", "--llm_max_retries", "0",
                 *extra])


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def only_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_a_rate_limiting_server_stops_the_build_with_exit_2(tmp_path, capsys):
    with MockChatServer(lambda body, data: Reply(status=429, tag="429")) as mock:
        code = llm_build(tmp_path / "out", mock.url)
    assert code == 2
    line = only_error_line(capsys.readouterr().err)
    assert "--llm_max_fallback_rate" in line and "6 of 6" in line
    assert not (tmp_path / "out" / "README.md").exists()  # no all-template dataset passed off as done


class Hangs:
    """Answers the first `good` requests, then holds every later one for `hold` seconds (a hung server)."""

    def __init__(self, good: int, hold: float = 30.0) -> None:
        self.good, self.hold, self.count, self.lock = good, hold, 0, threading.Lock()

    def __call__(self, body, data) -> Reply:
        with self.lock:
            self.count += 1
            n = self.count
        return Reply(tag="good") if n <= self.good else Reply(delay=self.hold, tag="hang")


@pytest.mark.parametrize("server", ["hangs", "closed port"])
def test_a_dead_server_stops_the_build_within_one_timeout(tmp_path, capsys, server):
    """Retries (5 per request) and a batch per shard would multiply a hang; silence on every endpoint stops it."""
    flags = ("--llm_http_retries", "5", "--llm_timeout", "1", "--llm_concurrency", "8")
    started = time.monotonic()
    if server == "closed port":
        code = llm_build(tmp_path / "out", closed_port_url(), *flags)
        hung = 0
    else:
        with MockChatServer(Hangs(good=0, hold=10.0)) as mock:
            code = llm_build(tmp_path / "out", mock.url, *flags)
            hung = sum(e["tag"] == "hang" for e in mock.log)
    elapsed = time.monotonic() - started
    assert code == 2
    line = only_error_line(capsys.readouterr().err)
    assert "does not answer" in line and "--llm_base_url" in line and "the same command resumes" in line
    assert ("timed out" if server == "hangs" else "connection refused") in line
    assert hung <= 6  # one wave (3 rows x 2 captions of the first batch), none of it retried (else 6 x 6)
    assert elapsed < 60, elapsed  # a hang does not cost retries x batches (no tighter bound on a busy machine)
    assert not (tmp_path / "out" / "README.md").exists()


def test_a_server_that_hangs_mid_build_keeps_the_finished_shards(tmp_path, capsys):
    hangs = Hangs(good=6)  # 3 rows x (caption + 1 negative): the first shard, then silence
    with MockChatServer(hangs) as mock:
        code = llm_build(tmp_path / "out", mock.url, "--llm_timeout", "1", "--llm_http_retries", "3")
    assert code == 2 and "does not answer" in only_error_line(capsys.readouterr().err)
    data = tmp_path / "out" / "data"
    assert sorted(p.name for p in data.glob("*.parquet")) == ["train-00000-of-00002.parquet"]
    with MockChatServer() as good:  # the server is back: the same command builds the other shard only
        assert llm_build(tmp_path / "out", good.url) == 0
        assert len(good.log) == 6
    assert "resuming the build" in capsys.readouterr().out
    assert json.loads((tmp_path / "out" / "caption_report.json").read_text())["rows_llm"] == 6


def test_rate_one_never_stops_and_the_rows_fall_back(tmp_path, capsys):
    with MockChatServer(lambda body, data: Reply(status=429, tag="429")) as mock:  # there, but never answers well
        assert llm_build(tmp_path / "out", mock.url, "--llm_max_fallback_rate", "1") == 0
    report = json.loads((tmp_path / "out" / "caption_report.json").read_text())
    assert report["rows"] == 6 and report["rows_fallback"] == 6


def test_fallback_rate_is_a_fraction(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        llm_build(tmp_path / "out", closed_port_url(), "--llm_max_fallback_rate", "1.5")
    assert stop.value.code == 2 and "between 0 and 1" in capsys.readouterr().err


def test_the_guard_counts_the_whole_build_and_waits_for_min_50_rows(tmp_path):
    store = ReportStore(tmp_path / "report.sqlite")
    for i in range(40):  # 40 rows, 12 fell back: 30 %
        source = "template-fallback" if i % 10 < 3 else "llm"
        store.add({"row": f"train-{i}", "source": source, "fallback_reason": None if source == "llm" else "timeout",
                   "items": []})
    FallbackGuard(0.2, 100, store)()  # 40 < min(50, 100) rows: not judged yet
    FallbackGuard(0.3, 40, store)()  # 30 % is not more than 30 %
    FallbackGuard(1.0, 40, store).finish()
    with pytest.raises(FallbackRateExceeded, match="12 of 40"):
        FallbackGuard(0.2, 40, store)()  # all 40 rows captioned: judged after the batch
    with pytest.raises(FallbackRateExceeded, match="timeout 12"):
        FallbackGuard(0.2, 100, store).finish()  # the final check judges whatever was captioned


def test_progress_is_printed_while_a_slow_batch_waits(tmp_path, capsys):
    with MockChatServer(lambda body, data: Reply(delay=0.6)) as mock:
        backend = OpenAIBackend(base_url=mock.url, model="mock", api_key_env=None, concurrency=1, timeout=5,
                                http_retries=0, progress_every=0.2)
        answers = backend.generate(_requests(2))
    assert all(isinstance(a, str) for a in answers)
    err = capsys.readouterr().err
    assert "waiting for the LLM server" in err and "of 2 requests 0 answered, 0 failed, 2 waiting" in err


def test_progress_counts_failed_requests_apart_from_answered_ones(tmp_path, capsys):
    first = threading.Event()

    def policy(body, data) -> Reply:  # whichever arrives first fails at once, the other answers late
        if not first.is_set():
            first.set()
            return Reply(status=500, tag="500")
        return Reply(delay=1.0)

    with MockChatServer(policy) as mock:
        backend = OpenAIBackend(base_url=mock.url, model="mock", api_key_env=None, concurrency=2, timeout=5,
                                http_retries=0, progress_every=0.4)
        answers = backend.generate(_requests(2))
    assert sorted(type(a).__name__ for a in answers) == ["TransportFailure", "str"]
    assert "of 2 requests 0 answered, 1 failed, 1 waiting" in capsys.readouterr().err


def _requests(n: int) -> list[Request]:
    source = make_source("synth")
    maker = RowMaker(source, EventPool(source.events()), MixConfig(max_events=2), 0, 16000, 1)
    return [Request(build_messages(describe(maker.recipe("train", i))), Sampling()) for i in range(n)]


# ---- the cache and its endpoint id ------------------------------------------------------------

def test_cache_key_names_the_endpoint_not_its_url(tmp_path, capsys):
    cache = tmp_path / "answers.sqlite"
    garbage = MockChatServer(lambda body, data: Reply(text="Something is heard.", tag="garbage"))
    good = MockChatServer()
    with garbage, good:
        common = ["--llm_cache", str(cache), "--llm_max_fallback_rate", "1"]
        assert llm_build(tmp_path / "a", garbage.url, *common) == 0
        asked_garbage = len(garbage.log)
        assert llm_build(tmp_path / "b", good.url, *common) == 0  # a different server is asked afresh
        asked_good = len(good.log)
        assert llm_build(tmp_path / "c", good.url, *common) == 0  # the same endpoint again: 0 requests
        assert len(good.log) == asked_good
    assert asked_garbage > 0 and asked_good > 0
    report_b = json.loads((tmp_path / "b" / "caption_report.json").read_text())
    assert report_b["rows_llm"] == 6
    assert json.loads((tmp_path / "c" / "caption_report.json").read_text())["requests_sent"] == 0
    raw = cache.read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("answers.sqlite-*"))
    assert b"127.0.0.1" not in raw
    with sqlite3.connect(cache) as conn:
        assert conn.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == asked_garbage + asked_good


def test_a_namespace_shares_answers_and_rejected_ones_are_asked_again(tmp_path):
    cache = tmp_path / "answers.sqlite"
    garbage = MockChatServer(lambda body, data: Reply(text="Something is heard.", tag="garbage"))
    good = MockChatServer()
    with garbage, good:
        common = ["--llm_cache", str(cache), "--llm_cache_namespace", "team-vllm", "--llm_max_fallback_rate", "1"]
        assert llm_build(tmp_path / "a", garbage.url, *common) == 0
        assert llm_build(tmp_path / "b", good.url, *common, "--llm_reuse_rejected") == 0
        assert len(good.log) == 0  # same namespace, rejected answers kept on request: nothing asked
        assert json.loads((tmp_path / "b" / "caption_report.json").read_text())["rows_llm"] == 0
        assert llm_build(tmp_path / "c", good.url, *common) == 0  # by default a rejected answer is asked again
        asked = len(good.log)
        assert asked > 0
        assert llm_build(tmp_path / "d", good.url, *common) == 0  # the good answers replaced the rejected ones
        assert len(good.log) == asked
    report_c = json.loads((tmp_path / "c" / "caption_report.json").read_text())
    assert report_c["rows_llm"] == 6 and report_c["asked_again"] == asked == report_c["requests_sent"]
    assert json.loads((tmp_path / "d" / "caption_report.json").read_text())["rows_llm"] == 6


def _switchable_server(state: dict) -> MockChatServer:
    """One URL whose answers turn from garbage to good when the test says the server was repaired."""
    return MockChatServer(lambda body, data: Reply(text="Something is heard.", tag="garbage") if state["broken"]
                          else Reply())


def test_a_build_stopped_by_a_garbage_server_resumes_once_the_server_is_fixed(tmp_path, capsys):
    state = {"broken": True}
    one_shard = ("--rows_per_shard", "6")  # the guard stops the build before any shard is finished
    with _switchable_server(state) as server:
        assert llm_build(tmp_path / "out", server.url, *one_shard) == 2
        line = only_error_line(capsys.readouterr().err)
        assert "6 of 6" in line and "the same command resumes and asks the rejected captions again" in line
        asked_while_broken = len(server.log)
        state["broken"] = False
        assert llm_build(tmp_path / "out", server.url, *one_shard) == 0  # the same command, the same URL
        out = capsys.readouterr().out
        asked_after_fix = len(server.log) - asked_while_broken
        assert llm_build(tmp_path / "new", server.url, *one_shard, "--llm_cache", str(tmp_path / "out")) == 0
        assert len(server.log) == asked_after_fix + asked_while_broken  # the fixed answers are reused as they are
    assert asked_after_fix == asked_while_broken > 0  # each rejected answer asked again once
    report = json.loads((tmp_path / "out" / "caption_report.json").read_text())
    assert report["rows_llm"] == 6 and report["asked_again"] == asked_while_broken
    assert f"{asked_while_broken} of them asked again" in out
    assert json.loads((tmp_path / "new" / "caption_report.json").read_text())["rows_llm"] == 6


def test_a_garbage_builds_cache_is_asked_again_in_a_new_folder_and_kept_on_request(tmp_path, capsys):
    garbage = MockChatServer(lambda body, data: Reply(text="Something is heard.", tag="garbage"))
    good = MockChatServer()
    with garbage, good:
        namespace = ("--llm_cache_namespace", "one-model")  # two servers said to answer alike
        assert llm_build(tmp_path / "bad", garbage.url, *namespace, "--llm_max_fallback_rate", "1") == 0
        capsys.readouterr()
        cache = ("--llm_cache", str(tmp_path / "bad"), *namespace)
        assert llm_build(tmp_path / "kept", good.url, *cache, "--llm_reuse_rejected") == 2
        line = only_error_line(capsys.readouterr().err)
        assert len(good.log) == 0 and "without --llm_reuse_rejected" in line
        assert llm_build(tmp_path / "asked", good.url, *cache) == 0
    assert len(good.log) == len(garbage.log)
    assert json.loads((tmp_path / "asked" / "caption_report.json").read_text())["rows_llm"] == 6


def test_the_build_keeps_its_answers_in_the_output_folder(tmp_path):
    with MockChatServer() as good:
        assert llm_build(tmp_path / "out", good.url) == 0
        first = len(good.log)
        out = tmp_path / "out"
        (out / "data" / "train-00001-of-00002.parquet").unlink()  # lose a shard: the rerun rebuilds it from the cache
        assert llm_build(out, good.url) == 0
        assert len(good.log) == first
    answer_files = sorted(p.name for p in (out / ".audiosetmix" / "answers").glob("*.jsonl"))  # one per shard
    assert answer_files == ["train-00000-of-00002.jsonl", "train-00001-of-00002.jsonl"]
