"""verify.json (every row's claims, measured value beside threshold) and verify.md (pass rates, worst rows)."""

from __future__ import annotations

import shlex
from collections import Counter, defaultdict

from .claims import (
    AUDIBLE_LOW_HZ,
    AUDIBLE_MIN_SHARE,
    BACKGROUND_MIN_DB,
    FOLLOW_TOLERANCE_S,
    ORDER_MIN_S,
    OVERLAP_MIN_S,
    PRESENCE_BELOW_REFERENCE_DB,
)
from .row import RowResult

WORST_ROWS = 10
THRESHOLDS = {
    "rerender": "stored 16-bit PCM = re-render, 0 samples differing",
    "presence": f"the event alone in its clip, above {AUDIBLE_LOW_HZ:g} Hz: active RMS (the renderer's level) at most "
                f"{PRESENCE_BELOW_REFERENCE_DB:g} dB under the reference level",
    "audible": f">= {AUDIBLE_MIN_SHARE:g} of the event's energy above {AUDIBLE_LOW_HZ:g} Hz in STFT cells where it is "
               f"louder than all other events",
    "order": f"envelope onset >= {ORDER_MIN_S:g} s after the earlier event's",
    "follow": f"onset >= the earlier event's end (tail 30 dB under its peak) - {FOLLOW_TOLERANCE_S:g} s",
    "overlap": f"active spans (20 ms frames within 30 dB of the peak) overlap >= {OVERLAP_MIN_S:g} s (or the whole shorter one)",
    "background": f"active RMS >= {BACKGROUND_MIN_DB:g} dB under the event it overlaps",
    "modifier": "the transform's own check (threshold per claim in verify.json)",
    "caption": "the caption has a word of each modifier and relation of the recipe, none of a modifier's opposite",
    "wording": "each modifier a negative did not change: the same phrases in the negative as in the caption",
}


def tally(results: list[RowResult]) -> dict:
    """Checked and failed claims per claim kind and per modifier (transform:direction), and rows."""
    kinds, modifiers = defaultdict(Counter), defaultdict(Counter)
    for result in results:
        for claim in result.claims:
            kinds[claim.kind]["checked"] += 1
            kinds[claim.kind]["failed"] += not claim.passed
            if claim.kind == "modifier":
                modifiers[claim.key]["checked"] += 1
                modifiers[claim.key]["failed"] += not claim.passed
    failed_rows = sum(not r.passed for r in results)
    return {"rows": len(results), "failed_rows": failed_rows,
            "sound_measured_rows": sum(r.measured_sound for r in results),
            "claims": {k: dict(v) for k, v in sorted(kinds.items())},
            "modifiers": {k: dict(v) for k, v in sorted(modifiers.items())}}


def report_json(results: list[RowResult], meta: dict) -> dict:
    return {**meta, "thresholds": THRESHOLDS, "summary": tally(results), "rows": [r.to_dict() for r in results]}


def _rate(counts: dict) -> str:
    checked, failed = counts.get("checked", 0), counts.get("failed", 0)
    return f"| {checked} | {failed} | {100 * (checked - failed) / checked:.2f} % |" if checked else "| 0 | 0 | - |"


def render_command(dataset_dir: str, row_id: str, clip: str) -> str:
    """The `render` command that writes the clip a failing claim was measured on."""
    parts = ["python", "audiosetmix.py", "render", "--dataset_dir", str(dataset_dir), "--id", row_id]
    if clip.startswith("negative "):
        k = clip.split()[1]
        parts += ["--negative", k, "--out", f"{row_id}-negative-{k}.wav"]
    else:
        parts += ["--out", f"{row_id}.wav"]
    return shlex.join(parts)


def worst_rows(results: list[RowResult], n: int = WORST_ROWS) -> list[RowResult]:
    """Failing rows, most failed claims first (ties by id)."""
    return sorted((r for r in results if not r.passed), key=lambda r: (-len(r.failed), r.id))[:n]


def report_markdown(results: list[RowResult], meta: dict) -> str:
    summary = tally(results)
    lines = [f"# verify: {meta['dataset']}", "",
             f"Rows checked: {summary['rows']} ({', '.join(meta['splits'])}; {meta['selection']}); "
             f"rows with a failing claim: {summary['failed_rows']}.", ""]
    if meta.get("source_note"):
        lines += [f"**{meta['source_note']}**", ""]
    lines += ["## Pass rate per claim kind", "", "| claim | checked | failed | passed | threshold |", "|---|---|---|---|---|"]
    lines += [f"| {kind} {_rate(counts)} {THRESHOLDS.get(kind, '')} |" for kind, counts in summary["claims"].items()]
    lines += ["", "## Pass rate per transform and direction", "", "| modifier | checked | failed | passed |", "|---|---|---|---|"]
    lines += [f"| {key} {_rate(counts)}" for key, counts in summary["modifiers"].items()]
    worst = worst_rows(results)
    lines += ["", f"## Worst rows ({len(worst)} of {summary['failed_rows']} failing)", ""]
    if not worst:
        lines.append("Every checked claim passed.")
    for result in worst:
        lines += [f"### {result.id}: {len(result.failed)} failing claim(s)", ""]
        for claim in result.failed:
            measured = "n/a" if claim.to_dict()["measured"] is None else f"{claim.to_dict()['measured']:g}"
            lines.append(f"- {claim.clip}, {claim.subject}: {claim.claim}: measured {measured} {claim.unit}, "
                         f"threshold {claim.threshold:g}")
        clips = sorted({c.clip for c in result.failed if c.kind != "wording"})
        lines += [""] + [f"    {render_command(meta['dataset_dir'], result.id, clip)}" for clip in clips] + [""]
    return "\n".join(lines) + "\n"
