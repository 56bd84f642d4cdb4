"""The package's import graph, read with `ast`: every module sits in a layer, no module imports a
higher layer, and there is no cycle. Imports under `if TYPE_CHECKING:` do not count; imports
inside functions do (they still run). Also: `SystemExit` only in CLI modules, project imports at
the top of modules (the package's and the entry scripts'), nothing loaded by file path.

The layers (docs/design.md, "Layers"), bottom to top; a module takes the layer of the longest
prefix below that matches its dotted name, so a new module under a listed package (e.g.
`audiosetmix_lib.transforms.filter`) needs no new line here.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "audiosetmix_lib"

LAYERS = {
    # 0: types and plain helpers
    "audiosetmix_lib.events": 0,
    "audiosetmix_lib.typed_settings": 0,  # plain settings data brought to declared types, one rule for all
    "audiosetmix_lib.audio_io": 0,
    "audiosetmix_lib.retrieval": 0,
    "audiosetmix_lib.locations": 0,  # paths and file:// URLs a build may use
    "audiosetmix_lib.dataset_path": 0,  # a mistyped dataset folder told apart from a Hub id
    "audiosetmix_lib.stop_signals": 0,  # SIGTERM/SIGINT raised where Python can carry them
    "audiosetmix_lib.recipe": 0,  # EventSpec and Recipe: plain data; layout and durations live in relations/transforms
    # 1: transforms and sources
    "audiosetmix_lib.transforms": 1,
    "audiosetmix_lib.sources": 1,
    "audiosetmix_lib.config": 1,  # MixConfig checks the transforms' settings with the registry
    "audiosetmix_lib.activity": 1,  # where an event sounds (its active frames) and segments snapped onto it
    "audiosetmix_lib.relations": 1,  # follow/overlap/background: their words and `layout` (onsets, ends)
    # 2: recipes drawn, rendered, described, perturbed
    "audiosetmix_lib.sampler": 2,
    "audiosetmix_lib.audibility": 2,  # which drawn transforms an event's measured sound carries
    "audiosetmix_lib.event_density": 2,  # how many events a clip keeps, from how much sound they bring
    "audiosetmix_lib.render": 2,
    "audiosetmix_lib.describe": 2,
    "audiosetmix_lib.negatives": 2,
    "audiosetmix_lib.provenance": 2,  # a stored recipe's versions and source fingerprints against what is here
    # 3: captions
    "audiosetmix_lib.captions": 3,
    # 4: what is made of rows and captions
    "audiosetmix_lib.rows": 4,
    "audiosetmix_lib.builder": 4,
    "audiosetmix_lib.hub_layout": 4,
    "audiosetmix_lib.stats": 4,
    "audiosetmix_lib.stats_plots": 4,
    "audiosetmix_lib.card": 4,
    "audiosetmix_lib.audit": 4,
    "audiosetmix_lib.training": 4,
    "audiosetmix_lib.evaluation": 4,
    "audiosetmix_lib.testing": 4,
    "audiosetmix_lib.output": 4,  # the output contract: shard plan, one-shard writer, manifest, commit
    "audiosetmix_lib.consistency": 4,  # K seeded captioning runs, their facts and figures
    "audiosetmix_lib.verify": 4,  # each row's claims measured from its sound (docs/verify.md)
    # 5: command lines
    "audiosetmix_lib.cli": 5,
    "audiosetmix_lib.stats_cli": 5,
    "audiosetmix_lib.audit.cli": 5,
    "audiosetmix_lib.captions.cli_args": 5,
    "audiosetmix_lib.engine": 5,  # runs a build: the engine over the planned shards, the card last
    "audiosetmix_lib.cli_errors": 5,
    "audiosetmix_lib.training.cli": 5,  # the train_clap.py command (its errors as one line)
    "audiosetmix_lib.consistency.dataset": 5,  # reads a built dataset's rows
    "audiosetmix_lib.consistency.report": 5,  # writes the report files and the page (with the audit page's audio files)
    "audiosetmix_lib.consistency.cli": 5,
    "audiosetmix_lib.verify.cli": 5,
    "audiosetmix_lib.verify.dataset": 5,  # reads a built dataset's shards (stats_cli.dataset_splits)
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(name: str) -> int | None:
    """The layer of the longest matching prefix (whole dotted components only)."""
    if name == "audiosetmix_lib":
        return 0  # the package __init__: the version only
    best = None
    for prefix, layer in LAYERS.items():
        if (name == prefix or name.startswith(prefix + ".")) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, layer)
    return None if best is None else best[1]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(name: str, path: Path, known: set[str]) -> list[tuple[str, int, bool]]:
    """(imported project module, line, inside a function) for every import that runs."""
    is_package = path.name == "__init__.py"
    found: list[tuple[str, int, bool]] = []

    def resolve(node: ast.ImportFrom) -> list[str]:
        if node.level:
            base = name.split(".") if is_package else name.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        targets = []
        for alias in node.names:
            sub = f"{module}.{alias.name}"
            targets.append(sub if sub in known else module)
        return targets

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other, in_function)
                continue
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((a.name, child.lineno, in_function) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                found.extend((t, child.lineno, in_function) for t in resolve(child))
            visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return [(target, line, inner) for target, line, inner in found
            if target == "audiosetmix_lib" or target.startswith("audiosetmix_lib.")]


def scripts() -> list[Path]:
    """The entry scripts outside the package: they import it, so the same rule holds for them."""
    return [ROOT / "train_clap.py", ROOT / "audiosetmix.py", *sorted((ROOT / "eval").rglob("*.py")),
            *sorted((ROOT / "bench").glob("*.py"))]


def project_imports_inside_functions(path: Path) -> list[str]:
    """'line N: module' for every `audiosetmix_lib` import of a script that sits inside a function."""
    found = imports(path.stem, path, set(modules()))
    return [f"line {line}: {target}" for target, line, in_function in found if in_function]


def exits_and_path_loads(text: str) -> list[str]:
    """'line N: what' for every SystemExit / exit (called or raised bare) and spec_from_file_location."""
    found = []
    for node in ast.walk(ast.parse(text)):
        called = node.func if isinstance(node, ast.Call) else None
        named = ((isinstance(called, ast.Name) and called.id) or (isinstance(called, ast.Attribute) and called.attr)) or ""
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Name) and node.exc.id == "SystemExit":
            named = "SystemExit"  # `raise SystemExit`, no call
        if named in ("SystemExit", "exit", "spec_from_file_location"):
            found.append(f"line {node.lineno}: {named}")
    return found


def graph() -> dict[str, list[tuple[str, int, bool]]]:
    found = modules()
    known = set(found)
    return {name: imports(name, path, known) for name, path in found.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle (as a path that returns to its start), or None; iterative colouring DFS."""
    colour = dict.fromkeys(edges, 0)  # 0 new, 1 on the stack, 2 done
    for start in sorted(edges):
        if colour[start]:
            continue
        stack = [(start, iter(sorted(edges[start])))]
        path = [start]
        colour[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = 2
                stack.pop()
                path.pop()
            elif colour.get(child) == 1:
                return path[path.index(child):] + [child]
            elif colour.get(child) == 0:
                colour[child] = 1
                stack.append((child, iter(sorted(edges.get(child, ())))))
                path.append(child)
    return None


def test_every_module_has_a_layer():
    assert [name for name in modules() if layer_of(name) is None] == []


def test_no_import_goes_up_a_layer():
    upward = [f"{name} (layer {layer_of(name)}) line {line} imports {target} (layer {layer_of(target)})"
              for name, targets in graph().items() for target, line, _ in targets
              if layer_of(target) is not None and layer_of(target) > layer_of(name)]
    assert upward == []


def test_the_import_graph_has_no_cycle():
    edges = {name: {t for t, _, _ in targets if t != name} for name, targets in graph().items()}
    assert find_cycle(edges) is None, " -> ".join(find_cycle(edges))


def test_project_imports_sit_at_the_top_of_modules():
    inside = [f"{name} line {line}: {target}" for name, targets in graph().items()
              for target, line, in_function in targets if in_function]
    assert inside == []


def test_entry_scripts_import_the_project_at_the_top():
    paths = scripts()
    assert len(paths) >= 10 and all(p.is_file() for p in paths)  # the check is looking at the real scripts
    inside = [f"{p.relative_to(ROOT)} {where}" for p in paths for where in project_imports_inside_functions(p)]
    assert inside == []


def test_system_exit_only_in_cli_modules_and_nothing_loaded_by_path():
    offenders = [f"{name} {found}" for name, path in modules().items()
                 for found in exits_and_path_loads(path.read_text(encoding="utf-8"))
                 if "cli" not in path.name or found.endswith("spec_from_file_location")]
    assert offenders == []


# --- the checker itself must be able to fail -------------------------------------------------


def test_the_checker_sees_a_cycle_an_upward_import_and_ignores_type_checking(tmp_path):
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    source = tmp_path / "config.py"
    source.write_text("from typing import TYPE_CHECKING\n"
                      "from .events import Event\n"
                      "if TYPE_CHECKING:\n    from .rows import RowMaker\n"
                      "def f():\n    from .captions import template\n")
    known = {"audiosetmix_lib.events", "audiosetmix_lib.rows", "audiosetmix_lib.captions",
             "audiosetmix_lib.captions.template"}
    found = imports("audiosetmix_lib.config", source, known)
    assert found == [("audiosetmix_lib.events", 2, False), ("audiosetmix_lib.captions.template", 6, True)]
    assert layer_of("audiosetmix_lib.captions.template") == 3 > layer_of("audiosetmix_lib.config")
    assert layer_of("audiosetmix_lib.transforms.filter") == 1  # prefix-based: new transform modules fit
    assert layer_of("audiosetmix_lib.audit.cli") == 5 and layer_of("audiosetmix_lib.audit.page") == 4
    assert layer_of("audiosetmix_lib.cliff") is None  # whole components only


def test_the_checker_sees_project_imports_inside_a_script_s_functions(tmp_path):
    script = tmp_path / "bench_thing.py"
    script.write_text("import argparse\n"
                      "from audiosetmix_lib.config import MixConfig\n"
                      "def main():\n    import torch\n    import audiosetmix_lib.transforms as transforms\n"
                      "    from audiosetmix_lib.sources import make_source\n"
                      "class Bench:\n    def run(self):\n        from audiosetmix_lib.render import render\n")
    assert project_imports_inside_functions(script) == [
        "line 5: audiosetmix_lib.transforms", "line 6: audiosetmix_lib.sources", "line 9: audiosetmix_lib.render"]


def test_the_checker_sees_system_exit_called_raised_bare_and_loads_by_path():
    text = ("import sys\n"
            "def a():\n    raise SystemExit\n"
            "def b():\n    raise SystemExit(2)\n"
            "def c():\n    sys.exit(1)\n"
            "def d():\n    raise ValueError('no')\n"
            "def e(spec):\n    return importlib.util.spec_from_file_location('m', spec)\n")
    assert exits_and_path_loads(text) == [
        "line 3: SystemExit", "line 5: SystemExit", "line 7: exit", "line 11: spec_from_file_location"]
