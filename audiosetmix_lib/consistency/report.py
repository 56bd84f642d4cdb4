"""consistency.json -> consistency.md, consistency.png and the page of the least consistent recipes."""

from __future__ import annotations

import html
from pathlib import Path

from ..audit.cli import write_audio
from ..audit.page import media_html, recipe_events, recipe_table_html, static_text
from ..audit.spectrogram import write_spectrogram
from .facts import FACT_KINDS

PAGE = "least_consistent.html"


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _num(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def markdown(summary: dict) -> str:
    lines = [f"# Caption consistency: {summary['dataset']}", "",
             f"{summary['n']} recipes, {summary['runs_per_model']} runs per model, temperature {summary['temperature']}, "
             f"captioner `{summary['captioner']}`, prompt `{summary['prompt_version']}`, sample seed {summary['seed']}.", "",
             "## Per run (raw first answers, before validation)", "",
             "| model | seed | accepted | missing modifier | opposite modifier | missing event | order wrong | kept (LLM) | reasons |",
             "|---|---|---|---|---|---|---|---|---|"]
    for run in summary["runs"]:
        reasons = ", ".join(f"{r} {_pct(v)}" for r, v in run["reason_rates"].items()) or "none"
        lines.append(f"| {run['model']} | {run['seed']} | {_pct(run['accepted_rate'])} | {_pct(run['missing_modifier_rate'])} | "
                     f"{_pct(run['opposite_modifier_rate'])} | {_pct(run['missing_event_rate'])} | {_pct(run['order_rate'])} | "
                     f"{_pct(run['kept_rate'])} | {reasons} |")
    lines += ["", "## Agreement across runs and diversity", "",
              "| model | same facts | kept alike | " + " | ".join(f"kappa {k}" for k in FACT_KINDS) +
              " | distinct-1 | distinct-2 | self-BLEU |", "|---" * (6 + len(FACT_KINDS)) + "|"]
    for model, figures in summary["models"].items():
        a, d = figures["agreement"], figures["diversity"]
        kappas = " | ".join(_num(a["kappa"][k]) for k in FACT_KINDS)
        lines.append(f"| {model} | {_pct(a['fact_agreement'])} | {_pct(a['kept_agreement'])} | {kappas} | "
                     f"{_num(d['distinct_1'])} | {_num(d['distinct_2'])} | {_num(d['self_bleu'])} |")
        t = d["template"]
        lines.append(f"| template (same recipes) | | | {' | '.join('' for _ in FACT_KINDS)} | {_num(t['distinct_1'])} | "
                     f"{_num(t['distinct_2'])} | {_num(t['self_bleu'])} |")
    lines += ["", "Kappa is n/a where it is undefined (every answer gave every fact of that kind the same state).",
              f"The least consistent recipes, with every run's answer: [{PAGE}]({PAGE}). What each figure means: "
              "docs/consistency.md.", ""]
    return "\n".join(lines)


def write_plot(summary: dict, path: Path) -> Path:
    """Per run: accepted rate and reason rates; per fact kind and model: share of recipes whose runs agree."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = summary["runs"]
    reasons = sorted({r for run in runs for r in run["reason_rates"]})
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    labels = [f"{run['model']}\nrun {sum(r['model'] == run['model'] for r in runs[:i]) + 1}" for i, run in enumerate(runs)]
    width = 0.8 / (1 + len(reasons))
    for j, name in enumerate(["accepted", *reasons]):
        values = [run["accepted_rate"] if name == "accepted" else run["reason_rates"].get(name, 0.0) for run in runs]
        left.bar([i + j * width for i in range(len(runs))], [v or 0.0 for v in values], width, label=name)
    left.set_xticks([i + 0.4 - width / 2 for i in range(len(runs))], labels, fontsize=7)
    left.set_ylabel("share of raw answers")
    left.set_title("per run")
    left.legend(fontsize=7)
    models = list(summary["models"])
    width = 0.8 / max(1, len(models))
    for j, model in enumerate(models):
        by_kind = summary["models"][model]["agreement"]["by_kind"]
        right.bar([i + j * width for i in range(len(FACT_KINDS))], [by_kind[k] or 0.0 for k in FACT_KINDS], width, label=model)
    right.set_xticks([i + 0.4 - width / 2 for i in range(len(FACT_KINDS))], FACT_KINDS)
    right.set_ylim(0, 1.05)
    right.set_ylabel("share of recipes whose runs agree")
    right.set_title("agreement per fact kind")
    right.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _entry_html(entry: dict, audio_src: str, image_src: str, events: list[dict]) -> str:
    answers = "".join(
        f'<li><span class="kind">{_e(a["model"])} seed {a["seed"]}</span> <span class="text">{_e(a["answer"])}</span> '
        f'<span class="hint">{_e(", ".join(a["reasons"]) or "accepted")}{"" if a["kept"] else " &middot; fell back"}</span></li>'
        for a in entry["answers"])
    return f"""
<section class="row" id="row-{_e(entry['id'])}">
  <header><h2>{_e(entry['id'])}</h2><span class="meta">{entry['distinct_fact_sets']} different fact sets over
    {len(entry['answers'])} answers</span></header>
  {media_html(entry['id'], audio_src, image_src)}
  <div class="caption"><span class="tag">template</span> <span class="text">{_e(entry['template'])}</span></div>
  <div class="negatives"><span class="tag">answers</span><ol>{answers}</ol></div>
  {recipe_table_html(events)}
</section>"""


def write_page(entries: list[dict], rows: dict[str, dict], recipes: dict, output_dir: Path, title: str) -> Path:
    """The least consistent recipes: audio, spectrogram, the runs' answers side by side with their reasons."""
    (output_dir / "audio").mkdir(parents=True, exist_ok=True)
    (output_dir / "spectrograms").mkdir(exist_ok=True)
    sections = []
    for entry in entries:
        audio_src, samples, sample_rate = write_audio(output_dir / "audio", rows[entry["id"]], "flac")
        events = recipe_events(recipes[entry["id"]])
        image_src = f"spectrograms/{entry['id']}.png"
        write_spectrogram(output_dir / image_src, samples, sample_rate, events, recipes[entry["id"]].duration,
                          title=entry["id"])
        sections.append(_entry_html(entry, audio_src, image_src, events))
    body = "".join(sections) or "<p>Every run said the same facts of every recipe, and every answer was accepted.</p>"
    page = output_dir / PAGE
    page.write_text(f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title><link rel="icon" href="data:,">
<style>
{static_text("audit.css")}
</style></head>
<body><div id="toolbar"><h1>{_e(title)}</h1></div><main>{body}</main></body></html>
""", encoding="utf-8")
    return page
