"""Dataset statistics: pure functions over rows (no audio needed) and over caption lists.

A row is the dataset row without its audio (`id`, `caption`, `caption_source`,
`prompt_version`, `negatives`, `labels`, `modifiers`, `recipe`, `duration`). Everything about
events, modifiers and relations is read from the recipe through the describer, so the
statistics count exactly what the captions were written from (the *realised* plan, after
fitting it into the clip).

    stats = dataset_stats({"train": rows_a, "test": rows_b}, reference=caption_stats(captions))
    print(stats_markdown(stats))

Plots live in `stats_plots` (matplotlib); the command in `stats_cli`.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping

from .describe import describe
from .recipe import Recipe
from .relations import RELATIONS, STATS_WORD_GROUPS
from .transforms import DIRECTIONS, MODIFIER_NAMES, TRANSFORM_NAMES, TRANSFORMS, default_settings

STATS_VERSION = 2

# Words (and phrases) that express each kind of modifier or relation in a caption, from the
# transform modules and `relations`. Matching is on whole lower-cased tokens, so "as" does not
# match "gas" and "long" does not match "along".
def word_groups() -> dict[str, tuple[str, ...]]:
    """group -> its words: each registered transform's STATS_WORDS, then the relations' groups."""
    return {**{name: module.STATS_WORDS for name, module in TRANSFORMS.items()}, **STATS_WORD_GROUPS}


# The same rates measured with `word_groups()` on all 57,188 AudioCaps v1 captions (train + val +
# test; Kim et al., NAACL 2019): a fixed reference for cards built without the CSV at hand.
# Recompute with `audiosetmix.py stats --reference_captions train.csv val.csv test.csv`.
AUDIOCAPS_REFERENCE = {
    "name": "AudioCaps v1 (57,188 captions)",
    "captions": 57188,
    "mean_words": 8.80,
    "word_groups": {"volume": 0.1086, "pitch": 0.0103, "speed": 0.0284, "duration": 0.0376, "order": 0.2495,
                    "overlap": 0.2299},
}

DURATION_PERCENTILES = (10, 50, 90)
TOKEN = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")


def words(text: str) -> list[str]:
    """Lower-cased word tokens; hyphenated words ("tick-tock") stay one token."""
    return TOKEN.findall(str(text).lower())


def word_groups_in(text: str) -> set[str]:
    """The modifier word groups a caption uses (whole-word, phrase-aware matching)."""
    padded = " " + " ".join(words(text)) + " "
    return {group for group, phrases in word_groups().items() if any(f" {p} " in padded for p in phrases)}


def _summary(values: list[float], digits: int = 3) -> dict:
    """count, mean, std, min, percentiles, max of a list (empty -> zeros)."""
    if not values:
        return {"count": 0, "mean": 0.0, "std": 0.0, "min": 0.0, **{f"p{q}": 0.0 for q in DURATION_PERCENTILES}, "max": 0.0}
    ordered = sorted(values)
    n = len(ordered)
    mean = sum(ordered) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in ordered) / n)

    def percentile(q: float) -> float:  # linear interpolation (numpy's default)
        position = (n - 1) * q / 100
        low = math.floor(position)
        high = min(low + 1, n - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)

    out = {"count": n, "mean": round(mean, digits), "std": round(std, digits), "min": round(ordered[0], digits)}
    out.update({f"p{q}": round(percentile(q), digits) for q in DURATION_PERCENTILES})
    out["max"] = round(ordered[-1], digits)
    return out


def _sorted_counts(counter: Counter) -> dict:
    """Most frequent first, ties by key: a stable order for JSON, tables and plots."""
    return {str(k): int(v) for k, v in sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))}


def _int_keys(counter: Counter) -> dict:
    return {str(k): int(counter[k]) for k in sorted(counter)}


class CaptionAccumulator:
    """Caption statistics gathered one caption at a time."""

    def __init__(self) -> None:
        self.count = 0
        self.lengths: Counter = Counter()
        self.vocabulary: Counter = Counter()
        self.groups: Counter = Counter()

    def add(self, caption: str) -> None:
        tokens = words(caption)
        self.count += 1
        self.lengths[len(tokens)] += 1
        self.vocabulary.update(tokens)
        self.groups.update(word_groups_in(caption))

    def result(self, top_words: int = 25) -> dict:
        lengths = [n for n, c in self.lengths.items() for _ in range(c)]
        rate = (lambda n: round(n / self.count, 4)) if self.count else (lambda n: 0.0)
        return {
            "count": self.count,
            "words": _summary([float(n) for n in lengths], 2),
            "length_histogram": _int_keys(self.lengths),
            "vocabulary_size": len(self.vocabulary),
            "tokens": int(sum(self.vocabulary.values())),
            "top_words": [[w, int(n)] for w, n in sorted(self.vocabulary.items(), key=lambda kv: (-kv[1], kv[0]))[:top_words]],
            "word_groups": {g: rate(self.groups[g]) for g in word_groups()},
            "word_group_counts": {g: int(self.groups[g]) for g in word_groups()},
        }


def caption_stats(captions: Iterable[str], top_words: int = 25) -> dict:
    """Length (words), vocabulary, and how often each modifier word group appears (fraction of captions)."""
    acc = CaptionAccumulator()
    for caption in captions:
        acc.add(caption)
    return acc.result(top_words)


def _recipe(value) -> Recipe:
    if isinstance(value, Recipe):
        return value
    if isinstance(value, str):
        return Recipe.from_json(value)
    return Recipe.from_dict(value)


class SplitAccumulator:
    """Every statistic of one split (or of all splits together), gathered one row at a time."""

    def __init__(self) -> None:
        self.background_dbs: set = set()  # the recipes' own describe settings
        self.rows = 0
        self.durations: list[float] = []
        self.events_per_clip: Counter = Counter()
        self.classes: Counter = Counter()
        self.class_clips: Counter = Counter()
        self.modifiers: Counter = Counter()  # (transform, direction) -> events
        self.modifiers_per_event: Counter = Counter()
        self.clips_with_modifier = 0
        self.relations: Counter = Counter()
        self.negative_kinds: Counter = Counter()
        self.negatives_per_row: Counter = Counter()
        self.caption_sources: Counter = Counter()
        self.prompt_versions: Counter = Counter()
        self.captions = CaptionAccumulator()
        self.limited_clips = 0

    def add(self, row: Mapping) -> None:
        recipe = _recipe(row["recipe"])
        description = describe(recipe)
        self.background_dbs.add(recipe.describe["background_db"])
        self.rows += 1
        self.durations.append(float(row["duration"]) if row.get("duration") is not None else recipe.duration)
        self.events_per_clip[len(description.events)] += 1
        labels = [e.label for e in description.events]
        self.classes.update(labels)
        self.class_clips.update(set(labels))
        any_modifier = False
        for event in description.events:
            self.modifiers.update(event.modifiers)
            self.modifiers_per_event[len(event.modifiers)] += 1
            any_modifier = any_modifier or bool(event.modifiers)
            if event.relation is not None:
                self.relations["background" if event.background else event.relation] += 1
        self.clips_with_modifier += any_modifier
        if (recipe.limiter_gain_reduction_db or 0.0) > 0.0:
            self.limited_clips += 1
        negatives = row.get("negatives") or []
        self.negatives_per_row[len(negatives)] += 1
        self.negative_kinds.update(n["kind"] for n in negatives)
        self.caption_sources[row.get("caption_source") or "unknown"] += 1
        self.prompt_versions[row.get("prompt_version") or "unknown"] += 1
        self.captions.add(row["caption"])

    def result(self) -> dict:
        events = sum(self.classes.values())
        modifiers = {t: {d: int(self.modifiers[(t, d)]) for d in DIRECTIONS} for t in TRANSFORM_NAMES}
        duration = _summary(self.durations, 3)
        bins = Counter(max(1, math.ceil(round(d, 6))) for d in self.durations)  # "k": k-1 < duration <= k
        return {
            "rows": self.rows,
            "hours": round(sum(self.durations) / 3600, 4),
            "duration_seconds": duration,
            "duration_histogram": _int_keys(bins),
            "events": events,
            "events_per_clip": _int_keys(self.events_per_clip),
            "mean_events_per_clip": round(events / self.rows, 3) if self.rows else 0.0,
            "classes": _sorted_counts(self.classes),
            "class_clips": _sorted_counts(self.class_clips),
            "num_classes": len(self.classes),
            "modifiers": modifiers,
            "modifier_names": {MODIFIER_NAMES[(t, d)]: modifiers[t][d] for t in TRANSFORM_NAMES for d in DIRECTIONS},
            "transform_rates": {t: round(sum(modifiers[t].values()) / events, 4) if events else 0.0 for t in TRANSFORM_NAMES},
            "modifiers_per_event": _int_keys(self.modifiers_per_event),
            "clips_with_modifier": self.clips_with_modifier,
            "relations": {r: int(self.relations[r]) for r in RELATIONS},
            "negative_kinds": _sorted_counts(self.negative_kinds),
            "negatives_per_row": _int_keys(self.negatives_per_row),
            "caption_sources": _sorted_counts(self.caption_sources),
            "prompt_versions": _sorted_counts(self.prompt_versions),
            "limited_clips": self.limited_clips,
            "captions": self.captions.result(),
        }


def _background_text(stats: dict) -> str:
    """The recipes' background threshold(s) in dB, as stored in their describe settings."""
    values = stats.get("background_db") or []
    values = values if isinstance(values, list) else [values]
    return " / ".join(f"{v:g}" for v in values) or "the recipe's"


def split_stats(rows: Iterable[Mapping]) -> dict:
    """Statistics of one split's rows."""
    acc = SplitAccumulator()
    for row in rows:
        acc.add(row)
    return acc.result()


def dataset_stats(splits: Mapping[str, Iterable[Mapping]], caption_report: dict | None = None,
                  reference: dict | None = None, reference_name: str | None = None) -> dict:
    """Per split and over all splits; `caption_report` (caption_report.json) and `reference`
    (`caption_stats` of reference captions) are carried along as given."""
    total = SplitAccumulator()
    per_split = {}
    for name, rows in splits.items():
        acc = SplitAccumulator()
        for row in rows:
            acc.add(row)
            total.add(row)
        per_split[name] = acc.result()
    stats = {"stats_version": STATS_VERSION, "background_db": sorted(total.background_dbs), "splits": per_split, "all": total.result(),
             "word_groups": {g: list(p) for g, p in word_groups().items()}}
    if caption_report is not None:
        stats["caption_report"] = caption_report
    if reference is not None:
        stats["reference"] = dict(reference, name=reference_name or reference.get("name", "reference"))
    return stats


# ---------------------------------------------------------------------------- Markdown


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def _columns(stats: dict) -> list[tuple[str, dict]]:
    columns = list(stats["splits"].items())
    if len(columns) > 1:
        columns.append(("all", stats["all"]))
    return columns


def stats_markdown(stats: dict, level: int = 2, max_classes: int = 30, title: str | None = None) -> str:
    """A Markdown summary: one column per split (plus `all`), and the reference side by side."""
    h = "#" * level
    columns = _columns(stats)
    names = [n for n, _ in columns]
    out: list[str] = []
    if title:
        out += ["#" * (level - 1) + " " + title if level > 1 else title, ""]

    out += [f"{h} Overview", ""]
    rows = [
        ["rows"] + [s["rows"] for _, s in columns],
        ["hours"] + [f"{s['hours']:.2f}" for _, s in columns],
        ["events"] + [s["events"] for _, s in columns],
        ["events per clip (mean)"] + [f"{s['mean_events_per_clip']:.2f}" for _, s in columns],
        ["classes"] + [s["num_classes"] for _, s in columns],
        ["clips with a modifier"] + [_pct(s["clips_with_modifier"], s["rows"]) for _, s in columns],
        ["clips the limiter touched"] + [_pct(s["limited_clips"], s["rows"]) for _, s in columns],
    ]
    out += _table(["", *names], rows) + [""]

    out += [f"{h} Clip length (seconds)", ""]
    keys = ["mean", "std", "min", *[f"p{q}" for q in DURATION_PERCENTILES], "max"]
    out += _table(["", *names], [[k] + [f"{s['duration_seconds'][k]:.2f}" for _, s in columns] for k in keys]) + [""]

    out += [f"{h} Events per clip (realised)", "",
            "The number of events in each clip's recipe after the plan was fitted into the clip "
            "(sampled as n ~ U{min_events..max_events}; nothing is dropped, so this is also the sampled n "
            "unless a split has fewer classes than n).", ""]
    counts = sorted({int(k) for _, s in columns for k in s["events_per_clip"]})
    out += _table(["events", *names], [[k] + [f"{s['events_per_clip'].get(str(k), 0)} ({_pct(s['events_per_clip'].get(str(k), 0), s['rows'])})"
                                              for _, s in columns] for k in counts]) + [""]

    out += [f"{h} Modifiers (events with each transform)", ""]
    rows = []
    for t in TRANSFORM_NAMES:
        for d in DIRECTIONS:
            rows.append([t, d, MODIFIER_NAMES[(t, d)]] + [f"{s['modifiers'][t][d]} ({_pct(s['modifiers'][t][d], s['events'])})" for _, s in columns])
    out += _table(["transform", "direction", "modifier", *names], rows)
    defaults = ", ".join(f"{t} {settings.probability:g}" for t, settings in default_settings().items())
    out += ["", f"Share of events with each transform (each transform's own probability; by default {defaults}): "
            + ", ".join(f"{t} {100 * stats['all']['transform_rates'][t]:.1f} %" for t in TRANSFORM_NAMES) + ".", ""]

    out += [f"{h} Relations (events after the first)", "",
            "`follow`: starts after the previous events end; `overlap`: starts inside the previous event; "
            f"`background`: an overlap at least {_background_text(stats)} dB below the event it overlaps "
            "(counted here, not under `overlap`).", ""]
    out += _table(["relation", *names], [[r] + [f"{s['relations'][r]} ({_pct(s['relations'][r], sum(s['relations'].values()))})"
                                                for _, s in columns] for r in RELATIONS]) + [""]

    out += [f"{h} Hard negatives", ""]
    kinds = list(stats["all"]["negative_kinds"])
    out += _table(["kind", *names], [[k] + [s["negative_kinds"].get(k, 0) for _, s in columns] for k in kinds])
    out += ["", "Negatives per row: " + ", ".join(f"{k}: {n}" for k, n in stats["all"]["negatives_per_row"].items()) + ".", ""]

    classes = stats["all"]["classes"]
    out += [f"{h} Classes (events)", ""]
    shown = list(classes)[:max_classes]
    out += _table(["class", *names, "clips (all)"],
                  [[c.replace("|", "\\|")] + [s["classes"].get(c, 0) for _, s in columns] + [stats["all"]["class_clips"].get(c, 0)] for c in shown])
    if len(classes) > len(shown):
        out += ["", f"... and {len(classes) - len(shown)} more classes (see stats.json)."]
    out += [""]

    out += [f"{h} Captions", ""]
    reference = stats.get("reference")
    cap_cols = [(n, s["captions"]) for n, s in columns]
    if reference:
        cap_cols.append((f"reference: {reference['name']}", reference))
    rows = [
        ["captions"] + [c["count"] for _, c in cap_cols],
        ["words (mean)"] + [f"{c['words']['mean']:.1f}" for _, c in cap_cols],
        ["words (median)"] + [f"{c['words']['p50']:.0f}" for _, c in cap_cols],
        ["words (min-max)"] + [f"{c['words']['min']:.0f}-{c['words']['max']:.0f}" for _, c in cap_cols],
        ["vocabulary (distinct words)"] + [c["vocabulary_size"] for _, c in cap_cols],
    ]
    out += _table(["", *[n for n, _ in cap_cols]], rows) + [""]
    out += [f"{h} Modifier words in captions", "",
            "Share of captions with at least one word of each group (whole words; lists in `word_groups` of stats.json)."
            + ("" if reference else f" The last column is {AUDIOCAPS_REFERENCE['name']}, measured with the same lists."), ""]
    ref_rates = reference["word_groups"] if reference else AUDIOCAPS_REFERENCE["word_groups"]
    ref_name = f"reference: {reference['name']}" if reference else AUDIOCAPS_REFERENCE["name"]
    out += _table(["words", *[n for n, _ in columns], ref_name],
                  [[f"{g} ({', '.join(phrases[:4])}...)"] + [f"{100 * s['captions']['word_groups'][g]:.1f} %" for _, s in columns]
                   + [f"{100 * ref_rates[g]:.1f} %" if g in ref_rates else "n/a"] for g, phrases in word_groups().items()]) + [""]

    out += [f"{h} Caption sources", ""]
    sources = list(stats["all"]["caption_sources"])
    out += _table(["caption_source", *names], [[src] + [s["caption_sources"].get(src, 0) for _, s in columns] for src in sources])
    out += ["", "Prompt versions: " + ", ".join(f"`{k}` ({n})" for k, n in stats["all"]["prompt_versions"].items()) + ".", ""]
    report = stats.get("caption_report")
    if report is not None:
        out += [f"{h} Caption validation report", "", "From `caption_report.json` (as written by the build):", "",
                "```json", json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False), "```", ""]
    return "\n".join(out).rstrip() + "\n"
