"""`audiosetmix consistency`: K sampled runs of a captioner over the same recipes, and how much they agree.

    audiosetmix consistency --dataset_dir out/synth --runs 5 --n 200 --output_dir consistency/ \\
        --captioner openai --llm_base_url http://127.0.0.1:8000/v1 --compare_models A,B --temperature 0.7

Writes consistency.json, consistency.md, consistency.png and least_consistent.html; every answer
is kept under answers/, so a rerun (or a stopped run) asks the server only what it never answered.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from ..captions.cli_args import add_caption_args, caption_overrides
from ..captions.prompt import PROMPT_VERSION
from ..captions.template import TEMPLATE_VERSION
from ..captions.validate import Validator
from ..describe import describe
from ..hub_layout import write_json
from ..stop_signals import BuildInterrupted, stop_signals_raise
from .dataset import audio_rows, read_items
from .facts import Facts
from .figures import least_consistent, model_figures, read_runs, run_figures
from .report import PAGE, markdown, write_page, write_plot
from .runs import Run, RunFailed, llm_run, model_captioner, run_folder, run_seeds, template_run
from .sample import Item, labels_of, stratified_sample

ANSWERS = "answers"


def _positive(kind: type, what: str):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value < (1 if kind is int else 0):
            raise argparse.ArgumentTypeError(f"{what} must be {'>= 1' if kind is int else '>= 0'}, got {value}")
        return value
    return parse


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("consistency", help="how alike K sampled LLM runs caption the same recipes (docs/consistency.md)",
                       description="Caption the same N recipes of a built dataset K times, each run with its own "
                                   "sampling seed, and measure facts left out or flipped, agreement across runs, "
                                   "fallbacks and wording diversity beside the template's.")
    p.add_argument("--dataset_dir", required=True, help="a built dataset (data/*.parquet)")
    p.add_argument("--output_dir", required=True, help="where consistency.json/.md/.png, the page and answers/ go")
    p.add_argument("--runs", type=_positive(int, "--runs"), default=3, help="runs per model (K, default 3)")
    p.add_argument("--n", type=_positive(int, "--n"), default=200, help="recipes, stratified (default 200)")
    p.add_argument("--seed", type=int, default=0, help="draws the recipes and the runs' sampling seeds")
    p.add_argument("--split", help="one split only (default: all)")
    p.add_argument("--temperature", dest="llm_temperature", type=_positive(float, "--temperature"), default=0.7,
                   help="sampling temperature of every run (default 0.7)")
    p.add_argument("--compare_models", help="A,B: K runs of each model on the same server(s), side by side")
    p.add_argument("--page_rows", type=int, default=20, help="least consistent recipes on the page (default 20)")
    add_caption_args(p)
    p.set_defaults(func=run)
    return p


def _models(args) -> list[str]:
    if args.compare_models:
        models = [m.strip() for m in args.compare_models.split(",") if m.strip()]
        if args.captioner == "template" or len(models) < 2:
            raise SystemExit("error: --compare_models takes two or more model names (A,B) and an LLM captioner "
                             "(--captioner openai or transformers)")
        return models
    return [args.llm_model or "template"]


def _llm_config(args, models: list[str]):
    if args.captioner == "template":
        return None
    if args.llm_cache:
        raise SystemExit("error: consistency keeps every run's answers in <output_dir>/answers/ and never answers a run "
                         "from another's: drop --llm_cache")
    if not args.llm_model:
        args.llm_model = models[0]
    return caption_overrides(args, None)["llm"]


def _runs(args, items: list[Item], models: list[str], out: Path) -> list[Run]:
    llm = _llm_config(args, models)
    known = labels_of(items)
    runs = []
    for model in models:
        captioner = None if llm is None else model_captioner(args.captioner, replace(llm, model=model), known)
        try:
            for k, seed in enumerate(run_seeds(args.seed, args.runs)):
                if captioner is None:
                    run = template_run(items, seed)
                else:
                    run = llm_run(captioner, items, seed, str((out / ANSWERS / run_folder(model, k, seed)).resolve()))
                sent = "" if llm is None else f", {run.requests} requests sent (the rest read back from {ANSWERS}/)"
                print(f"run {k + 1}/{args.runs} of {model} (seed {seed}): {len(run.answers)} answers{sent}", flush=True)
                runs.append(run)
        finally:
            if captioner is not None:
                captioner.close()
    return runs


def summarise(args, items: list[Item], runs: list[Run], models: list[str], template: list[str]) -> tuple[dict, list[list[Facts]]]:
    """consistency.json's figures and every run's facts; `template`: the template captions of the items."""
    descriptions = [describe(item.recipes[0]) for item in items]
    per_run = read_runs(runs, descriptions, Validator(labels_of(items)))
    by_model = {}
    for model in models:
        chosen = [i for i, run in enumerate(runs) if run.model == model]
        by_model[model] = model_figures([runs[i] for i in chosen], [per_run[i] for i in chosen], template)
    first = by_model[models[0]]
    summary = {"dataset": Path(args.dataset_dir).resolve().name, "n": len(items), "runs_per_model": args.runs,
               "seed": args.seed, "temperature": args.llm_temperature, "captioner": args.captioner,
               "prompt_version": TEMPLATE_VERSION if args.captioner == "template" else PROMPT_VERSION,
               "runs": [run_figures(run, facts, descriptions) for run, facts in zip(runs, per_run, strict=True)],
               "agreement": first["agreement"], "diversity": first["diversity"], "models": by_model}
    return summary, per_run


def _page_entries(items, runs, per_run, template: list[str], limit: int) -> list[dict]:
    entries = []
    for i in least_consistent(per_run, limit):
        answers = [{"model": run.model, "seed": run.seed, "answer": run.answers[i], "kept": run.kept[i],
                    "reasons": list(facts[i].reasons)} for run, facts in zip(runs, per_run, strict=True)]
        entries.append({"id": items[i].row_id, "template": template[i], "answers": answers,
                        "distinct_fact_sets": len({facts[i].said for facts in per_run})})
    return entries


def run(args) -> int:
    models = _models(args)
    out = Path(args.output_dir)
    items = stratified_sample(read_items(Path(args.dataset_dir), args.split), args.n, args.seed)
    print(f"{len(items)} recipes, {args.runs} runs of {', '.join(models)}", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    try:
        with stop_signals_raise():
            runs = _runs(args, items, models, out)
    except BuildInterrupted as stop:
        raise SystemExit(f"error: consistency stopped by {stop}; every answer received is kept in {out / ANSWERS}: "
                         f"run the same command again to resume (nothing answered is asked again)") from None
    except RunFailed as failure:
        raise SystemExit(f"error: {failure}") from None
    template = template_run(items, 0).answers
    summary, per_run = summarise(args, items, runs, models, template)
    entries = _page_entries(items, runs, per_run, template, args.page_rows)
    summary["least_consistent"] = [e["id"] for e in entries]
    write_json(out / "consistency.json", summary)
    (out / "consistency.md").write_text(markdown(summary), encoding="utf-8")
    write_plot(summary, out / "consistency.png")
    recipes = {item.row_id: item.recipes[0] for item in items}
    write_page(entries, audio_rows(Path(args.dataset_dir), {e["id"] for e in entries}), recipes, out,
               f"Least consistent recipes: {summary['dataset']}")
    a = summary["agreement"]
    print(json.dumps({"fact_agreement": a["fact_agreement"], "kept_agreement": a["kept_agreement"]}))
    print(f"wrote {out / 'consistency.json'}, consistency.md, consistency.png and {PAGE}")
    return 0
