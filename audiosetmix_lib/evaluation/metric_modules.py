"""The `evaluate` metric modules (retrieval, modifier accuracy), shipped inside the package as data,
so an installed wheel evaluates without a checkout."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

from .errors import EvaluationError

METRICS = ("retrieval", "modifier_accuracy")


def metrics_dir() -> Path:
    """The folder of the metric modules: `metrics/<name>/<name>.py` beside this module."""
    return Path(str(resources.files(__package__) / "metrics"))


def metric_path(name: str, root: Path | None = None) -> Path:
    """The metric module's folder (what `evaluate.load` takes); refused when the package lacks it."""
    path = (root or metrics_dir()) / name
    if not (path / f"{name}.py").is_file():
        raise EvaluationError(f"the {name!r} metric module is not at {path}: the package was installed without its "
                              f"data files; reinstall it (pip install 'audiosetmix[eval]')")
    return path


def load_metric(name: str):
    import evaluate

    return evaluate.load(str(metric_path(name)))


# the modules whose code decides what an evaluation's metrics.json says (the experiment re-evaluates when they change)
SCORING_SOURCES = ("evaluate_clap.py", "clip_audio.py", "clap_model.py", "split_data.py", "negative_pairs.py", "group_scores.py",
                   "score_report.py", "pair_records.py", "zero_shot.py", "metrics/retrieval/retrieval.py",
                   "metrics/modifier_accuracy/modifier_accuracy.py", "../retrieval.py")


def scoring_fingerprint() -> str:
    """sha256 of the scoring code, first 16 hex digits."""
    digest = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for name in SCORING_SOURCES:
        digest.update(name.encode() + b"\0" + (here / name).read_bytes())
    return digest.hexdigest()[:16]
