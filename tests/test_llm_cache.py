"""The SQLite answer cache: keys, first-writer-wins, pickling, and several processes writing at once."""

from __future__ import annotations

import multiprocessing
import pickle
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

from audiosetmix_lib.captions.cache import AnswerCache, cache_key

BASE = dict(backend="openai", model="m", prompt_version="prompt-v1", prompt="[...]",
            sampling={"temperature": 0.7, "top_p": 0.95, "max_new_tokens": 64, "seed": 0}, attempt=0)


def test_key_depends_on_every_part():
    key = cache_key(**BASE)
    assert key == cache_key(**BASE)
    changes = [{"backend": "transformers"}, {"model": "m2"}, {"prompt_version": "prompt-v2"}, {"prompt": "[.]"},
               {"sampling": {**BASE["sampling"], "temperature": 0.1}}, {"attempt": 1}]
    keys = {cache_key(**{**BASE, **change}) for change in changes}
    assert key not in keys and len(keys) == len(changes)


def test_put_get_first_writer_wins_and_pickle(tmp_path):
    cache = AnswerCache(tmp_path / "c.sqlite")
    assert cache.get_many(["a"]) == {}
    assert cache.put("a", "first", "openai", "m", "p", 0) == "first"
    assert cache.put("a", "second", "openai", "m", "p", 0) == "first"
    clone = pickle.loads(pickle.dumps(cache))
    assert clone.get_many(["a", "b"]) == {"a": "first"}
    assert len(clone) == 1
    mode = clone.connection().execute("PRAGMA journal_mode").fetchone()[0]
    assert mode.lower() == "wal"


def test_processes_share_one_file(tmp_path):
    path = tmp_path / "shared.sqlite"
    script = textwrap.dedent(f"""
        import sys
        from audiosetmix_lib.captions.cache import AnswerCache
        cache = AnswerCache({str(path)!r})
        who = sys.argv[1]
        for i in range(150):
            stored = cache.put(f"k{{i}}", f"{{who}}-{{i}}", "openai", "m", "p", 0)
            assert stored.endswith(f"-{{i}}"), stored
        print("ok")
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, who], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for who in ("a", "b", "c")]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    cache = AnswerCache(path)
    found = cache.get_many([f"k{i}" for i in range(150)])
    assert len(found) == 150 and len(cache) == 150


def test_opening_waits_for_a_writer_instead_of_failing(tmp_path):
    """Switching to WAL while another connection holds the write lock: SQLite says "locked" at once
    (its busy handler would risk a deadlock), so opening must retry until the lock is released."""
    path = tmp_path / "c.sqlite"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("CREATE TABLE other (x)")
    writer.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, lambda: writer.execute("COMMIT"))
    release.start()
    started = time.monotonic()
    cache = AnswerCache(path)
    assert cache.put("a", "first", "openai", "m", "p", 0) == "first"
    release.join()
    assert time.monotonic() - started >= 0.25
    assert cache.connection().execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
    writer.close()


def _open_and_write(path: str, barrier, results) -> None:
    barrier.wait()
    try:
        cache = AnswerCache(path)
        results.put(cache.put("k", "v", "openai", "m", "p", 0))
    except Exception as error:  # reported to the parent, which names it
        results.put(repr(error))


def test_many_processes_opening_a_new_file_at_once(tmp_path):
    """The `--num_proc` start: every worker opens the not-yet-WAL file in the same instant."""
    context = multiprocessing.get_context("fork")
    outcomes = []
    for trial in range(30):
        path, workers = str(tmp_path / f"fresh{trial}.sqlite"), 8
        barrier, results = context.Barrier(workers), context.Queue()
        procs = [context.Process(target=_open_and_write, args=(path, barrier, results)) for _ in range(workers)]
        for proc in procs:
            proc.start()
        outcomes += [results.get(timeout=60) for _ in procs]
        for proc in procs:
            proc.join(timeout=60)
    assert outcomes == ["v"] * len(outcomes)
