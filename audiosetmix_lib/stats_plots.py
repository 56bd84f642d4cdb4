"""PNG plots of a `stats.dataset_stats` result (matplotlib, no pyplot state, no display).

Every plot is a function of the statistics dictionary alone (also after a JSON round-trip),
so `stats.json` can be re-plotted later.
"""

from __future__ import annotations

from pathlib import Path

from .stats import AUDIOCAPS_REFERENCE, RELATIONS, word_groups
from .transforms import DIRECTIONS, MODIFIER_NAMES, TRANSFORM_NAMES

PLOT_NAMES = ("clip_length.png", "events_per_clip.png", "modifiers.png", "relations_negatives.png", "classes.png", "captions.png")
COLORS = {"train": "#4C72B0", "validation": "#DD8452", "test": "#55A868", "all": "#8172B3", "reference": "#937860"}


def _figure(width: float = 7.0, height: float = 3.6, ncols: int = 1):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    axes = fig.subplots(1, ncols)
    return fig, axes


def _color(name: str, i: int) -> str:
    return COLORS.get(name, f"C{i}")


def _grouped_bars(ax, categories: list[str], series: list[tuple[str, list[float]]], ylabel: str) -> None:
    n = max(1, len(series))
    width = 0.8 / n
    for i, (name, values) in enumerate(series):
        xs = [c + (i - (n - 1) / 2) * width for c in range(len(categories))]
        ax.bar(xs, values, width=width, label=name, color=_color(name.split(":")[0], i))
    ax.set_xticks(range(len(categories)), categories)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize=8)


def _fractions(counts: dict, keys: list[str]) -> list[float]:
    total = sum(counts.values())
    return [counts.get(k, 0) / total if total else 0.0 for k in keys]


def _splits(stats: dict) -> list[tuple[str, dict]]:
    return list(stats["splits"].items())


def plot_clip_length(stats: dict, path: Path) -> None:
    splits = _splits(stats)
    bins = sorted({int(k) for _, s in splits for k in s["duration_histogram"]}, key=int)
    bins = list(range(1, max(bins, default=1) + 1))
    fig, ax = _figure()
    _grouped_bars(ax, [f"{b - 1}-{b}" for b in bins],
                  [(name, _fractions(s["duration_histogram"], [str(b) for b in bins])) for name, s in splits], "fraction of clips")
    ax.set_xlabel("clip length (s)")
    ax.set_title("Clip length")
    fig.savefig(path)


def plot_events_per_clip(stats: dict, path: Path) -> None:
    splits = _splits(stats)
    keys = sorted({int(k) for _, s in splits for k in s["events_per_clip"]})
    fig, ax = _figure()
    _grouped_bars(ax, [str(k) for k in keys], [(name, _fractions(s["events_per_clip"], [str(k) for k in keys])) for name, s in splits],
                  "fraction of clips")
    ax.set_xlabel("events in the clip (realised)")
    ax.set_title("Events per clip")
    fig.savefig(path)


def plot_modifiers(stats: dict, path: Path) -> None:
    fig, ax = _figure(8.0, 3.8)
    labels = [f"{t}\n{MODIFIER_NAMES[(t, d)]}" for t in TRANSFORM_NAMES for d in DIRECTIONS]
    series = []
    for name, s in _splits(stats):
        events = s["events"] or 1
        series.append((name, [s["modifiers"][t][d] / events for t in TRANSFORM_NAMES for d in DIRECTIONS]))
    _grouped_bars(ax, labels, series, "fraction of events")
    ax.tick_params(axis="x", labelsize=8)
    ax.set_title("Modifiers (per transform and direction)")
    fig.savefig(path)


def plot_relations_negatives(stats: dict, path: Path) -> None:
    fig, (left, right) = _figure(9.0, 3.6, ncols=2)
    splits = _splits(stats)
    _grouped_bars(left, list(RELATIONS), [(name, _fractions(s["relations"], list(RELATIONS))) for name, s in splits],
                  "fraction of events after the first")
    left.set_title("Relations")
    kinds = list(stats["all"]["negative_kinds"])
    _grouped_bars(right, kinds, [(name, _fractions(s["negative_kinds"], kinds)) for name, s in splits], "fraction of negatives")
    right.tick_params(axis="x", labelsize=8)
    right.set_title("Hard negative kinds")
    fig.savefig(path)


def plot_classes(stats: dict, path: Path, top: int = 30) -> None:
    classes = list(stats["all"]["classes"].items())[:top]
    fig, ax = _figure(7.0, max(2.5, 0.28 * len(classes) + 1.0))
    names = [c if len(c) <= 40 else c[:38] + "..." for c, _ in classes][::-1]
    ax.barh(names, [n for _, n in classes][::-1], color=COLORS["all"])
    ax.set_xlabel("events (all splits)")
    ax.set_title(f"Class frequencies (top {len(classes)} of {stats['all']['num_classes']})")
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(axis="x", alpha=0.3)
    fig.savefig(path)


def plot_captions(stats: dict, path: Path) -> None:
    fig, (left, right) = _figure(10.0, 3.8, ncols=2)
    ours = stats["all"]["captions"]
    reference = stats.get("reference")
    lengths = {int(k) for k in ours["length_histogram"]} | ({int(k) for k in reference["length_histogram"]} if reference else set())
    xs = list(range(min(lengths, default=0), max(lengths, default=0) + 1))
    curves = [("AudioSetMix", ours)] + ([(f"reference: {reference['name']}", reference)] if reference else [])
    for i, (name, caps) in enumerate(curves):
        left.plot(xs, _fractions(caps["length_histogram"], [str(x) for x in xs]), marker=".", label=name,
                  color=COLORS["all"] if i == 0 else COLORS["reference"])
    left.set_xlabel("words per caption")
    left.set_ylabel("fraction of captions")
    left.set_title("Caption length")
    left.grid(alpha=0.3)
    left.legend(fontsize=8)
    groups = list(word_groups())
    ref_rates = reference["word_groups"] if reference else AUDIOCAPS_REFERENCE["word_groups"]
    ref_name = f"reference: {reference['name']}" if reference else AUDIOCAPS_REFERENCE["name"]
    _grouped_bars(right, groups, [("all: AudioSetMix", [ours["word_groups"][g] for g in groups]),
                                  ("reference: " + ref_name.removeprefix("reference: "), [ref_rates.get(g, float("nan")) for g in groups])],
                  "fraction of captions")
    right.set_title("Captions with modifier words")
    fig.savefig(path)


def write_plots(stats: dict, output_dir: Path) -> list[Path]:
    """All plots as PNG files at the top of `output_dir`; returns their paths."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    makers = (plot_clip_length, plot_events_per_clip, plot_modifiers, plot_relations_negatives, plot_classes, plot_captions)
    paths = []
    for name, make in zip(PLOT_NAMES, makers, strict=True):
        path = output_dir / name
        make(stats, path)
        paths.append(path)
    return paths
