"""A build is a fixed list of shards: (split, shard index, row range), set by `rows_per_shard` alone.

The plan never depends on the engine or the number of processes, so every engine writes the
same files and a resumed build knows which files are still missing.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..events import SPLITS


@dataclass(frozen=True)
class ShardSpec:
    split: str
    shard: int  # index within the split
    num_shards: int  # shards of the split
    start: int  # first row index (inclusive)
    stop: int  # last row index (exclusive)
    position: int  # place in the whole build's plan (AUDIOSETMIX_TEST_CRASH_SHARD counts these)

    @property
    def name(self) -> str:
        """The Hub layout's file name, e.g. `train-00000-of-00003.parquet`."""
        return f"{self.split}-{self.shard:05d}-of-{self.num_shards:05d}.parquet"

    @property
    def rows(self) -> int:
        return self.stop - self.start

    def to_dict(self) -> dict:
        return asdict(self)


def plan_shards(sizes: dict[str, int], rows_per_shard: int) -> list[ShardSpec]:
    """Shards of every split with rows, in SPLITS order; the last shard of a split may be short."""
    if rows_per_shard < 1:
        raise ValueError(f"rows_per_shard must be at least 1, got {rows_per_shard}")
    plan: list[ShardSpec] = []
    for split in SPLITS:
        n = int(sizes.get(split, 0))
        if n <= 0:
            continue
        count = math.ceil(n / rows_per_shard)
        for shard in range(count):
            start = shard * rows_per_shard
            plan.append(ShardSpec(split, shard, count, start, min(n, start + rows_per_shard), len(plan)))
    return plan
