"""The LLM captioner: prompt -> cache -> backend -> validator -> retry -> all-or-nothing fallback.

A batch is many *sets*: a row's caption and its negatives, each with its own recipe. Every
caption of every set goes to the backend in one call per attempt (so a server sees a full
batch, and negatives are batched with positives); answers are cached before they are
judged. A cached answer the validator rejects (a broken server's, an earlier build's) is not
trusted: it is asked again once per run and the new answer replaces it (`asked_again` in the
records; `--llm_reuse_rejected` keeps the old answers). A caption the validator rejects is
asked again (attempt 1, 2, ..., each its own cache entry, sampled) up to `max_retries` times. If any caption of a set still fails, or the
transport failed, the whole set takes its template captions, so within a row a text's style
never tells the positive from the negatives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..config import LLMConfig
from ..describe import describe
from .answer_files import AnswerFolder, UnitAnswers, unit_answers_url
from .backend import Backend, Request, Sampling, TransportFailure
from .cache import AnswerCache, cache_key
from .openai_backend import OpenAIBackend
from .prompt import PROMPT_VERSION, build_messages, prompt_text
from .protocol import CaptionedSet, Captioner, CaptionSet
from .report import ACCEPTED, ReportStore, summarise
from .template import TEMPLATE_VERSION
from .template_captioner import TemplateCaptioner
from .transformers_backend import TransformersBackend
from .validate import Validator, reworded

__all__ = ["CAPTIONERS", "Captioner", "CaptionSet", "CaptionedSet", "LLMCaptioner", "TemplateCaptioner", "make_captioner"]

CAPTIONERS = ("template", "transformers", "openai")
RETRY_MIN_TEMPERATURE = 0.7


_THINK = re.compile(r"^\s*<think>.*?</think>", re.DOTALL)


def clean_answer(text: str) -> str:
    """The answer without surrounding whitespace or a reasoning model's leading <think>...</think> block."""
    return _THINK.sub("", text).strip()


@dataclass
class _Item:
    set_index: int
    messages: list[dict]
    description: object
    attempts: list[str] = field(default_factory=list)
    final: str | None = None  # ACCEPTED, a rejection reason, "transport:<kind>", or "skipped"
    text: str | None = None


def _add_endpoint_stats(counter: dict, delta: dict) -> None:
    """Fold a batch's per-endpoint counts into one record (summed again over records by the report)."""
    into = counter.setdefault("endpoints", {})
    for name, d in delta.items():
        e = into.setdefault(name, {"sent": 0, "answered": 0, "failures": {}, "marked_down": 0})
        for k in ("sent", "answered", "marked_down"):
            e[k] += d[k]
        for kind, n in d["failures"].items():
            e["failures"][kind] = e["failures"].get(kind, 0) + n


class LLMCaptioner:
    """Captions sets of recipes with an LLM backend; picklable (backend, cache and report reopen per process)."""

    prompt_version = PROMPT_VERSION

    def __init__(self, backend: Backend, model: str, sampling: Sampling | None = None, max_retries: int = 2,
                 cache: AnswerCache | None = None, report: ReportStore | None = None, known_classes=(),
                 endpoint_id: str = "", retry_rejected: bool = True, readers: list | None = None,
                 answers_dir: str | None = None, raw_labels=()) -> None:
        self.backend = backend
        self.endpoint_id = endpoint_id  # in every cache key: another server is asked afresh
        self.retry_rejected = retry_rejected  # a cached answer the validator rejects is asked again (once a run)
        self.readers = list(readers or [])  # earlier answers, read-only (AnswerFolder)
        self.answers_dir = answers_dir  # this build's answer files, one per work unit
        self.model = model
        self.sampling = sampling if sampling is not None else Sampling()
        self.max_retries = max(0, int(max_retries))
        self.cache = cache
        self.report = report
        self.validator = Validator(known_classes, raw_labels)
        self.records: list[dict] = []  # this process's records when there is no report store

    @property
    def source_name(self) -> str:
        return f"llm:{self.model}"

    def sampling_for(self, attempt: int) -> Sampling:
        """Attempt 0 uses the configured sampling; retries are always sampled (a greedy retry repeats itself).
        The seed is the configured one plus the attempt number (a build's is 0; `consistency` gives each run its own)."""
        s = self.sampling
        temperature = s.temperature if attempt == 0 else max(s.temperature, RETRY_MIN_TEMPERATURE)
        return Sampling(temperature=temperature, top_p=s.top_p, max_new_tokens=s.max_new_tokens, seed=s.seed + attempt)

    def answer_key(self, messages: list[dict], attempt: int) -> str:
        """The cache key of one prompt's answer at one attempt (what `_ask` stores it under)."""
        return cache_key(self.backend.name, self.model, PROMPT_VERSION, prompt_text(messages),
                         self.sampling_for(attempt).to_dict(), attempt, self.endpoint_id)

    def answers_for(self, unit: str | None):
        """The answer cache one call uses: the unit's own file + earlier answers + the SQLite cache."""
        if unit is None or self.answers_dir is None:
            if not self.readers:
                return self.cache
            return UnitAnswers(None, readers=[*self.readers, *([self.cache] if self.cache else [])], mirror=self.cache)
        return UnitAnswers(unit_answers_url(self.answers_dir, unit),
                           readers=[*self.readers, *([self.cache] if self.cache else [])], mirror=self.cache)

    def _ask(self, items: list[_Item], attempt: int, counters: list[dict], cache) -> list[str | TransportFailure]:
        sampling = self.sampling_for(attempt)
        requests = [Request(item.messages, sampling) for item in items]
        keys = [self.answer_key(r.messages, attempt) for r in requests]
        cached = cache.get_many(keys) if cache is not None else {}
        distrusted = set() if not self.retry_rejected else {
            key for key, item in zip(keys, items, strict=True)
            if key in cached and not self.validator.check(clean_answer(cached[key]), item.description).ok}
        send = [i for i, key in enumerate(keys) if key not in cached or key in distrusted]
        answers: list = [cached.get(key) for key in keys]
        for i, answer in zip(send, self.backend.generate([requests[i] for i in send]) if send else [], strict=True):
            if not isinstance(answer, TransportFailure) and cache is not None:  # a new answer replaces a rejected one
                answer = cache.put(keys[i], answer, self.backend.name, self.model, PROMPT_VERSION, attempt,
                                   replace=keys[i] in distrusted)
            answers[i] = answer
        sent = set(send)
        for i, item in enumerate(items):
            counters[item.set_index]["requests" if i in sent else "cache_hits"] += 1
            counters[item.set_index]["asked_again"] += keys[i] in distrusted
        if send and items:
            _add_endpoint_stats(counters[items[0].set_index], self.backend.take_endpoint_stats())
        return answers

    def caption_sets(self, sets: list[CaptionSet], unit: str | None = None) -> list[CaptionedSet]:
        """Caption a batch; `unit` names the work unit (shard) whose answer file keeps the answers."""
        cache = self.answers_for(unit)
        try:
            return self._caption_sets(sets, cache)
        finally:
            if isinstance(cache, UnitAnswers):
                cache.flush()  # also after a BackendError: the answers already paid for are kept

    def _caption_sets(self, sets: list[CaptionSet], cache) -> list[CaptionedSet]:
        items: list[_Item] = []
        for s_index, caption_set in enumerate(sets):
            for recipe in caption_set.recipes:
                description = describe(recipe)
                items.append(_Item(s_index, build_messages(description), description))
        failed_sets: set[int] = set()
        counters = [{"requests": 0, "cache_hits": 0, "asked_again": 0} for _ in sets]
        for attempt in range(self.max_retries + 1):
            pending = [item for item in items if item.final is None and item.set_index not in failed_sets]
            if not pending:
                break
            for item, answer in zip(pending, self._ask(pending, attempt, counters, cache), strict=True):
                if isinstance(answer, TransportFailure):
                    item.attempts.append(f"transport:{answer.kind}")
                    item.final = item.attempts[-1]
                    failed_sets.add(item.set_index)
                    continue
                answer = clean_answer(answer)
                verdict = self.validator.check(answer, item.description)
                item.attempts.append(ACCEPTED if verdict.ok else verdict.reason)
                if verdict.ok:
                    item.final, item.text = ACCEPTED, answer
                elif attempt == self.max_retries:
                    item.final = verdict.reason
                    failed_sets.add(item.set_index)
        by_set: list[list[_Item]] = [[] for _ in sets]
        for item in items:
            by_set[item.set_index].append(item)
        return [self._finish(s, by_set[i], counters[i]) for i, s in enumerate(sets)]

    def _finish(self, caption_set: CaptionSet, items: list[_Item], counters: dict) -> CaptionedSet:
        for item in items:
            if item.final is None:
                item.final = "skipped"
        failures = [item.final for item in items if item.final != ACCEPTED and item.final != "skipped"]
        texts = [item.text for item in items]
        reason = failures[0] if failures else None
        if reason is None and len({t.casefold().rstrip(". ") for t in texts}) < len(texts):
            reason = "duplicate"  # two different recipes got the same text: one of them is wrong
        if reason is None and any(reworded(texts[0], items[0].description, text, item.description)
                                  for text, item in zip(texts[1:], items[1:], strict=True)):
            reason = "reworded"  # a negative names an unchanged modifier in other words: a wording tell
        record = {"row": caption_set.row_id, "source": "llm" if reason is None else "template-fallback",
                  "fallback_reason": reason, **counters,
                  "items": [{"attempts": item.attempts, "final": item.final} for item in items]}
        if self.report is not None:
            self.report.add(record)
        else:
            self.records.append(record)
        if reason is None:
            return CaptionedSet(texts, self.source_name, PROMPT_VERSION)
        return CaptionedSet(list(caption_set.fallback), "template-fallback", TEMPLATE_VERSION)

    def close(self) -> None:
        """Close the backend's connections (an HTTP client keeps them open between batches)."""
        self.backend.close()

    def meta(self) -> dict:
        return {"captioner": self.backend.name, "model": self.model, "prompt_version": PROMPT_VERSION,
                "max_retries": self.max_retries, "sampling": self.sampling.to_dict()}

    def summary(self) -> dict:
        """Rates over every record (all processes when a report store is set, else this process)."""
        records = self.report.records() if self.report is not None else self.records
        return summarise(records, self.meta())


def make_captioner(name: str, llm: LLMConfig | None = None, known_classes=(), raw_labels=()) -> Captioner:
    """`template` (default, offline), `transformers` or `openai`, from the builder config's `llm` settings.

    `raw_labels`: the labels the source cut; the validator rejects captions that repeat what was cut off."""
    llm = llm if llm is not None else LLMConfig()
    if name == "template":
        return TemplateCaptioner()
    if name == "openai":
        backend = OpenAIBackend(base_url=llm.base_url, model=llm.model, api_key_env=llm.api_key_env,
                                concurrency=llm.concurrency, timeout=llm.timeout,
                                http_retries=llm.http_retries, backoff=llm.backoff)
    elif name == "transformers":
        backend = TransformersBackend(model=llm.model, device=llm.device, dtype=llm.dtype, batch_size=llm.batch_size)
    else:
        raise ValueError(f"unknown captioner {name!r} (choose from {', '.join(CAPTIONERS)})")
    sampling = Sampling(temperature=llm.temperature, top_p=llm.top_p, max_new_tokens=llm.max_new_tokens)
    cache = AnswerCache(llm.cache) if llm.cache else None
    report = ReportStore(llm.report) if llm.report else None
    readers = [AnswerFolder(location) for location in llm.cache_folders]
    return LLMCaptioner(backend, llm.model, sampling, llm.max_retries, cache, report, known_classes,
                        llm.endpoint_id, llm.retry_rejected, readers=readers, answers_dir=llm.answers_dir,
                        raw_labels=raw_labels)
