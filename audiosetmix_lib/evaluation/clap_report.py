"""metrics.md: an evaluation's numbers as Markdown tables, one section per measurement."""

from __future__ import annotations

import math
from pathlib import Path


def fmt(x, digits=3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def ci_text(ci) -> str:
    return f"[{fmt(ci[0])}, {fmt(ci[1])}]"


def retrieval_section(retrieval: dict) -> list[str]:
    ks = [k for k in retrieval["text_to_audio"] if k.startswith("R@")]
    lines = ["## Retrieval", "", "| direction | " + " | ".join(ks) + " | mAP@10 | median rank |", "|---|" + "---:|" * (len(ks) + 2)]
    for direction in ("text_to_audio", "audio_to_text"):
        r = retrieval[direction]
        lines.append(f"| {direction.replace('_', '-')} | " + " | ".join(fmt(r[k]) for k in ks)
                     + f" | {fmt(r['mAP@10'])} | {fmt(r['median_rank'], 1)} |")
    return lines + [""]


def accuracy_rows(table: dict) -> list[str]:
    return [f"| {kind} | {fmt(r['accuracy'])} | {ci_text(r['ci95'])} | {r['count']} |" for kind, r in table.items()]


def modifier_section(metrics: dict) -> list[str]:
    modifier, meta = metrics["modifier_accuracy"], metrics["meta"]
    lines = ["## Modifier accuracy (true caption vs one hard negative; chance 0.5; ties miss)", "",
             f"Bootstrap 95% CI: {meta['bootstrap_resamples']} resamples, seed {meta['seed']}.", "",
             "| kind | accuracy | 95% CI | pairs |", "|---|---:|---|---:|",
             f"| **all** | {fmt(modifier['accuracy'])} | {ci_text(modifier['ci95'])} | {modifier['count']} |"]
    lines += accuracy_rows(modifier["per_kind"])
    refined = {k: v for k, v in metrics.get("modifier_accuracy_detail", {}).get("per_kind", {}).items() if ":" in k}
    if refined:
        lines += ["", "Per transform and direction (`modifier:louder`: the clip has a louder event, the negative says quieter) "
                  "and per true relation (`relation:follow`: the clip says \"followed by\", the negative \"while\"):", "",
                  "| kind | accuracy | 95% CI | pairs |", "|---|---:|---|---:|"]
        lines += accuracy_rows(refined)
    return lines + [""]


def score_cell(entry: dict) -> str:
    if not entry or entry["value"] is None:
        return "–"
    return f"{entry['value']:.3f} [{fmt(entry['ci95'][0], 2)}, {fmt(entry['ci95'][1], 2)}]"


def group_section(group: dict) -> list[str]:
    """Raw and bias-corrected scores side by side, a row per kind and direction."""
    scores = group["scores"]
    lines = ["## Text, audio and group scores (Winoground / CompA), raw | bias-corrected", "",
             f"{group['pairs']} (clip, negative) pairs, {group['quadruples']} with the negative's counterfactual clip x'. "
             "pairwise: s(x,c) > s(x,c'); text: and s(x',c') > s(x',c); audio: s(x,c) > s(x',c) and s(x',c') > s(x,c'); "
             "group: text and audio. Bias-corrected: each caption's mean similarity to all clips of the split and each "
             "clip's mean similarity to all captions of the split subtracted (caption priors act on the text side, clip "
             "priors on the audio side). Chance: pairwise 0.5, text and audio 0.25, group 1/6 for a random scorer.", ""]
    if scores == ["pairwise"]:
        lines += ["No counterfactual clips in this split: the text-side pairwise score only.", ""]
    heads = [f"{s} raw | {s} corr." for s in scores]
    lines += ["| kind | pairs | quads | " + " | ".join(heads) + " |", "|---|---:|---:|" + "---:|" * (2 * len(scores))]
    for name, cells in group["per_group"].items():
        quads = cells["raw"].get("text", {}).get("count", 0)
        row = [f"{score_cell(cells['raw'].get(s))} | {score_cell(cells['corrected'].get(s))}" for s in scores]
        lines.append(f"| {name} | {cells['raw']['pairwise']['count']} | {quads} | " + " | ".join(row) + " |")
    return lines + [""]


def zero_shot_section(zero: dict) -> list[str]:
    lines = ["## Zero-shot classification", "",
             f"`{zero['dataset']}`: {zero['num_clips']} clips, {zero['num_classes']} classes (chance {fmt(zero['chance'])}); "
             "a clip is right when its class scores strictly above all others.", "",
             "| prompt | example | accuracy |", "|---|---|---:|"]
    for name, r in zero["by_prompt"].items():
        example = next(iter(r["prompts"].values()))
        mark = " (headline)" if name == zero["prompt"] else ""
        lines.append(f"| {name}{mark} | {example} | {fmt(r['accuracy'])} |")
    return lines + [""]


def write_markdown(path: Path, metrics: dict) -> None:
    meta = metrics["meta"]
    lines = [f"# Evaluation of `{meta['model']}`", "",
             f"Dataset `{meta['dataset']}`, split `{meta['split']}`: {meta['num_audio']} clips, {meta['num_captions']} captions. "
             f"Features: {meta['features']}.", ""]
    if metrics.get("retrieval"):
        lines += retrieval_section(metrics["retrieval"])
    if metrics.get("modifier_accuracy"):
        lines += modifier_section(metrics)
    if metrics.get("group_scores"):
        lines += group_section(metrics["group_scores"])
    if metrics.get("zero_shot"):
        lines += zero_shot_section(metrics["zero_shot"])
    path.write_text("\n".join(lines))

