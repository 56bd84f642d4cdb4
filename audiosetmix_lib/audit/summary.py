"""An audit page's JSON export -> accuracy per caption source, per modifier and per negative kind (pure)."""

from __future__ import annotations

import math
from collections import defaultdict

from .page import EXPORT_FORMAT

VALUES = ("right", "wrong")
EMPTY = {"judged": 0, "right": 0, "wrong": 0, "open": 0, "accuracy": None, "ci95": None}


def wilson_interval(right: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """95 % Wilson score interval of a proportion (sensible for the ~100-row audits people do by hand)."""
    if n == 0:
        return None
    p = right / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)


class _Tally:
    def __init__(self) -> None:
        self.counts: dict[str, dict[str, int]] = defaultdict(lambda: {"right": 0, "wrong": 0, "open": 0})

    def add(self, key: str, judgement: str | None) -> None:
        self.counts[key][judgement if judgement in VALUES else "open"] += 1

    def result(self) -> dict:
        out = {}
        for key in sorted(self.counts):
            c = self.counts[key]
            judged = c["right"] + c["wrong"]
            out[key] = {"judged": judged, "right": c["right"], "wrong": c["wrong"], "open": c["open"],
                        "accuracy": round(c["right"] / judged, 4) if judged else None,
                        "ci95": wilson_interval(c["right"], judged)}
        return out


def validate_export(export: dict) -> None:
    if not isinstance(export, dict) or export.get("format") != EXPORT_FORMAT or not isinstance(export.get("rows"), list):
        raise ValueError(f"not an AudioSetMix audit export (expected \"format\": {EXPORT_FORMAT!r} and a \"rows\" list)")
    for row in export["rows"]:
        for key in ("id", "caption_source", "modifiers", "caption_judgement", "negatives"):
            if key not in row:
                raise ValueError(f"row {row.get('id', '?')!r} of the export has no {key!r}")
        for value in [row["caption_judgement"], *(n.get("judgement") for n in row["negatives"])]:
            if value not in (None, *VALUES):
                raise ValueError(f"row {row['id']!r}: judgement {value!r} is not one of right, wrong, null")


def summarize(export: dict) -> dict:
    """Caption accuracy overall, per caption source and per modifier (a row counts once per modifier it
    has; `(none)` for rows without one); negative accuracy overall and per kind; notes; coverage."""
    validate_export(export)
    captions, sources, modifiers = _Tally(), _Tally(), _Tally()
    negatives, kinds, negative_sources = _Tally(), _Tally(), _Tally()
    notes = []
    for row in export["rows"]:
        judgement = row["caption_judgement"]
        captions.add("all", judgement)
        sources.add(row["caption_source"], judgement)
        for modifier in sorted(set(row["modifiers"])) or ["(none)"]:
            modifiers.add(modifier, judgement)
        for negative in row["negatives"]:
            negatives.add("all", negative.get("judgement"))
            kinds.add(negative["kind"], negative.get("judgement"))
            negative_sources.add(row["caption_source"], negative.get("judgement"))
        if (row.get("note") or "").strip():
            notes.append({"id": row["id"], "note": row["note"].strip()})
    return {
        "dataset": export.get("dataset"),
        "split": export.get("split"),
        "seed": export.get("seed"),
        "rows": len(export["rows"]),
        "captions": captions.result().get("all", dict(EMPTY)),
        "per_caption_source": sources.result(),
        "per_modifier": modifiers.result(),
        "negatives": negatives.result().get("all", dict(EMPTY)),
        "per_negative_kind": kinds.result(),
        "negatives_per_caption_source": negative_sources.result(),
        "notes": notes,
    }


def _fmt(cell: dict) -> list:
    acc = "-" if cell["accuracy"] is None else f"{100 * cell['accuracy']:.1f} %"
    ci = "-" if not cell["ci95"] else f"{100 * cell['ci95'][0]:.0f}-{100 * cell['ci95'][1]:.0f} %"
    return [cell["judged"], cell["right"], cell["wrong"], acc, ci, cell["open"]]


def summary_markdown(summary: dict) -> str:
    header = "| {} | judged | right | wrong | accuracy | 95 % CI | not judged |\n|---|---|---|---|---|---|---|"
    out = [f"# Caption audit: {summary.get('dataset')} / {summary.get('split')} (seed {summary.get('seed')}, {summary['rows']} rows)", ""]

    def table(title: str, name: str, cells: dict) -> None:
        out.extend([f"## {title}", "", header.format(name)])
        out.extend("| " + " | ".join(str(c) for c in [key, *_fmt(cell)]) + " |" for key, cell in cells.items())
        out.append("")

    table("Captions", "", {"all captions": summary["captions"]})
    table("Captions per caption source", "caption_source", summary["per_caption_source"])
    table("Captions per modifier (rows with that modifier)", "modifier", summary["per_modifier"])
    table("Hard negatives (right = a valid negative)", "", {"all negatives": summary["negatives"]})
    table("Hard negatives per kind", "kind", summary["per_negative_kind"])
    table("Hard negatives per caption source", "caption_source", summary["negatives_per_caption_source"])
    if summary["notes"]:
        out += ["## Notes", ""] + [f"- `{n['id']}`: {n['note']}" for n in summary["notes"]] + [""]
    return "\n".join(out)
