"""Each core first: a byte-bounded cache of loaded events, and recipe JSON without deep copies."""

from __future__ import annotations

import json
import pickle

import numpy as np
from helpers import ArraySource, tone

from audiosetmix_lib.config import MixConfig
from audiosetmix_lib.sampler import sample_recipe
from audiosetmix_lib.sources import EventPool, make_source
from audiosetmix_lib.sources.event_cache import EventCache


def test_cache_keeps_recent_arrays_within_its_byte_budget():
    cache = EventCache(max_bytes=10_000)
    a, b, c = (np.zeros(1000, dtype=np.float32) for _ in range(3))  # 4,000 bytes each
    cache.put("a", a)
    cache.put("b", b)
    assert cache.get("a") is a  # a is now the most recent
    cache.put("c", c)  # 12,000 > 10,000: the least recent (b) goes
    assert cache.get("b") is None and cache.get("a") is a and cache.get("c") is c
    assert cache.bytes == 8_000 and len(cache) == 2
    cache.put("huge", np.zeros(3000, dtype=np.float32))  # 12,000 bytes: larger than the budget, not kept
    assert cache.get("huge") is None and cache.bytes == 8_000
    assert (cache.hits, cache.misses) == (3, 2)
    copy = pickle.loads(pickle.dumps(cache))
    assert copy.max_bytes == 10_000 and len(copy) == 0  # travels empty


class CountingSource(ArraySource):
    def __init__(self, signals):
        super().__init__(signals)
        self.loads = 0

    def _load_raw(self, event, sample_rate):
        self.loads += 1
        return super()._load_raw(event, sample_rate)


def test_source_loads_each_event_once_until_the_budget_is_full(monkeypatch):
    monkeypatch.setenv("AUDIOSETMIX_EVENT_CACHE_MB", str(3 * 16000 * 4 / 2**20))  # room for 3 one-second events
    source = CountingSource({name: tone(f, 1.0) for name, f in (("a", 300), ("b", 400), ("c", 500), ("d", 600))})
    events = source.events()
    for _ in range(5):
        for event in events[:3]:
            source.load(event, 16000)
    assert source.loads == 3  # 15 loads, 3 decodes
    first = source.load(events[0], 16000)
    source.load(events[3], 16000)  # a fourth event: the least recently used one (b) is dropped
    assert source.loads == 4 and source._cache.bytes <= 3 * 16000 * 4
    assert source.load(events[0], 16000) is first and source.loads == 4
    source.load(events[1], 16000)
    assert source.loads == 5


def test_recipe_json_is_the_same_text_as_through_asdict():
    source = make_source("synth")
    pool = EventPool(source.events())
    for index in range(40):
        recipe = sample_recipe(pool, MixConfig(), 3, "train", index, 16000, source.spec())
        reference = json.dumps(recipe.to_dict(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        assert recipe.to_json() == reference
