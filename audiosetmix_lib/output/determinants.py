"""What determines a build's row bytes, as plain JSON: the input of the manifest's `build_hash`.

Included: library, format and renderer versions, config, seed, split sizes, rows per shard, mix, the
source's spec and a fingerprint of its scanned events, the captioner with its model, sampling
and prompt version. Left out on purpose: process count, engine, concurrency, timeouts,
LLM endpoints and cache locations (they change how fast rows come, not which bytes).
A source file edited in place without changing its events is not detected (documented).
"""

from __future__ import annotations

import hashlib
import json

from .. import __version__
from ..captions.prompt import PROMPT_VERSION
from ..captions.template import TEMPLATE_VERSION
from ..recipe import RECIPE_VERSION
from ..render import RENDER_VERSION

LLM_KEYS = ("model", "temperature", "top_p", "max_new_tokens", "max_retries")


def events_fingerprint(events) -> str:
    digest = hashlib.sha256()
    for event in events:
        digest.update(json.dumps(event.to_dict(), sort_keys=True, ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def build_determinants(config, source_spec: dict, events) -> dict:
    """`config` is an AudioSetMixConfig; `events` the scanned source events."""
    llm = config.llm.to_dict()  # an LLMConfig
    captioner = {"name": config.captioner, "template_version": TEMPLATE_VERSION}
    if config.captioner != "template":
        captioner.update({k: llm.get(k) for k in LLM_KEYS}, prompt_version=PROMPT_VERSION)
    return {
        "library_version": __version__,
        "recipe_version": RECIPE_VERSION,
        "render_version": RENDER_VERSION,
        "config_name": config.name,
        "source": source_spec,
        "source_events": events_fingerprint(events),
        "sample_rate": config.sample_rate,
        "sizes": config.num_examples(),
        "seed": config.seed,
        "num_negatives": config.num_negatives,
        "rows_per_shard": config.rows_per_shard,
        "mix": config.mix.to_dict(),
        "captioner": captioner,
    }
