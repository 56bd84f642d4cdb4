"""Stop a build whose LLM captions keep falling back to the template (`--llm_max_fallback_rate`).

A hanging, rate-limited or unreachable server turns every row into a template row; without
this guard the build would run for hours and exit 0 with an all-template dataset. The share
of fallback rows is read from the report store every build process writes to, so the check
sees the whole build, after each caption batch once min(50, all rows) rows are captioned, and
once more at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_ROWS = 50


class FallbackRateExceeded(RuntimeError):
    """Too many rows fell back to template captions; the message names the main reasons and the fix."""


@dataclass
class FallbackGuard:
    max_rate: float
    total_rows: int
    report: object | None  # a captions.report.ReportStore (pickles to its path)
    reuses_rejected: bool = False  # --llm_reuse_rejected: a resume would not ask the rejected answers again

    def __call__(self, rows_done_in_shard: int = 0) -> None:
        self.check(final=False)

    def finish(self) -> None:
        self.check(final=True)

    def check(self, final: bool) -> None:
        if self.max_rate >= 1.0 or self.report is None:
            return
        rows, fallback, reasons = self.report.fallback_counts()
        if rows == 0 or (not final and rows < min(MIN_ROWS, self.total_rows)):
            return
        if fallback / rows > self.max_rate:
            why = ", ".join(f"{reason} {n}" for reason, n in reasons[:3])
            transport = sum(n for reason, n in reasons if reason.startswith("transport:")) * 2 > fallback
            fix = ("check that the LLM server answers (--llm_base_url, --llm_model, its logs; --llm_timeout)"
                   if transport else "the answers fail validation: check the server's answers or try a stronger --llm_model")
            resume = ("the same command resumes and asks the rejected captions again" if not self.reuses_rejected else
                      "the same command without --llm_reuse_rejected resumes and asks the rejected captions again")
            raise FallbackRateExceeded(
                f"{fallback} of {rows} captioned rows ({100 * fallback / rows:.0f} %) fell back to template captions "
                f"({why}), more than --llm_max_fallback_rate {self.max_rate:g}: {fix}, or raise "
                f"--llm_max_fallback_rate (1 never stops); finished shards are kept, {resume}")
