"""The `build` command's caption options, and what the build writes about its captions.

Kept out of cli.py so the captioner's flags live next to the code that reads them. The API
key itself never passes through here: only the *name* of its environment variable.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path

from ..config import LLMConfig
from .answer_files import ANSWERS_DIR
from .captioner import CAPTIONERS, LLMCaptioner
from .openai_backend import base_urls as split_urls
from .report import card_markdown
from .template import TEMPLATE_VERSION

_LLM = LLMConfig()  # the flags' defaults are the config's


def add_caption_args(p) -> None:
    g = p.add_argument_group("captions", "who writes captions and negatives (docs/design.md, Captions)")
    g.add_argument("--captioner", choices=CAPTIONERS, default="template",
                   help="template (offline grammar, default), transformers (local model) or openai (any "
                        "OpenAI-compatible server)")
    g.add_argument("--llm_model", help="transformers: model id or path; openai: the server's model name")
    g.add_argument("--llm_base_url", action="append",
                   help="openai: base URL, e.g. http://127.0.0.1:8000/v1; give it several times (or comma-separated) "
                        "to spread requests over several servers (least outstanding requests, per-server backoff)")
    g.add_argument("--llm_api_key_env", help="openai: name of the environment variable holding the API key "
                                             "(default: OPENAI_API_KEY if set; the key is never logged or stored)")
    g.add_argument("--llm_concurrency", type=int, default=_LLM.concurrency,
                   help="openai: requests in flight per build process, over all endpoints (256 and more is fine: "
                        "one event loop, keep-alive connections)")
    g.add_argument("--llm_timeout", type=float, default=_LLM.timeout, help="openai: seconds per request")
    g.add_argument("--llm_http_retries", type=int, default=_LLM.http_retries,
                   help="openai: retries of one request on 429/5xx/timeouts, with backoff honouring Retry-After")
    g.add_argument("--llm_device", help="transformers: cpu, cuda, cuda:1, ... (default: cuda if available)")
    g.add_argument("--llm_dtype", default=_LLM.dtype, choices=["auto", "float32", "bfloat16", "float16"],
                   help="transformers: weights dtype")
    g.add_argument("--llm_batch_size", type=int, default=_LLM.batch_size, help="transformers: prompts per generate() call")
    g.add_argument("--llm_temperature", type=float, default=_LLM.temperature, help="sampling temperature of the first attempt "
                                                                       "(retries use at least 0.7)")
    g.add_argument("--llm_top_p", type=float, default=_LLM.top_p)
    g.add_argument("--llm_max_new_tokens", type=int, default=_LLM.max_new_tokens)
    g.add_argument("--llm_max_retries", type=int, default=_LLM.max_retries,
                   help="new attempts for a caption the validator rejected, before the row falls back to the template")
    g.add_argument("--llm_cache", action="append",
                   help="earlier answers to reuse: a folder of answer files (an earlier build folder or its "
                        ".audiosetmix/answers/, also as an fsspec URL), or a SQLite file (local engine; shared by "
                        "builds and processes on one machine). May be given several times. Every build also keeps "
                        "its own answers in <output_dir>/.audiosetmix/answers/, which a rerun reads back")
    g.add_argument("--llm_cache_namespace", help="names the endpoint(s) in cache keys (default: the sha256 of the "
                                                 "sorted --llm_base_url set); give the same name to share answers "
                                                 "between servers that answer alike")
    g.add_argument("--llm_reuse_rejected", action="store_true",
                   help="reuse cached answers the validator rejected (their rows fall back again, no request sent); "
                        "by default such an answer is asked again once per run, and the summary says how many")
    g.add_argument("--llm_retry_rejected", action="store_true",
                   help="the default (rejected cached answers are asked again); kept so that older commands run")
    g.add_argument("--llm_max_fallback_rate", type=_fraction, default=0.2, metavar="R",
                   help="stop the build (exit 2) when more than this share of rows fell back to template captions; "
                        "checked after each batch once min(50, all rows) rows are captioned, and at the end "
                        "(0-1, default 0.2; 1 never stops for fallback rows; a server that answers nothing at all still "
                        "stops the build, after about one --llm_timeout)")


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is not a fraction between 0 and 1")
    return value


def endpoint_id(base_urls: list[str] | str | None, namespace: str | None = None) -> str:
    """The cache's name for who answers: the namespace, else sha256 of the sorted URL set (never the URLs themselves)."""
    if namespace:
        return "ns:" + namespace
    urls = sorted({u.rstrip("/") for u in split_urls(base_urls)})
    return "sha256:" + hashlib.sha256(json.dumps(urls).encode("utf-8")).hexdigest()


def _local_path(location: str) -> Path | None:
    """The local path an `--llm_cache` names (a path or a file:// URL), or None for another URL."""
    if "://" in location and not location.startswith("file://"):
        return None
    return Path(location[len("file://"):] if location.startswith("file://") else location).expanduser()


def is_answer_folder(location: str) -> bool:
    """A URL or an existing folder is a folder of answer files; anything else a SQLite file."""
    path = _local_path(location)
    return path is None or path.is_dir() or location.endswith("/")


SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")


def check_cache_location(location: str) -> None:
    """Refuse an `--llm_cache` that would silently reuse nothing: a local folder that is not there, or a path
    that is neither an existing file nor the name of a new SQLite file (a mistyped folder would otherwise
    become an empty SQLite cache). Folders on object stores are read as they are (an absent one: no answers)."""
    path = _local_path(location)
    if path is None or path.is_dir() or path.is_file():
        return
    if location.endswith("/") or location.startswith("file://") or path.suffix.lower() not in SQLITE_SUFFIXES:
        raise SystemExit(f"error: --llm_cache {location}: no such folder or file; give an earlier build's output folder "
                         f"(or its {ANSWERS_DIR}/) to reuse its answers, or a file name ending in "
                         f"{', '.join(SQLITE_SUFFIXES)} for a new SQLite cache")


def _openai_settings(args) -> dict:
    """The HTTP server's part of the LLMConfig: endpoints checked (scheme, the key's variable set)."""
    if not args.llm_base_url:
        raise SystemExit("error: --captioner openai needs --llm_base_url (e.g. http://127.0.0.1:8000/v1)")
    for url in split_urls(args.llm_base_url):
        if not url.startswith(("http://", "https://")):
            raise SystemExit(f"error: --llm_base_url {url}: not an http:// or https:// URL (e.g. http://127.0.0.1:8000/v1)")
    if args.llm_api_key_env and args.llm_api_key_env not in os.environ:
        raise SystemExit(f"error: --llm_api_key_env names {args.llm_api_key_env}, which is not set")
    return dict(base_url=tuple(split_urls(args.llm_base_url)), api_key_env=args.llm_api_key_env or _LLM.api_key_env,
                concurrency=args.llm_concurrency, timeout=args.llm_timeout, http_retries=args.llm_http_retries,
                endpoint_id=endpoint_id(args.llm_base_url, getattr(args, "llm_cache_namespace", None)))


def caption_overrides(args, report_path: Path | None, answers_dir: str | None = None) -> dict:
    """Builder config overrides (`captioner`, `llm`: an LLMConfig) from the parsed arguments."""
    if args.captioner == "template":
        given = [flag for flag, value in (("--llm_model", args.llm_model), ("--llm_base_url", args.llm_base_url),
                                          ("--llm_cache", args.llm_cache)) if value]
        if given:  # LLM flags with the default captioner: the LLM would silently never be asked
            raise SystemExit(f"error: {', '.join(given)} given, but the captioner is the template grammar: add "
                             f"--captioner openai (an OpenAI-compatible server) or --captioner transformers")
        return {}
    if not args.llm_model:
        raise SystemExit(f"error: --captioner {args.captioner} needs --llm_model")
    llm = {"model": args.llm_model, "temperature": args.llm_temperature, "top_p": args.llm_top_p,
           "max_new_tokens": args.llm_max_new_tokens, "max_retries": args.llm_max_retries,
           "retry_rejected": not getattr(args, "llm_reuse_rejected", False)}
    if args.captioner == "openai":
        llm.update(_openai_settings(args))
    else:
        llm.update(device=args.llm_device, dtype=args.llm_dtype, batch_size=args.llm_batch_size,
                   endpoint_id=endpoint_id(None, getattr(args, "llm_cache_namespace", None) or "local-transformers"))
    for location in args.llm_cache or []:
        check_cache_location(location)
        if is_answer_folder(location):
            folder = location if "://" in location else str(Path(location).expanduser().resolve())
            llm["cache_folders"] = (*llm.get("cache_folders", ()), folder)
        elif "cache" in llm:
            raise SystemExit("error: --llm_cache names more than one SQLite file; give one (folders may be several)")
        elif getattr(args, "engine", "local") == "ray":
            raise SystemExit(f"error: --llm_cache {location} is a SQLite file, which the Ray engine's caption actors "
                             f"cannot share across machines: give earlier answers as a folder (an earlier build's "
                             f"output folder or its {ANSWERS_DIR}/); every build keeps its own there")
        else:
            llm["cache"] = str(Path(location).expanduser().resolve())
    if answers_dir is not None:
        llm["answers_dir"] = answers_dir
    if report_path is not None:
        llm["report"] = str(report_path)
    try:
        config = LLMConfig(**llm)
    except ValueError as error:  # "concurrency must be >= 1, got 0": each field is the flag --llm_<field>
        raise SystemExit(f"error: --llm_{error}") from None
    return {"captioner": args.captioner, "llm": config}


def caption_report_data(builder) -> tuple[dict | None, str]:
    """After a build: (report dict or None for template builds, the card's caption markdown)."""
    captioner = builder.row_maker().captioner
    if not isinstance(captioner, LLMCaptioner):
        return None, card_markdown(None, TEMPLATE_VERSION)
    report = captioner.summary()
    captioner.close()
    if captioner.report is not None:
        captioner.report.close()
    return report, card_markdown(report, TEMPLATE_VERSION)


def report_json(report: dict) -> str:
    return json.dumps(report, indent=2, sort_keys=True) + "\n"
