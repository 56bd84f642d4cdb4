"""What the LLM captioner did: one record per row, gathered across build processes, summarised as rates.

Each captioned set (a row's caption and its negatives) leaves one JSON record: which source
the row got, why it fell back, and for every caption each attempt's outcome (accepted, a
rejection reason, or a transport failure). Records go to a SQLite file so `--num_proc`
workers can all write them; the build summary, `caption_report.json` and the dataset card
are computed from them.
"""

from __future__ import annotations

import json
from collections import Counter

from .cache import SQLiteStore

ACCEPTED = "accepted"

_SCHEMA = "CREATE TABLE IF NOT EXISTS caption_sets (row_id TEXT PRIMARY KEY, record TEXT NOT NULL)"


class ReportStore(SQLiteStore):
    schema = _SCHEMA

    def add(self, record: dict) -> None:
        with self._lock:
            self.connection().execute("INSERT OR REPLACE INTO caption_sets (row_id, record) VALUES (?, ?)",
                                      (record["row"], json.dumps(record, sort_keys=True)))

    def fallback_counts(self) -> tuple[int, int, list[tuple[str, int]]]:
        """(rows recorded, rows that fell back, [(reason, rows)] most frequent first), across all build processes."""
        with self._lock:
            conn = self.connection()
            rows = conn.execute("SELECT COUNT(*) FROM caption_sets").fetchone()[0]
            reasons = conn.execute("SELECT json_extract(record, '$.fallback_reason') AS r, COUNT(*) FROM caption_sets "
                                   "WHERE json_extract(record, '$.source') != 'llm' GROUP BY r "
                                   "ORDER BY COUNT(*) DESC, r").fetchall()
        return rows, sum(n for _, n in reasons), [(str(r), n) for r, n in reasons]

    def records(self) -> list[dict]:
        with self._lock:
            rows = self.connection().execute("SELECT record FROM caption_sets ORDER BY row_id").fetchall()
        return [json.loads(r[0]) for r in rows]


def _rates(counts: Counter, total: int) -> dict:
    return {reason: {"count": n, "rate": round(n / total, 4) if total else 0.0} for reason, n in sorted(counts.items())}


def summarise(records: list[dict], meta: dict | None = None) -> dict:
    """Acceptance and fallback rates: per row, per caption and per answer, each by reason."""
    rows = len(records)
    fallback = Counter(r["fallback_reason"] for r in records if r["source"] != "llm")
    answers: Counter = Counter()
    transport: Counter = Counter()
    items = Counter()
    for record in records:
        for item in record["items"]:
            outcomes = item["attempts"]
            for outcome in outcomes:
                if outcome.startswith("transport:"):
                    transport[outcome.split(":", 1)[1]] += 1
                else:
                    answers[outcome] += 1
            if item["final"] == ACCEPTED:
                items["accepted_first_try" if len(outcomes) == 1 else "accepted_after_retry"] += 1
            elif item["final"] == "skipped":
                items["skipped"] += 1
            else:
                items["failed"] += 1
    endpoints: dict = {}
    for record in records:
        for name, d in record.get("endpoints", {}).items():
            e = endpoints.setdefault(name, {"sent": 0, "answered": 0, "failures": {}, "marked_down": 0})
            for k in ("sent", "answered", "marked_down"):
                e[k] += d.get(k, 0)
            for kind, n in d.get("failures", {}).items():
                e["failures"][kind] = e["failures"].get(kind, 0) + n
    validated = sum(answers.values())
    rejected = Counter({k: v for k, v in answers.items() if k != ACCEPTED})
    llm_rows = sum(1 for r in records if r["source"] == "llm")
    return {
        **(meta or {}),
        "rows": rows,
        "rows_llm": llm_rows,
        "rows_fallback": rows - llm_rows,
        "llm_rate": round(llm_rows / rows, 4) if rows else 0.0,
        "fallback_rate": round((rows - llm_rows) / rows, 4) if rows else 0.0,
        "fallback_by_reason": _rates(fallback, rows),
        "captions": dict(sorted(items.items())),
        "answers_validated": validated,
        "answers_accepted": answers[ACCEPTED],
        "acceptance_rate": round(answers[ACCEPTED] / validated, 4) if validated else 0.0,
        "rejections_by_reason": _rates(rejected, validated),
        "transport_failures": dict(sorted(transport.items())),
        "requests_sent": sum(r.get("requests", 0) for r in records),
        "cache_hits": sum(r.get("cache_hits", 0) for r in records),
        "asked_again": sum(r.get("asked_again", 0) for r in records),  # cached answers rejected, so sent again
        "endpoints": dict(sorted(endpoints.items())),
    }


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def summary_lines(report: dict) -> list[str]:
    """The build summary's caption section."""
    lines = [f"captions: {report.get('captioner')} ({report.get('model')}, {report.get('prompt_version')})",
             f"  rows: {report['rows']}; llm {report['rows_llm']} ({_pct(report['llm_rate'])}), "
             f"template-fallback {report['rows_fallback']} ({_pct(report['fallback_rate'])})"]
    for reason, v in report["fallback_by_reason"].items():
        lines.append(f"    fallback {reason}: {v['count']} ({_pct(v['rate'])})")
    lines.append(f"  answers validated: {report['answers_validated']}, accepted {report['answers_accepted']} "
                 f"({_pct(report['acceptance_rate'])})")
    for reason, v in report["rejections_by_reason"].items():
        lines.append(f"    rejected {reason}: {v['count']} ({_pct(v['rate'])})")
    if report["transport_failures"]:
        lines.append("  transport failures: " + ", ".join(f"{k} {n}" for k, n in report["transport_failures"].items()))
    again = report.get("asked_again", 0)
    again = f" ({again} of them asked again: their cached answers had been rejected)" if again else ""
    lines.append(f"  requests sent: {report['requests_sent']}{again}, cache hits: {report['cache_hits']}")
    for name, e in report.get("endpoints", {}).items():
        failures = ", ".join(f"{k} {n}" for k, n in e["failures"].items()) or "none"
        lines.append(f"    {name}: sent {e['sent']}, answered {e['answered']}, failures {failures}, "
                     f"marked down {e['marked_down']} time(s)")
    return lines


def card_markdown(report: dict | None, template_version: str) -> str:
    """The dataset card's caption section."""
    if report is None:
        return (f"Every caption and negative was written by the offline template grammar (`{template_version}`, "
                f"`caption_source` = `template`). No LLM was used.")
    lines = [
        f"Captions were written by an LLM (`{report.get('captioner')}` backend, model `{report.get('model')}`, "
        f"prompt `{report.get('prompt_version')}`, described above).",
        "",
        "Every LLM caption (and every negative, against its own perturbed recipe) was validated: each event named, "
        "each modifier expressed by an allowed word, no word of a modifier the recipe lacks, no sound class that is "
        "not in the recipe, events in onset order, relations stated, one sentence of at most 30 words, no preamble, "
        f"quotes or markdown. A rejected caption was retried up to {report.get('max_retries')} time(s), then the "
        f"row's caption and all its negatives were replaced by the template captions (`{template_version}`, "
        "`caption_source` = `template-fallback`), so a row's texts always come from one source.",
        "",
        "| rows | LLM | template-fallback |",
        "|---|---|---|",
        f"| {report['rows']} | {report['rows_llm']} ({_pct(report['llm_rate'])}) | {report['rows_fallback']} "
        f"({_pct(report['fallback_rate'])}) |",
        "",
        f"LLM answers validated: {report['answers_validated']}, accepted {report['answers_accepted']} "
        f"({_pct(report['acceptance_rate'])}).",
        "",
        "| reason | rejected answers | rows that fell back |",
        "|---|---|---|",
    ]
    reasons = sorted(set(report["rejections_by_reason"]) | set(report["fallback_by_reason"]))
    for reason in reasons:
        rej = report["rejections_by_reason"].get(reason)
        fb = report["fallback_by_reason"].get(reason)
        cells = [f"{v['count']} ({_pct(v['rate'])})" if v else "0" for v in (rej, fb)]
        lines.append(f"| `{reason}` | {cells[0]} | {cells[1]} |")
    if not reasons:
        lines.append("| (none) | 0 | 0 |")
    endpoints = report.get("endpoints") or {}
    if endpoints:  # named by a hash of the URL, never the URL
        lines += ["", "| endpoint | requests sent | answered | failures | marked down |", "|---|---|---|---|---|"]
        for name, e in endpoints.items():
            failures = ", ".join(f"{k} {n}" for k, n in e["failures"].items()) or "0"
            lines.append(f"| `{name}` | {e['sent']} | {e['answered']} | {failures} | {e['marked_down']} |")
    return "\n".join(lines)
