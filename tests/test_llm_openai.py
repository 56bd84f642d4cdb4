"""The `openai` captioner against a real HTTP server on 127.0.0.1 that answers well, badly, slowly or not at all."""

from __future__ import annotations

import json
import pickle
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import build_dataset

from audiosetmix_lib.captions.backend import BackendError, Request, Sampling, TransportFailure
from audiosetmix_lib.captions.openai_backend import OpenAIBackend, parse_retry_after
from audiosetmix_lib.captions.prompt import EXAMPLES, build_messages, user_message
from audiosetmix_lib.captions.template_captioner import TemplateCaptioner
from audiosetmix_lib.captions.validate import Validator
from audiosetmix_lib.describe import describe
from audiosetmix_lib.recipe import Recipe
from audiosetmix_lib.testing.mock_server import MockChatServer, Reply, good_caption, user_content

OPPOSITE_WORD = {"loud": "quiet", "quiet": "loud", "high-pitched": "low-pitched", "low-pitched": "high-pitched",
                 "fast": "slow", "slow": "fast", "prolonged": "brief", "brief": "prolonged"}
TRANSPORT = {"slow": "timeout", "invalid_json": "invalid_response", "500_always": "http_500"}


def messages(i: int = 0) -> list[dict]:
    return build_messages(EXAMPLES[i][0])


def backend(url: str, **kw) -> OpenAIBackend:
    options = dict(base_url=url, model="mock", concurrency=4, timeout=2.0, http_retries=2, backoff=0.01)
    options.update(kw)
    return OpenAIBackend(**options)


class PerPrompt:
    """A policy that counts how often each (prompt, seed) was asked and answers `script(n)`."""

    def __init__(self, script) -> None:
        self.script, self.seen, self.lock = script, Counter(), threading.Lock()

    def __call__(self, body, data):
        with self.lock:
            key = (user_content(body), body["seed"])
            self.seen[key] += 1
            n = self.seen[key]
        return self.script(n)


def test_retry_after_parsing():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert 0 <= parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") <= 1  # in the past: no wait


def test_500_then_answer_and_429_honours_retry_after():
    script = lambda n: Reply(status=500, tag="http_500") if n == 1 else Reply()  # noqa: E731
    with MockChatServer(PerPrompt(script)) as server:
        answers = backend(server.url).generate([Request(messages(0)), Request(messages(1))])
        assert all(isinstance(a, str) and a.endswith("is heard.") for a in answers), answers
        assert len(server.log) == 4
    script = lambda n: Reply(status=429, headers={"Retry-After": "1"}, tag="http_429") if n == 1 else Reply()  # noqa: E731
    with MockChatServer(PerPrompt(script)) as server:
        [answer] = backend(server.url).generate([Request(messages(0))])
        assert isinstance(answer, str)
        first, second = server.log
        assert first["status"] == 429 and second["time"] - first["time"] >= 0.95


def test_timeouts_invalid_json_and_persistent_5xx_are_transport_failures():
    policies = {
        "timeout": lambda body, data: Reply(delay=2.0, tag="slow"),
        "invalid_response": lambda body, data: Reply(raw=b"{not json", tag="invalid_json"),
        "http_503": lambda body, data: Reply(status=503, tag="http_503"),
    }
    for kind, policy in policies.items():
        with MockChatServer(policy) as server:
            started = time.monotonic()
            [answer] = backend(server.url, timeout=0.5, http_retries=1).generate([Request(messages())])
            assert isinstance(answer, TransportFailure) and answer.kind == kind, answer
            assert len(server.log) == 2  # retried once
            assert time.monotonic() - started < 3.0  # never waited for the slow answers (2 x 2 s)


def test_bad_configuration_stops_instead_of_falling_back():
    with MockChatServer(lambda body, data: Reply(status=401, tag="http_401")) as server:
        with pytest.raises(BackendError, match="HTTP 401"):
            backend(server.url).generate([Request(messages())])
        assert len(server.log) == 1
    with pytest.raises(BackendError):
        OpenAIBackend(base_url="", model="m")


def test_a_fatal_answer_stops_the_rest_of_the_batch():
    """One request of 60 is refused (401) at concurrency 4: the batch raises, and the requests not yet
    sent are never sent (at most the 4 in flight, plus those a worker had started meanwhile)."""
    def policy(body, data):
        time.sleep(0.05)
        return Reply(status=401, tag="http_401") if body["seed"] == 7 else Reply()

    requests = [Request(messages(i % 3), Sampling(seed=i)) for i in range(60)]
    with MockChatServer(policy) as server:
        with pytest.raises(BackendError, match="HTTP 401"):
            backend(server.url, concurrency=4).generate(requests)
        time.sleep(1.0)  # anything still running would reach the server now
        assert len(server.log) <= 8 + 4, len(server.log)


def test_api_key_sent_but_never_kept(monkeypatch):
    monkeypatch.setenv("ASM_TEST_KEY", "sk-test-secret-1234")
    with MockChatServer() as server:
        b = backend(server.url, api_key_env="ASM_TEST_KEY")
        b.generate([Request(messages())])
        assert server.log[0]["authorization"] == "Bearer sk-test-secret-1234"
        assert "sk-test-secret" not in repr(b) and b"sk-test-secret" not in pickle.dumps(b)
    monkeypatch.delenv("ASM_TEST_KEY")
    with MockChatServer() as server:
        backend(server.url, api_key_env="ASM_TEST_KEY").generate([Request(messages())])
        assert server.log[0]["authorization"] is None


def test_concurrency_keeps_order():
    with MockChatServer(latency=0.2) as server:
        requests = [Request(messages(i % 3), Sampling(seed=i)) for i in range(8)]
        started = time.monotonic()
        answers = backend(server.url, concurrency=8).generate(requests)
        assert time.monotonic() - started < 1.4  # 8 x 0.2 s in sequence would be 1.6 s
        expected = [good_caption(_data(r)) for r in requests]
        assert answers == expected


def test_never_more_requests_in_flight_than_concurrency():
    lock, state = threading.Lock(), {"now": 0, "most": 0}

    def policy(body, data):  # runs in the server's handler thread, one per connection
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.2)  # long enough that 3 overlap even on a busy machine
        with lock:
            state["now"] -= 1
        return Reply()

    with MockChatServer(policy) as server:
        requests = [Request(messages(i % 3), Sampling(seed=i)) for i in range(15)]
        answers = backend(server.url, concurrency=3).generate(requests)
    assert state["most"] == 3
    assert answers == [good_caption(_data(r)) for r in requests]


def _data(request: Request) -> dict:
    from audiosetmix_lib.captions.prompt import parse_data_block

    return parse_data_block(request.messages[-1]["content"])


# ---- the whole build against a flaky server -------------------------------------------------------

CATEGORIES = ["good", "missing_event", "opposite_modifier", "invented_class", "preamble", "500_once", "429_once",
              "slow", "invalid_json", "500_always", "bad_always", "good"]


def _without_first(data: dict) -> str:
    sounds = [dict(s) for s in data["sounds"][1:]]
    if not sounds:
        return "Something is heard."
    sounds[0]["starts"], sounds[0]["background"] = "at the beginning", False
    return good_caption({"sounds": sounds})


def _opposite(data: dict) -> tuple[str, str]:
    used = {q for s in data["sounds"] for q in s["qualities"]}
    sounds = [dict(s, qualities=list(s["qualities"])) for s in data["sounds"]]
    for sound in sounds:
        for j, q in enumerate(sound["qualities"]):
            if OPPOSITE_WORD[q] not in used:
                sound["qualities"][j] = OPPOSITE_WORD[q]
                return good_caption({"sounds": sounds}), "opposite_modifier"
    for word, transform in (("loud", "quiet"), ("fast", "slow"), ("brief", "prolonged")):
        if word not in used and transform not in used:
            sounds[0]["qualities"].append(word)
            return good_caption({"sounds": sounds}), "invented_modifier"
    return good_caption(data), "good"


class Flaky:
    """Each new prompt gets the next category; a retry (seed > 0) is answered well unless the category says not."""

    def __init__(self) -> None:
        self.category: dict[str, str] = {}
        self.seen: Counter = Counter()
        self.lock = threading.Lock()

    def __call__(self, body, data) -> Reply:
        prompt, seed = user_content(body), body["seed"]
        with self.lock:
            category = self.category.setdefault(prompt, CATEGORIES[len(self.category) % len(CATEGORIES)])
            self.seen[(prompt, seed)] += 1
            n = self.seen[(prompt, seed)]
        if category == "bad_always":
            return Reply(text=_without_first(data), tag="missing_event")
        if category == "slow":
            return Reply(delay=2.5, tag="slow")
        if category == "invalid_json":
            return Reply(raw=b'{"choices": [', tag="invalid_json")
        if category == "500_always":
            return Reply(status=500, tag="http_500")
        if seed > 0 or category == "good":
            return Reply(tag="good")
        if category == "missing_event":
            return Reply(text=_without_first(data), tag="missing_event")
        if category == "opposite_modifier":
            text, tag = _opposite(data)
            return Reply(text=text, tag=tag)
        if category == "invented_class":
            sounds = data["sounds"] + [{"name": "cat", "qualities": [], "starts": f"after sound {len(data['sounds'])} ends",
                                        "background": False}]
            return Reply(text=good_caption({"sounds": sounds}), tag="invented_class")
        if category == "preamble":
            return Reply(text="Here is a caption: " + good_caption(data), tag="preamble")
        if category == "500_once":
            return Reply(status=500, tag="http_500") if n == 1 else Reply(tag="good")
        if category == "429_once":
            return Reply(status=429, headers={"Retry-After": "1"}, tag="http_429") if n == 1 else Reply(tag="good")
        raise AssertionError(category)


def _load_rows(out: Path) -> list[dict]:
    import datasets

    ds = datasets.load_dataset(str(out), split="train").remove_columns(["audio", "negative_audio"])
    return [dict(r) for r in ds]


def _build(out: Path, server: MockChatServer, cache: Path, *extra: str) -> dict:
    build_dataset(out, "--train", "6", "--validation", "0", "--test", "0", "--num_negatives", "2", "--seed", "3",
                  "--mix", '{"max_events": 3}', "--captioner", "openai", "--llm_base_url", server.url,
                  "--llm_model", "mock", "--llm_cache", str(cache), "--llm_timeout", "1.0", "--llm_http_retries", "1",
                  "--llm_concurrency", "4", "--llm_max_retries", "1",
                  "--llm_max_fallback_rate", "1", *extra)  # the flaky rows are the point here: never stop
    return json.loads((out / "caption_report.json").read_text())


def test_flaky_server_build_rates_fallbacks_and_cached_rebuild(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ASM_TEST_KEY", "sk-flaky-secret-42")
    policy = Flaky()
    cache = tmp_path / "answers.sqlite"
    with MockChatServer(policy) as server:
        report = _build(tmp_path / "one", server, cache, "--llm_api_key_env", "ASM_TEST_KEY")
        log1 = list(server.log)
        report2 = _build(tmp_path / "two", server, cache)
        log2 = server.log[len(log1):]
    printed = capsys.readouterr().out
    rows = _load_rows(tmp_path / "one")
    assert [r["id"] for r in rows] == [f"train-{i}" for i in range(6)]  # no row lost

    # every answer the server gave was validated and counted under the reason it was built to fail
    tags = Counter(entry["tag"] for entry in log1)
    answered = {t: n for t, n in tags.items() if t not in ("http_500", "http_429", "slow", "invalid_json")}
    assert report["answers_validated"] == sum(answered.values())
    assert report["answers_accepted"] == answered.get("good", 0)
    assert {r: v["count"] for r, v in report["rejections_by_reason"].items()} == \
        {t: n for t, n in answered.items() if t != "good"}
    assert report["requests_sent"] == len({(e["prompt"], e["seed"]) for e in log1})
    assert set(policy.category.values()) >= set(CATEGORIES)  # every behaviour happened

    # which rows fell back, and why, follows from the categories of their prompts
    validator, template = Validator(), TemplateCaptioner()
    expected_fallback = Counter()
    for row in rows:
        recipes = [Recipe.from_json(row["recipe"])] + [Recipe.from_json(n["recipe"]) for n in row["negatives"]]
        categories = [policy.category[user_message(describe(r))] for r in recipes]
        transport = [TRANSPORT[c] for c in categories if c in TRANSPORT]
        reason = f"transport:{transport[0]}" if transport else "missing_event" if "bad_always" in categories else None
        texts = [row["caption"]] + [n["caption"] for n in row["negatives"]]
        if reason is None:
            assert row["caption_source"] == "llm:mock" and row["prompt_version"] == "prompt-v2"
            assert all(validator.check(t, describe(r)).ok for t, r in zip(texts, recipes, strict=True))
        else:
            expected_fallback[reason] += 1
            assert row["caption_source"] == "template-fallback" and row["prompt_version"] == "template-v1"
            assert texts == template.caption_set(recipes)  # the whole set, caption and negatives
    assert {r: v["count"] for r, v in report["fallback_by_reason"].items()} == dict(expected_fallback)
    assert report["rows_fallback"] == sum(expected_fallback.values()) > 0
    assert report["fallback_rate"] == pytest.approx(report["rows_fallback"] / 6, abs=1e-4)
    assert report["transport_failures"] == dict(Counter(
        TRANSPORT[c] for p, c in policy.category.items() if c in TRANSPORT))

    # the second build asks only what had no answer (transport failed) or a rejected one (asked again)
    accepted_keys = {(e["prompt"], e["seed"]) for e in log1 if e["tag"] == "good"}
    rejected_keys = {(e["prompt"], e["seed"]) for e in log1
                     if e["tag"] not in ("good", "http_500", "http_429", "slow", "invalid_json")}
    assert log2 and all((e["prompt"], e["seed"]) not in accepted_keys for e in log2)
    assert all(policy.category[e["prompt"]] in TRANSPORT or (e["prompt"], e["seed"]) in rejected_keys for e in log2)
    assert report2["asked_again"] == len({(e["prompt"], e["seed"]) for e in log2} & rejected_keys) > 0
    assert report2["cache_hits"] > 0
    assert _load_rows(tmp_path / "two") == rows

    # the card states the rates; the key went to the server and nowhere else
    card = (tmp_path / "one" / "README.md").read_text()
    assert "template-fallback" in card and f"{report['rows_fallback']} (" in card
    assert "fallback transport:" in printed or "fallback missing_event" in printed
    assert log1[0]["authorization"] == "Bearer sk-flaky-secret-42"
    for path in [*(tmp_path / "one").rglob("*"), *tmp_path.glob("answers.sqlite*")]:
        if path.is_file():
            assert b"sk-flaky-secret" not in path.read_bytes(), path
    assert "sk-flaky-secret" not in printed


def test_rebuild_with_a_good_server_sends_zero_requests_and_num_proc_agrees(tmp_path):
    cache = tmp_path / "answers.sqlite"
    args = ["--train", "4", "--validation", "0", "--test", "0", "--num_negatives", "1", "--rows_per_shard", "2",
            "--captioner", "openai", "--llm_model", "mock", "--llm_cache", str(cache)]
    with MockChatServer() as server:
        build_dataset(tmp_path / "a", *args, "--llm_base_url", server.url, "--num_proc", "2")
        first = len(server.log)
        build_dataset(tmp_path / "b", *args, "--llm_base_url", server.url)
        assert first > 0 and len(server.log) == first  # zero requests
    report = json.loads((tmp_path / "b" / "caption_report.json").read_text())
    assert report["requests_sent"] == 0 and report["cache_hits"] == first and report["llm_rate"] == 1.0
    assert _load_rows(tmp_path / "a") == _load_rows(tmp_path / "b")
