"""Rows -> one static, offline HTML page (inline CSS and JS, audio and images as relative files).

Pure: `row_view` turns a dataset row into what the page shows, `render_page` turns views into
HTML. The page's behaviour (judgement buttons, localStorage, export) is `static/audit.js`.
"""

from __future__ import annotations

import hashlib
import html
import json
from importlib import resources

import numpy as np

from ..describe import describe
from ..recipe import Recipe
from ..transforms import detail, length_of, modifier_names, recipe_modifiers

EXPORT_FORMAT = "audiosetmix-audit-judgements"
EXPORT_FORMAT_VERSION = 1
# matplotlib's tab10: the same colour marks an event in the spectrogram and in the recipe table
EVENT_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def sample_indices(num_rows: int, n: int, seed: int) -> list[int]:
    """A seeded sample of row positions without replacement, in dataset order."""
    if num_rows <= 0 or n <= 0:
        return []
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 20240518]))
    return sorted(int(i) for i in rng.choice(num_rows, size=min(n, num_rows), replace=False))


def modifier_text(name: str, params: dict) -> str:
    """'louder (+9.2 dB)', 'slower (tempo x0.61)' ... (the transform module writes the amount)."""
    return detail(name, params)


def recipe_events(recipe: Recipe) -> list[dict]:
    """The recipe as table rows: event, label, onset, duration, modifiers, relation, source segment."""
    described = describe(recipe)
    out = []
    for i, (spec, event) in enumerate(zip(recipe.events, described.events, strict=True)):
        if event.relation is None:
            relation = "first"
        elif event.relation == "follow":
            relation = f"follow (gap {spec.gap:.2f} s)"
        else:
            relation = f"{'background' if event.background else 'overlap'} (starts {100 * spec.overlap_at:.0f} % into #{i})"
        end = min(spec.end, recipe.duration)
        out.append({
            "number": i + 1,
            "label": spec.label,
            "onset": round(spec.onset, 3),
            "end": round(end, 3),
            "duration": round(length_of(spec), 3),
            "modifiers": [modifier_text(name, params) for name, params in sorted(spec.transforms.items())],
            "modifier_names": modifier_names(spec.transforms),
            "relation": relation,
            "relation_kind": "background" if event.background else event.relation,
            "source": f"{spec.event.event_id} [{spec.segment_start:.2f}-{spec.segment_start + spec.segment_duration:.2f} s]",
            "color": EVENT_COLORS[i % len(EVENT_COLORS)],
        })
    return out


def row_view(row: dict, audio_src: str, image_src: str) -> dict:
    """What the page shows of one row (and what its export carries)."""
    recipe = Recipe.from_json(row["recipe"])
    return {
        "id": row["id"],
        "caption": row["caption"],
        "caption_source": row.get("caption_source") or "unknown",
        "prompt_version": row.get("prompt_version") or "",
        "labels": list(row.get("labels") or recipe.labels),
        "modifiers": list(row.get("modifiers") or recipe_modifiers(recipe)),
        "negatives": [{"kind": n["kind"], "caption": n["caption"]} for n in row.get("negatives") or []],
        "duration": round(float(row.get("duration") or recipe.duration), 3),
        "limiter_gain_reduction_db": recipe.limiter_gain_reduction_db,
        "events": recipe_events(recipe),
        "recipe_json": json.dumps(json.loads(row["recipe"]), indent=1, sort_keys=True, ensure_ascii=False),
        "audio_src": audio_src,
        "image_src": image_src,
    }


def page_key(meta: dict, views: list[dict]) -> str:
    """Names this audit in localStorage: same dataset content + sample -> same key, so reloads keep judgements."""
    content = [[v["id"], v["caption"], [n["caption"] for n in v["negatives"]]] for v in views]
    digest = hashlib.sha1(json.dumps([meta.get("dataset"), meta.get("split"), meta.get("seed"), content]).encode()).hexdigest()
    return f"{meta.get('dataset')}/{meta.get('split')}/seed{meta.get('seed')}/{digest[:12]}"


def static_text(name: str) -> str:
    """A file of the audit page's static/ folder (the consistency page shares its CSS)."""
    return resources.files("audiosetmix_lib.audit").joinpath("static", name).read_text(encoding="utf-8")


def _json_for_script(data) -> str:
    """JSON safe inside <script type="application/json"> (no '</script>' or '<!--' break-out)."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _html(text) -> str:
    return html.escape(str(text), quote=True)


def _judge_buttons(row_id: str, target: str, what: str) -> str:
    buttons = []
    for value, mark, title in (("right", "&#10003; right", f"the {what} is right"), ("wrong", "&#10007; wrong", f"the {what} is wrong")):
        buttons.append(f'<button type="button" class="judge judge-{value}" data-row="{_html(row_id)}" data-target="{_html(target)}" '
                       f'data-value="{value}" aria-pressed="false" title="{_html(title)}">{mark}</button>')
    return '<span class="judges">' + "".join(buttons) + "</span>"


def media_html(row_id: str, audio_src: str, image_src: str) -> str:
    """The clip's audio player and its spectrogram with the event spans."""
    return f"""<div class="media">
    <audio controls preload="metadata" src="{_html(audio_src)}"></audio>
    <img class="spectrogram" src="{_html(image_src)}" alt="spectrogram of {_html(row_id)} with its event spans" loading="lazy">
  </div>"""


def recipe_table_html(events: list[dict]) -> str:
    """The recipe's events (`recipe_events`) as a table, coloured as in the spectrogram."""
    rows = "".join(
        f'<tr><td><span class="swatch" style="background:{e["color"]}"></span>{e["number"]}</td><td>{_html(e["label"])}</td>'
        f'<td class="num">{e["onset"]:.2f}</td><td class="num">{e["duration"]:.2f}</td>'
        f'<td>{_html(", ".join(e["modifiers"])) or "&ndash;"}</td><td>{_html(e["relation"])}</td><td class="src">{_html(e["source"])}</td></tr>'
        for e in events)
    return ('<table class="recipe"><thead><tr><th>event</th><th>label</th><th>onset (s)</th><th>duration (s)</th>'
            f'<th>modifiers</th><th>relation</th><th>source segment</th></tr></thead>\n    <tbody>{rows}</tbody></table>')


def _row_html(position: int, view: dict) -> str:
    rid = view["id"]
    meta_bits = [f"{view['duration']:.2f} s", f"caption by <code>{_html(view['caption_source'])}</code>"]
    if view["prompt_version"]:
        meta_bits.append(f"<code>{_html(view['prompt_version'])}</code>")
    if view["limiter_gain_reduction_db"]:
        meta_bits.append(f"limiter {-abs(view['limiter_gain_reduction_db']):.1f} dB")
    negatives = "".join(
        f'<li class="negative" data-kind="{_html(n["kind"])}"><span class="kind kind-{_html(n["kind"])}">{_html(n["kind"])}</span> '
        f'<span class="text">{_html(n["caption"])}</span>{_judge_buttons(rid, f"negative-{i}", "negative")}</li>'
        for i, n in enumerate(view["negatives"]))
    return f"""
<section class="row" id="row-{_html(rid)}" data-row="{_html(rid)}">
  <header><h2><span class="pos">#{position}</span> {_html(rid)}</h2><span class="meta">{' &middot; '.join(meta_bits)}</span>
    <span class="status" data-status-for="{_html(rid)}"></span></header>
  {media_html(rid, view['audio_src'], view['image_src'])}
  <div class="caption"><span class="tag">caption</span> <span class="text">{_html(view['caption'])}</span>{_judge_buttons(rid, "caption", "caption")}</div>
  <div class="negatives"><span class="tag">hard negatives</span> <span class="hint">(right = false for this audio, in the way its kind says)</span>
    <ol>{negatives or '<li class="none">none</li>'}</ol></div>
  {recipe_table_html(view['events'])}
  <details class="raw"><summary>recipe JSON</summary><pre>{_html(view['recipe_json'])}</pre></details>
  <label class="note-label">note <textarea class="note" data-row="{_html(rid)}" rows="2" placeholder="anything a caption or negative gets wrong, audio problems, ..."></textarea></label>
</section>"""


def render_page(views: list[dict], meta: dict) -> str:
    """The whole page. `meta`: dataset, split, seed, n (shown and exported)."""
    meta = dict(meta, page_key=page_key(meta, views), format=EXPORT_FORMAT, format_version=EXPORT_FORMAT_VERSION,
                rows=[{k: v[k] for k in ("id", "caption", "caption_source", "prompt_version", "labels", "modifiers", "negatives")}
                      for v in views])
    title = f"AudioSetMix caption audit: {meta.get('dataset')} / {meta.get('split')} (seed {meta.get('seed')}, {len(views)} rows)"
    rows = "".join(_row_html(i + 1, v) for i, v in enumerate(views))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_html(title)}</title>
<link rel="icon" href="data:,">
<style>
{static_text("audit.css")}
</style>
</head>
<body>
<div id="toolbar">
  <h1>{_html(title)}</h1>
  <div class="controls">
    <span id="progress" aria-live="polite"></span>
    <label><input type="checkbox" id="only-open"> only rows not fully judged</label>
    <button type="button" id="export">Export judgements (JSON)</button>
    <label class="file-button">Import&hellip; <input type="file" id="import" accept="application/json,.json"></label>
    <button type="button" id="clear">Clear all</button>
  </div>
</div>
<main>
<details class="help" open><summary>How to judge</summary>
<p>Listen to each clip and look at its spectrogram: the coloured bars under it are the events of the recipe
(the same colours as in the recipe table). Mark the <b>caption</b> <i>right</i> when it names every event and
every quality correctly and in the right order, otherwise <i>wrong</i>. Mark a <b>hard negative</b> <i>right</i> when it is
false for this audio in exactly the way its kind says (order, modifier, relation, event, missing, extra), and
<i>wrong</i> when it is also true of the audio, or wrong in some other way. Click a pressed button again to undo.
Judgements are saved in this browser as you go (they survive reloads); <b>Export</b> downloads them as JSON for
<code>python audiosetmix.py audit --summarize FILE.json</code>.</p>
</details>
{rows}
</main>
<textarea id="export-json" hidden readonly aria-hidden="true"></textarea>
<script type="application/json" id="audit-meta">{_json_for_script(meta)}</script>
<script>
{static_text("audit.js")}
</script>
</body>
</html>
"""
