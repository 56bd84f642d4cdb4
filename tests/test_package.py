"""A real package: the wheel builds, carries the dataset card template, installs without the
repository, and its `audiosetmix` command builds a dataset from another folder. Nothing is
downloaded (`--no-deps`, `--no-build-isolation`): the dependencies are the virtualenv's own."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _pip(*args: str, cwd: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "pip", *args], cwd=cwd, capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1"))
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]


def _copy_sources(work: Path) -> Path:
    """What a wheel is built from, copied (the checkout stays clean)."""
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "dataset_card.md", "audiosetmix.py", "requirements.txt"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "audiosetmix_lib", source / "audiosetmix_lib",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return source


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel, built from a copy of the sources, installed into a bare folder."""
    work = tmp_path_factory.mktemp("package")
    source = _copy_sources(work)
    _pip("wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(work / "dist"), str(source), cwd=work)
    wheel = next((work / "dist").glob("audiosetmix-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "audiosetmix_lib/dataset_card.md" in names and "audiosetmix_lib/audit/static/audit.js" in names
    # the one card template is the repository's top-level file; the wheel carries it inside the package
    assert not (REPO / "audiosetmix_lib" / "dataset_card.md").exists()
    assert zipfile.ZipFile(wheel).read("audiosetmix_lib/dataset_card.md") == (REPO / "dataset_card.md").read_bytes()
    assert "audiosetmix_lib/captions/class_phrases.tsv" in names  # phrase_for reads it at run time
    assert {f"audiosetmix_lib/evaluation/metrics/{m}/{m}.py" for m in ("retrieval", "modifier_accuracy")} <= set(names)
    assert "audiosetmix.py" in names and not any(n.startswith(("tests/", "eval/", "bench/")) for n in names)
    target = work / "site"
    _pip("install", "--no-deps", "--target", str(target), str(wheel), cwd=work)
    return target


def _run(installed: Path, cwd: Path, *cmd: str) -> subprocess.CompletedProcess:
    """`python -S`: no site processing, so the checkout's editable install is invisible; the installed
    copy comes first and the virtualenv's site-packages provide the dependencies."""
    path = os.pathsep.join([str(installed), sysconfig.get_paths()["purelib"]])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=path, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-S", *cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_the_installed_copy_is_the_one_imported(installed, tmp_path):
    run = _run(installed, tmp_path, "-c", "import audiosetmix_lib, audiosetmix; print(audiosetmix_lib.__file__); "
                                          "print(audiosetmix.AudioSetMix.__module__)")
    assert run.returncode == 0, run.stderr[-2000:]
    lib_file, module = run.stdout.split()
    assert Path(lib_file).is_relative_to(installed) and module == "audiosetmix_lib.builder"


def test_the_audiosetmix_command_builds_from_another_folder(installed, tmp_path):
    script = installed / "bin" / "audiosetmix"
    assert script.is_file()
    run = _run(installed, tmp_path, str(script), "build", "--output_dir", "out", "--train", "4", "--validation", "2",
               "--test", "2", "--sample_rate", "8000", "--seed", "3")
    assert run.returncode == 0, run.stderr[-3000:]
    out = tmp_path / "out"
    card = (out / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\n") and "$" + "statistics" not in card and "## Statistics" in card

    import datasets

    ds = datasets.load_dataset(str(out))
    assert {split: len(ds[split]) for split in ds} == {"train": 4, "validation": 2, "test": 2}
    assert ds["train"][0]["audio"]["sampling_rate"] == 8000


def test_module_entry_matches_the_command(installed, tmp_path):
    """`python -m audiosetmix_lib.cli` is the same program (help text, exit status)."""
    run = _run(installed, tmp_path, "-m", "audiosetmix_lib.cli", "--help")
    assert run.returncode == 0 and run.stdout.startswith("usage: audiosetmix ")
    bad = _run(installed, tmp_path, "-m", "audiosetmix_lib.cli", "build", "--output_dir", "x", "--config", "nope")
    assert bad.returncode != 0 and "unknown config" in bad.stderr and "Traceback" not in bad.stderr


def test_the_pins_are_a_constraints_file_that_satisfies_every_extra(tmp_path):
    """The README's `pip install -c requirements.txt .`: pip itself reads the pins as constraints (no extras
    allowed there) and resolves the package with every extra against them, offline, from this virtualenv's
    installed set, so a pin outside a pyproject range fails here too."""
    source = _copy_sources(tmp_path)
    extras = "train,eval,llm,test,bench,ray,s3"  # gcs: gcsfs is not pinned (no test needs it)
    _pip("install", "--dry-run", "--no-build-isolation", "-c", "requirements.txt", f".[{extras}]", cwd=source)


def test_the_installed_experiment_runs_every_stage_from_another_folder(installed, tmp_path):
    """`eval/run_experiment.py`'s program from the wheel alone: build, tokenizer, one training step, the
    evaluation with the shipped metric modules, the report; then --compare on two of its evaluations."""
    module = "audiosetmix_lib.evaluation.experiment_cli"
    run = _run(installed, tmp_path, "-m", module, "--work_dir", "exp", "--arms", "captions", "--train", "6", "--validation", "0",
               "--test", "4", "--steps", "1", "--batch_size", "2", "--num_workers", "0", "--bootstrap", "10",
               "--eval_batch_size", "4", "--model", "tiny-fast")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads((tmp_path / "exp" / "results.json").read_text())
    commands = results["stage_commands"]
    assert all(" -m audiosetmix_lib." in commands[s] for s in ("build", "tokenizer", "train-captions", "eval-captions"))
    # no stage reached into the checkout (the interpreter may live in the checkout's .venv, as in CI)
    assert str(REPO) not in json.dumps(commands).replace(str(Path(sys.executable).parent.parent), "<venv>")
    group = results["arms"]["captions"]["metrics"]["group_scores"]
    assert group["quadruples"] > 0 and {"pairwise", "text", "audio", "group"} == set(group["per_group"]["all"]["corrected"])
    evaluation = tmp_path / "exp" / "arms" / "captions" / "eval"
    compare = _run(installed, tmp_path, "-m", "audiosetmix_lib.evaluation.clap_cli", "--compare", str(evaluation),
                   str(evaluation), "--output_dir", "cmp", "--bootstrap", "10")
    assert compare.returncode == 0, compare.stderr[-2000:]
    same = json.loads((tmp_path / "cmp" / "compare.json").read_text())["difference"]["all"]["raw"]["group"]
    assert same["difference"] == 0.0 and same["count"] == group["quadruples"]
