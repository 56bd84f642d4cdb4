"""LLM answers as files beside the shards: read back on a rerun, reused by a build into a new folder."""

from __future__ import annotations

import json

import fsspec
from conftest import build_dataset
from helpers import undecoded_rows

from audiosetmix_lib.captions.answer_files import AnswerFolder, UnitAnswers
from audiosetmix_lib.testing.mock_server import MockChatServer


def test_unit_file_round_trip_torn_line_and_earlier_folder():
    fs = fsspec.filesystem("memory")
    fs.pipe_file("/earlier/.audiosetmix/answers/train-0.jsonl", b'{"key": "k1", "answer": "A dog barks."}\n{"key": "k2", "answ')
    unit = UnitAnswers("memory:///run/answers/train-00000.jsonl", readers=[AnswerFolder("memory:///earlier")])
    assert unit.get_many(["k1", "k2", "k3"]) == {"k1": "A dog barks."}  # a torn line is no answer
    assert unit.put("k3", "A cat meows.", "openai", "m", "p1", 0) == "A cat meows."
    assert unit.put("k3", "Another answer.", "openai", "m", "p1", 0) == "A cat meows."  # first answer wins
    unit.flush()
    lines = [json.loads(line) for line in fs.cat_file("/run/answers/train-00000.jsonl").decode().splitlines()]
    assert [(e["key"], e["answer"]) for e in lines] == [("k1", "A dog barks."), ("k3", "A cat meows.")]
    assert UnitAnswers("memory:///run/answers/train-00000.jsonl").get_many(["k1", "k3"]) == {
        "k1": "A dog barks.", "k3": "A cat meows."}


ARGS = ["--train", "6", "--validation", "2", "--test", "0", "--num_negatives", "1", "--rows_per_shard", "4",
        "--seed", "2", "--captioner", "openai", "--llm_model", "mock", "--llm_concurrency", "4"]


def _rows(out):
    return undecoded_rows(out, ("train", "validation"))


def test_rerun_and_new_folder_with_earlier_answers_send_zero_requests(tmp_path):
    with MockChatServer() as server:
        first = build_dataset(tmp_path / "first", *ARGS, "--llm_base_url", server.url)
        asked = len(server.log)
        files = sorted((first / ".audiosetmix" / "answers").glob("*.jsonl"))
        assert asked > 0 and files
        assert sum(len(f.read_text().splitlines()) for f in files) == asked  # every answer kept, once
        build_dataset(first, *ARGS, "--llm_base_url", server.url)  # rerun into the same folder
        assert len(server.log) == asked
        second = build_dataset(tmp_path / "second", *ARGS, "--llm_base_url", server.url,
                               "--llm_cache", (first.resolve()).as_uri(), "--num_proc", "2")
        assert len(server.log) == asked  # zero requests, two processes, earlier answers named by a file:// URL
    report = json.loads((second / "caption_report.json").read_text())
    assert report["requests_sent"] == 0 and report["cache_hits"] == asked and report["llm_rate"] == 1.0
    assert _rows(second) == _rows(first)
    # the new build keeps its own complete copy: the earlier folder is not needed again
    assert sum(len(f.read_text().splitlines()) for f in (second / ".audiosetmix" / "answers").glob("*.jsonl")) == asked
