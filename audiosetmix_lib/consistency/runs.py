"""K captioning runs over the same recipes, each with its own sampling seed, answers kept on disk.

Each run is what a build would do to these rows (the captioner with its retries and its
all-or-nothing rule for a caption and its negatives), with the seed sent as the OpenAI `seed`
(the transformers backend samples with it). A run keeps its answers in its own folder of
answer files, one per chunk of rows, and reads no other: runs never answer from each other's
cache, and a rerun (or a run stopped by SIGTERM/SIGINT, which finishes its chunk first) asks
only what was never answered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from ..captions.captioner import LLMCaptioner, clean_answer, make_captioner
from ..captions.prompt import build_messages
from ..captions.sets import CaptionSet
from ..captions.template_captioner import TemplateCaptioner
from ..config import LLMConfig
from ..describe import describe
from ..stop_signals import stops_deferred
from .sample import Item

CHUNK_ROWS = 8  # rows per answer file: what a stop or a kill can cost at most


class RunFailed(RuntimeError):
    """The server did not answer some prompts: the run cannot be measured (what was answered is kept)."""


@dataclass
class Run:
    model: str
    seed: int
    answers: list[str]  # the raw first answer to each row's own prompt (before validation)
    kept: list[bool]  # the row's texts came from the model, not the template fallback
    requests: int = 0  # sent to the server in this invocation (the rest came from the run's answer files)


def run_seeds(seed: int, runs: int) -> list[int]:
    """One sampling seed per run, drawn from `seed` (distinct, below 2**31 for any server)."""
    state = np.random.SeedSequence([int(seed), 7]).generate_state(runs * 4)
    seeds = list(dict.fromkeys(int(s) % 2**31 for s in state))
    return seeds[:runs]


def run_folder(model: str, k: int, seed: int) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model or "template").strip("_")
    return f"{slug}/run-{k}-seed-{seed}"


def template_run(items: list[Item], seed: int) -> Run:
    """The template grammar as a 'run': deterministic, always kept."""
    template = TemplateCaptioner()
    return Run("template", seed, [template.caption_set(list(item.recipes))[0] for item in items], [True] * len(items))


def model_captioner(captioner_name: str, llm: LLMConfig, known_classes=()) -> LLMCaptioner:
    """One model's captioner, whose backend (a loaded local model, an HTTP session) every run of it shares;
    no shared cache, no report store: each run has its own answer files."""
    captioner = make_captioner(captioner_name, replace(llm, cache=None, cache_folders=(), report=None,
                                                      retry_rejected=False, answers_dir=None), known_classes)
    if not isinstance(captioner, LLMCaptioner):
        raise ValueError(f"{captioner_name!r} is not an LLM captioner")
    return captioner


def llm_run(model: LLMCaptioner, items: list[Item], seed: int, answers_dir: str) -> Run:
    """One run of a model over the items, sampled with `seed`; raises RunFailed when prompts went unanswered."""
    captioner = LLMCaptioner(model.backend, model.model, replace(model.sampling, seed=seed), model.max_retries,
                             known_classes=model.validator.known_classes, endpoint_id=model.endpoint_id,
                             answers_dir=answers_dir)
    template = TemplateCaptioner()
    run = Run(model.model, seed, [], [])
    for start in range(0, len(items), CHUNK_ROWS):
        chunk = items[start:start + CHUNK_ROWS]
        sets = [CaptionSet(item.row_id, list(item.recipes), template.caption_set(list(item.recipes))) for item in chunk]
        unit = f"rows-{start:06d}"
        with stops_deferred():  # a stop waits for the chunk, so every answer it paid for is kept
            captioner.caption_sets(sets, unit=unit)
        records = captioner.records[-len(sets):]
        keys = [captioner.answer_key(build_messages(describe(item.recipes[0])), 0) for item in chunk]
        found = captioner.answers_for(unit).get_many(keys)
        run.answers += [clean_answer(found.get(key, "")) for key in keys]
        run.kept += [record["source"] == "llm" for record in records]
        run.requests += sum(record["requests"] for record in records)
        failed = sum(1 for record in records for item in record["items"]
                     if any(a.startswith("transport:") for a in item["attempts"]))
        if failed:
            raise RunFailed(f"{failed} prompts of run seed {seed} ({model.model}) got no answer from the server; the "
                            f"answers received are kept in {answers_dir}: check the server and run the same command "
                            f"again to resume")
    return run
