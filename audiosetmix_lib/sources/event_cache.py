"""A per-process cache of loaded, resampled events, bounded by bytes (not by count, not by dataset size).

A build draws the same events many times (hundreds of rows from a few hundred events), and
each load costs a decode + resample (real audio) or a re-synthesis (synth). Keeping the
most recently used arrays up to a byte budget makes repeat loads free while memory stays
flat however large the dataset: the budget, not the event count, bounds it. The cache is
per worker process and travels empty (pickling keeps only the budget).
"""

from __future__ import annotations

import os
from collections import OrderedDict

import numpy as np

DEFAULT_BUDGET_MB = 256
BUDGET_ENV = "AUDIOSETMIX_EVENT_CACHE_MB"


def default_budget_bytes() -> int:
    value = os.environ.get(BUDGET_ENV, "").strip()
    try:
        return int(float(value) * 2**20) if value else DEFAULT_BUDGET_MB * 2**20
    except ValueError:
        return DEFAULT_BUDGET_MB * 2**20


class EventCache:
    """Least-recently-used arrays up to `max_bytes`; an array larger than the budget is not kept."""

    def __init__(self, max_bytes: int | None = None) -> None:
        self.max_bytes = default_budget_bytes() if max_bytes is None else int(max_bytes)
        self._items: OrderedDict = OrderedDict()
        self.bytes = 0
        self.hits = 0
        self.misses = 0

    def __getstate__(self) -> dict:
        return {"max_bytes": self.max_bytes}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["max_bytes"])

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key) -> np.ndarray | None:
        array = self._items.get(key)
        if array is None:
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return array

    def put(self, key, array: np.ndarray) -> None:
        if key in self._items or array.nbytes > self.max_bytes:
            return
        self._items[key] = array
        self.bytes += array.nbytes
        while self.bytes > self.max_bytes:
            _, dropped = self._items.popitem(last=False)
            self.bytes -= dropped.nbytes
