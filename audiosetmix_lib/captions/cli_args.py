"""The `build` command's caption options, and what the build writes about its captions.

Kept out of cli.py so the captioner's flags live next to the code that reads them. The API
key itself never passes through here: only the *name* of its environment variable.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..config import LLMConfig
from .captioner import CAPTIONERS, LLMCaptioner
from .report import card_markdown
from .template import TEMPLATE_VERSION

_LLM = LLMConfig()  # the flags' defaults are the config's


def add_caption_args(p) -> None:
    g = p.add_argument_group("captions", "who writes captions and negatives (docs/design.md, Captions)")
    g.add_argument("--captioner", choices=CAPTIONERS, default="template",
                   help="template (offline grammar, default), transformers (local model) or openai (any "
                        "OpenAI-compatible server)")
    g.add_argument("--llm_model", help="transformers: model id or path; openai: the server's model name")
    g.add_argument("--llm_base_url", help="openai: base URL, e.g. http://127.0.0.1:8000/v1")
    g.add_argument("--llm_api_key_env", help="openai: name of the environment variable holding the API key "
                                             "(default: OPENAI_API_KEY if set; the key is never logged or stored)")
    g.add_argument("--llm_concurrency", type=int, default=_LLM.concurrency, help="openai: requests in flight")
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
    g.add_argument("--llm_cache", help="SQLite file caching every answer (safe to share between builds and "
                                       "processes); a rebuild sends no request for a prompt already answered")


def caption_overrides(args, report_path: Path | None) -> dict:
    """Builder config overrides (`captioner`, `llm`: an LLMConfig) from the parsed arguments."""
    if args.captioner == "template":
        return {}
    if not args.llm_model:
        raise SystemExit(f"error: --captioner {args.captioner} needs --llm_model")
    llm = {"model": args.llm_model, "temperature": args.llm_temperature, "top_p": args.llm_top_p,
           "max_new_tokens": args.llm_max_new_tokens, "max_retries": args.llm_max_retries}
    if args.captioner == "openai":
        if not args.llm_base_url:
            raise SystemExit("error: --captioner openai needs --llm_base_url (e.g. http://127.0.0.1:8000/v1)")
        if args.llm_api_key_env and args.llm_api_key_env not in os.environ:
            raise SystemExit(f"error: --llm_api_key_env names {args.llm_api_key_env}, which is not set")
        llm.update(base_url=args.llm_base_url, api_key_env=args.llm_api_key_env or _LLM.api_key_env,
                   concurrency=args.llm_concurrency, timeout=args.llm_timeout, http_retries=args.llm_http_retries)
    else:
        llm.update(device=args.llm_device, dtype=args.llm_dtype, batch_size=args.llm_batch_size)
    if args.llm_cache:
        llm["cache"] = str(Path(args.llm_cache).expanduser().resolve())
    if report_path is not None:
        llm["report"] = str(report_path)
    return {"captioner": args.captioner, "llm": LLMConfig(**llm)}


def caption_report(builder, output_dir: Path) -> tuple[dict | None, str]:
    """After a build: (report dict or None, card markdown). Writes `caption_report.json` for LLM builds."""
    captioner = builder.row_maker().captioner
    path = Path(output_dir) / "caption_report.json"
    if not isinstance(captioner, LLMCaptioner):
        path.unlink(missing_ok=True)  # a stale report of an earlier LLM build into this folder
        return None, card_markdown(None, TEMPLATE_VERSION)
    report = captioner.summary()
    if captioner.report is not None:
        captioner.report.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return report, card_markdown(report, TEMPLATE_VERSION)
