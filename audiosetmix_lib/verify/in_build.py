"""`build --verify`: each shard verified as it is written, before it is committed; the build stops past a mismatch rate.

The engines hand every finished shard to `output.commit` in the driver; `ShardVerifier.wrap` puts
the check in front of that call, so the local and the Ray engine are verified the same way, and a
shard that fails is never committed (a rerun builds it again).
"""

from __future__ import annotations

from collections import Counter

import fsspec
import pyarrow.parquet as pq

from .report import tally
from .row import RowResult, verify_row


class VerifyMismatch(RuntimeError):
    """More rows fail their claims than --max_mismatch_rate allows."""


def shard_rows(path: str, batch_size: int = 32):
    with fsspec.open(str(path), "rb") as handle:
        for batch in pq.ParquetFile(handle).iter_batches(batch_size=batch_size):
            yield from batch.to_pylist()


class ShardVerifier:
    def __init__(self, source, max_mismatch_rate: float = 0.0, log=print) -> None:
        self.source, self.max_mismatch_rate, self.log = source, max_mismatch_rate, log
        self.results: list[RowResult] = []

    def wrap(self, output):
        return _VerifyingOutput(output, self)

    def check(self, result) -> None:
        """Verify one staged shard; raise VerifyMismatch when the failing share of all rows so far is too high."""
        rows = [verify_row(row, self.source) for row in shard_rows(result.path)]
        self.results += rows
        failed = [r for r in self.results if not r.passed]
        self.log(f"  verified {result.spec.name}: {sum(not r.passed for r in rows)} of {len(rows)} rows fail a claim",
                 flush=True)
        rate = len(failed) / len(self.results)
        if rate > self.max_mismatch_rate:
            kinds = Counter(f"{c.kind} {c.key}".strip() for r in failed for c in r.failed)
            most = ", ".join(f"{kind} x{n}" for kind, n in kinds.most_common(3))
            raise VerifyMismatch(
                f"build --verify: {len(failed)} of {len(self.results)} rows checked fail a claim ({rate:.1%} > "
                f"--max_mismatch_rate {self.max_mismatch_rate:g}; failing claims: {most}; first row {failed[0].id}); "
                f"shard {result.spec.name} was not committed: see every failing row with `audiosetmix verify` on a "
                f"build without --verify, or allow a share with --max_mismatch_rate")

    def card_markdown(self) -> str:
        summary = tally(self.results)
        lines = [f"Verified while building (`build --verify`, `--max_mismatch_rate {self.max_mismatch_rate:g}`): "
                 f"{summary['rows']} rows written by this run, {summary['failed_rows']} with a failing claim. Shards "
                 f"finished by an earlier run were not verified again. What `verify` measures: docs/verify.md.", "",
                 "| claim | checked | failed |", "|---|---|---|"]
        lines += [f"| {k} | {v.get('checked', 0)} | {v.get('failed', 0)} |" for k, v in summary["claims"].items()]
        return "\n".join(lines)


class _VerifyingOutput:
    """A build output whose `commit` verifies the shard first; everything else is the output's own."""

    def __init__(self, output, verifier: ShardVerifier) -> None:
        self._output, self._verifier = output, verifier

    def commit(self, result) -> None:
        self._verifier.check(result)
        self._output.commit(result)

    def __getattr__(self, name: str):
        return getattr(self._output, name)
