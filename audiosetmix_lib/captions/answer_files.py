"""LLM answers kept as files beside the shards, so the cache works across machines.

SQLite must not live on a network filesystem and cannot be written by workers on other
machines, so a build keeps its answers as one JSONL file per work unit (a shard, or a chunk of
rows) under `<out>/.audiosetmix/answers/`: the unit's task reads its own file back when it is
redone, adds what it learnt, and replaces the file whole (written aside, then renamed; on
object stores one PUT is already atomic). Earlier answers are read from a folder of such
files (an earlier build's `.audiosetmix/answers/`, or the build folder itself) or from today's
SQLite cache file. Keys are the captioner's cache keys, so what counts as "the same prompt" is
decided in one place (`cache.cache_key`).
"""

from __future__ import annotations

import json
import os

import fsspec

ANSWERS_DIR = ".audiosetmix/answers"


def _fs(url: str):
    return fsspec.core.url_to_fs(url)


def read_answer_file(fs, path: str) -> dict[str, str]:
    """key -> answer from one JSONL file; a torn last line (a writer killed mid-write elsewhere) is ignored."""
    found = {}
    with fs.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            try:
                entry = json.loads(line)
                found[entry["key"]] = entry["answer"]
            except (ValueError, KeyError, TypeError):
                continue
    return found


def answers_location(url: str) -> str:
    """A build folder stands for its `.audiosetmix/answers/` folder; any other folder is taken as is."""
    fs, path = _fs(url)
    inner = path.rstrip("/") + "/" + ANSWERS_DIR
    if fs.isdir(inner):
        return url.rstrip("/") + "/" + ANSWERS_DIR
    return url


class AnswerFolder:
    """Read-only answers from every `*.jsonl` file of a folder, loaded once per process on first use."""

    def __init__(self, url: str) -> None:
        self.url = answers_location(url)
        self._answers: dict[str, str] | None = None

    def __getstate__(self) -> dict:
        return {"url": self.url}

    def __setstate__(self, state: dict) -> None:
        self.url, self._answers = state["url"], None

    def _load(self) -> dict[str, str]:
        if self._answers is None:
            fs, path = _fs(self.url)
            answers: dict[str, str] = {}
            if fs.isdir(path):
                for name in sorted(fs.glob(path.rstrip("/") + "/*.jsonl")):
                    answers.update(read_answer_file(fs, name))
            self._answers = answers
        return self._answers

    def get_many(self, keys: list[str]) -> dict[str, str]:
        answers = self._load()
        return {k: answers[k] for k in keys if k in answers}


class UnitAnswers:
    """One work unit's answers: its own file (read back on a redo) first, then the earlier answers given.

    `put` keeps an answer in memory (and in a shared SQLite cache if one was given); `flush`
    replaces the unit's file with everything the unit knows.
    """

    def __init__(self, url: str | None, readers: list = (), mirror=None) -> None:
        self.url = url  # None: answers kept in memory only
        self.readers = list(readers)
        self.mirror = mirror
        self.own = {}
        if url is not None:
            fs, path = _fs(url)
            self.own = read_answer_file(fs, path) if fs.exists(path) else {}
        self.meta: dict[str, dict] = {}
        self.dirty = False

    def get_many(self, keys: list[str]) -> dict[str, str]:
        found = {k: self.own[k] for k in keys if k in self.own}
        for reader in self.readers:
            missing = [k for k in keys if k not in found]
            if not missing:
                break
            for key, answer in reader.get_many(missing).items():
                found[key] = answer
                self.own[key] = answer  # the unit's file stays complete on its own
                self.dirty = True
        return found

    def put(self, key: str, answer: str, backend: str, model: str, prompt_version: str, attempt: int,
            replace: bool = False) -> str:
        """Keep an answer unless one is there (first answer wins), or over it with `replace`; return the kept one."""
        if self.mirror is not None:
            answer = self.mirror.put(key, answer, backend, model, prompt_version, attempt, replace=replace)
        if replace:
            self.own[key] = answer
        answer = self.own.setdefault(key, answer)
        self.meta[key] = {"model": model, "prompt_version": prompt_version, "attempt": attempt}
        self.dirty = True
        return answer

    def flush(self) -> None:
        if not self.dirty or self.url is None:
            return
        lines = []
        for key in sorted(self.own):
            lines.append(json.dumps({"key": key, "answer": self.own[key], **self.meta.get(key, {})},
                                    ensure_ascii=False, sort_keys=True))
        data = ("\n".join(lines) + "\n").encode("utf-8")
        fs, path = _fs(self.url)
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        if getattr(fs, "protocol", None) in ("file", ("file", "local")) or fs.__class__.__name__ == "LocalFileSystem":
            tmp = f"{path}.tmp-{os.getpid()}"
            fs.pipe_file(tmp, data)
            os.replace(tmp, path)  # atomic: a reader sees the old file or the new one
        else:
            fs.pipe_file(path, data)  # one object PUT is atomic on object stores
        self.dirty = False


def unit_answers_url(answers_dir: str, unit: str) -> str:
    return answers_dir.rstrip("/") + f"/{unit}.jsonl"
