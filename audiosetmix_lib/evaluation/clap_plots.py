"""recall_at_k.png and modifier_accuracy.png of an evaluation (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def recall_plot(path: Path, curves: dict, num_audio: int) -> None:
    import matplotlib.ticker

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for direction, curve in curves.items():
        ks = np.arange(1, len(curve) + 1)
        ax.plot(ks, curve, marker="." if len(curve) <= 20 else None, label=direction.replace("_", "-"))
    ax.set_xlabel("k")
    ax.set_ylabel("recall@k")
    ax.set_ylim(0, 1.02)
    ax.set_xscale("log")
    ticks = [k for k in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if k <= max(len(c) for c in curves.values())]
    ax.set_xticks(ticks)
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(f"Retrieval recall@k ({num_audio} clips)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def accuracy_plot(path: Path, panels: list[tuple[str, dict]]) -> None:
    """One bar chart per (title, {kind: {accuracy, ci95, count}}) panel, chance at 0.5."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4), squeeze=False)
    for ax, (title, table) in zip(axes[0], panels, strict=True):
        names = list(table)
        acc = np.array([table[n]["accuracy"] for n in names])
        lo = np.array([table[n]["ci95"][0] for n in names])
        hi = np.array([table[n]["ci95"][1] for n in names])
        x = np.arange(len(names))
        ax.bar(x, acc, color="tab:blue", alpha=0.8)
        ax.errorbar(x, acc, yerr=[np.maximum(acc - lo, 0), np.maximum(hi - acc, 0)], fmt="none", ecolor="black", capsize=3)
        ax.axhline(0.5, color="gray", linestyle="--", linewidth=1)
        ax.set_xticks(x)
        ax.set_xticklabels([f"{n}\n(n={table[n]['count']})" for n in names], rotation=45, ha="right", fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("pairwise accuracy")
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_plots(output_dir: Path, metrics: dict, curves: dict) -> list[str]:
    written = []
    if curves:
        recall_plot(output_dir / "recall_at_k.png", curves, metrics["meta"]["num_audio"])
        written.append("recall_at_k.png")
    modifier = metrics.get("modifier_accuracy")
    if modifier:
        detail = {k: v for k, v in metrics.get("modifier_accuracy_detail", {}).get("per_kind", {}).items() if ":" in k}
        panels = [("per negative kind", modifier["per_kind"])] + ([("per transform + direction / relation", detail)] if detail else [])
        accuracy_plot(output_dir / "modifier_accuracy.png", panels)
        written.append("modifier_accuracy.png")
    return written
