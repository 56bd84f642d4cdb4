"""Several LLM endpoints: least outstanding requests, per-endpoint backoff, failover when a server dies."""

from __future__ import annotations

import json
import threading
import time

from conftest import build_dataset
from helpers import undecoded_rows
from llm_servers import requests_logged, server_processes

from audiosetmix_lib.captions.backend import Request, Sampling
from audiosetmix_lib.captions.endpoints import EndpointPool
from audiosetmix_lib.captions.openai_backend import OpenAIBackend
from audiosetmix_lib.captions.prompt import EXAMPLES, build_messages


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_pool_least_outstanding_and_doubling_rest():
    clock = Clock()
    pool = EndpointPool(["a", "b", "c"], backoff=1.0, max_backoff=3.0, clock=clock)
    a, b, c = pool.endpoints
    picked = []
    for _ in range(5):  # nothing answers yet: 2, 2, 1 in flight, lowest index first on ties
        e = pool.pick()
        pool.start(e)
        picked.append(e.url)
    assert picked == ["a", "b", "c", "a", "b"]
    pool.succeeded(c)  # c is fast: it gets the next one
    assert pool.pick() is c
    pool.failed(b, "connection")  # b rests 1 s, then 2 s, then 3 s (capped)
    assert b not in pool.healthy() and pool.pick(exclude=a) is c
    clock.now += 1.0
    assert b in pool.healthy()
    pool.start(b)
    pool.failed(b, "timeout")
    clock.now += 1.5
    assert b not in pool.healthy()
    clock.now += 0.5
    pool.start(b)
    pool.failed(b, "timeout")
    assert abs(b.down_until - clock.now - 3.0) < 1e-9
    pool.failed(a, "http_429", retry_after=10.0)  # the server's Retry-After wins
    pool.failed(a, "http_503")
    assert abs(a.down_until - clock.now - 10.0) < 1e-9
    assert b.stats() == {"sent": 4, "answered": 0, "failures": {"connection": 1, "timeout": 2}, "marked_down": 3}
    clock.now += 20  # all healthy again; c never failed
    assert pool.pick() is c or c.outstanding > 0


BUILD = ["--train", "8", "--validation", "0", "--test", "0", "--num_negatives", "1", "--rows_per_shard", "4",
         "--seed", "5", "--captioner", "openai", "--llm_model", "mock", "--llm_concurrency", "6",
         "--llm_timeout", "5", "--llm_http_retries", "1", "--llm_max_retries", "0"]


def _rows(out):
    return undecoded_rows(out, ("train",))


def test_two_server_processes_share_the_load_and_one_dying_loses_no_row(tmp_path, capsys):
    with server_processes(2, tmp_path, latency=0.05) as [(url0, log0), (url1, log1)]:
        build_dataset(tmp_path / "both", *BUILD, "--llm_base_url", url0, "--llm_base_url", url1)
        both = json.loads((tmp_path / "both" / "caption_report.json").read_text())
        n0, n1 = requests_logged(log0), requests_logged(log1)
    assert n0 > 0 and n1 > 0 and n0 + n1 == both["requests_sent"], (n0, n1, both["requests_sent"])
    assert both["llm_rate"] == 1.0
    assert sorted(e["sent"] for e in both["endpoints"].values()) == sorted([n0, n1])

    # the first server exits abruptly when its 4th request arrives: those in flight move to the other
    logs = tmp_path / "dying"
    logs.mkdir()
    with server_processes(2, logs, latency=0.05, stop_after={0: 3}) as [(url0, log0), (url1, log1)]:
        capsys.readouterr()
        build_dataset(tmp_path / "one_dies", *BUILD, "--llm_base_url", url0, "--llm_base_url", url1)
        printed = capsys.readouterr().out
        n0, n1 = requests_logged(log0), requests_logged(log1)
    report = json.loads((tmp_path / "one_dies" / "caption_report.json").read_text())
    assert n0 == 3 and n1 > 0
    assert report["llm_rate"] == 1.0 and report["rows"] == 8  # no row lost, none fell back
    dead, alive = report["endpoints"].values()  # sorted by name: endpoint-0 first
    # it died with up to 3 requests in flight (logged on arrival): each was answered or failed over
    assert dead["answered"] <= 3 and dead["sent"] == dead["answered"] + sum(dead["failures"].values())
    assert dead["failures"].get("connection", 0) >= 1 and dead["marked_down"] >= 1
    assert alive["answered"] == n1 and not alive["failures"]
    assert report["requests_sent"] == dead["answered"] + n1  # each caption was answered once
    assert "endpoint-0" in printed and "connection" in printed  # the summary says what happened
    assert url0 not in json.dumps(report)  # endpoints are named by a hash, never by their URL
    card = (tmp_path / "one_dies" / "README.md").read_text()
    assert "| `endpoint-0 (" in card and url0 not in card  # the card says what each endpoint did
    # the same rows as the build with two healthy servers (the mock answers are deterministic)
    assert _rows(tmp_path / "one_dies") == _rows(tmp_path / "both")


def test_256_requests_in_flight_from_one_client_thread(tmp_path):
    with server_processes(2, tmp_path, latency=1.0) as [(url0, log0), (url1, log1)]:
        backend = OpenAIBackend(base_url=[url0, url1], model="mock", concurrency=256, timeout=60.0, http_retries=0)
        requests = [Request(build_messages(EXAMPLES[i % 3][0]), Sampling(seed=i)) for i in range(256)]
        threads = threading.active_count()
        started = time.monotonic()
        answers = backend.generate(requests)
        elapsed = time.monotonic() - started
        grew = threading.active_count() - threads
        backend.close()
        n0, n1 = requests_logged(log0), requests_logged(log1)
    assert all(isinstance(a, str) and a.endswith("is heard.") for a in answers)
    assert elapsed < 20.0, elapsed  # 256 x 1 s in sequence; 8 threads would need 32 s
    assert grew <= 1  # one event-loop thread, not a thread per request
    assert n0 + n1 == 256 and min(n0, n1) >= 64, (n0, n1)  # least outstanding spreads the load


def test_a_slow_endpoint_gets_fewer_requests(tmp_path):
    with server_processes(2, tmp_path, latency=[0.02, 0.4]) as [(fast, fast_log), (slow, slow_log)]:
        backend = OpenAIBackend(base_url=[slow, fast], model="mock", concurrency=16, timeout=60.0, http_retries=0)
        requests = [Request(build_messages(EXAMPLES[i % 3][0]), Sampling(seed=i)) for i in range(160)]
        answers = backend.generate(requests)
        backend.close()
        n_fast, n_slow = requests_logged(fast_log), requests_logged(slow_log)
    assert all(isinstance(a, str) for a in answers) and n_fast + n_slow == 160
    # in flight: about 8 each; the slow one answers 20x slower, so it serves about 1 request in 20
    assert 0 < n_slow < 160 / 4, (n_fast, n_slow)
