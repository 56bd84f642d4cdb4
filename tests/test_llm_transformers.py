"""The `transformers` captioner end to end with a tiny random causal LM and a tokenizer built offline.

Its captions are noise, so every row must fall back to the template, completely and reproducibly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import build_dataset

from audiosetmix_lib.captions.backend import Request, Sampling
from audiosetmix_lib.captions.prompt import EXAMPLES, build_messages
from audiosetmix_lib.captions.template_captioner import TemplateCaptioner
from audiosetmix_lib.captions.transformers_backend import TransformersBackend
from audiosetmix_lib.describe import describe
from audiosetmix_lib.recipe import Recipe

WORDS = "a an the dog siren bell rain wind engine loud quiet fast slow then while is heard followed by . , :".split()
CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|>{% endif %}")


def tiny_lm(path: Path, chat: bool) -> Path:
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[BOS]", "[EOS]"]
    vocab = {w: i for i, w in enumerate(specials + WORDS)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="[BOS]", eos_token="[EOS]", pad_token="[PAD]",
                                        unk_token="[UNK]", model_max_length=4096)
    if chat:
        tokenizer.chat_template = CHAT_TEMPLATE
    assert len(tokenizer) == len(vocab)  # the tiny-tokenizer trap: a vocabulary that silently collapsed
    tokenizer.save_pretrained(path)
    config = GPT2Config(vocab_size=len(vocab), n_positions=4096, n_embd=16, n_layer=1, n_head=2,
                        bos_token_id=2, eos_token_id=3, pad_token_id=0)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        GPT2LMHeadModel(config).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-lm")
    return {"chat": tiny_lm(root / "chat", True), "plain": tiny_lm(root / "plain", False)}


def test_backend_renders_chat_template_or_plain_turns(models):
    messages = build_messages(EXAMPLES[0][0])
    chat = TransformersBackend(str(models["chat"]), device="cpu")
    assert chat.has_chat_template() and chat.render(messages).startswith("<|system|>")
    plain = TransformersBackend(str(models["plain"]), device="cpu", batch_size=2)
    assert not plain.has_chat_template() and plain.render(messages).endswith("\n\nAssistant:")
    requests = [Request(messages, Sampling(max_new_tokens=5, seed=s)) for s in (0, 0, 1)]
    answers = plain.generate(requests)
    assert len(answers) == 3 and all(isinstance(a, str) and "\n" not in a for a in answers)
    assert plain.generate(requests) == answers  # sampling is seeded, without touching global state


def test_tiny_model_build_falls_back_for_every_row_and_rebuild_uses_the_cache(models, tmp_path):
    args = ["--train", "2", "--validation", "0", "--test", "0", "--num_negatives", "1", "--seed", "5",
            "--captioner", "transformers", "--llm_model", str(models["chat"]), "--llm_device", "cpu",
            "--llm_max_new_tokens", "6", "--llm_max_retries", "1", "--llm_batch_size", "4",
            "--llm_cache", str(tmp_path / "answers.sqlite"), "--llm_max_fallback_rate", "1"]  # all fall back: the point
    build_dataset(tmp_path / "one", *args)
    report = json.loads((tmp_path / "one" / "caption_report.json").read_text())

    import datasets

    ds = datasets.load_dataset(str(tmp_path / "one"), split="train").remove_columns(["audio", "negative_audio"])
    assert len(ds) == 2
    template = TemplateCaptioner()
    items = 0
    for row in ds:
        recipes = [Recipe.from_json(row["recipe"])] + [Recipe.from_json(n["recipe"]) for n in row["negatives"]]
        assert row["caption_source"] == "template-fallback" and row["prompt_version"] == "template-v1"
        assert [row["caption"]] + [n["caption"] for n in row["negatives"]] == template.caption_set(recipes)
        items += len(recipes)
        assert all(describe(r).events for r in recipes)
    assert report["captioner"] == "transformers" and report["fallback_rate"] == 1.0
    assert report["answers_validated"] == 2 * items and report["answers_accepted"] == 0
    assert report["requests_sent"] == 2 * items and report["cache_hits"] == 0
    card = (tmp_path / "one" / "README.md").read_text()
    assert "template-fallback" in card and "100.0 %" in card

    # a rejected cached answer is not trusted: asked again once per run (issue 25 item 1) ...
    build_dataset(tmp_path / "two", *args)
    again = json.loads((tmp_path / "two" / "caption_report.json").read_text())
    assert again["requests_sent"] == 2 * items and again["asked_again"] == 2 * items and again["cache_hits"] == 0
    # ... unless --llm_reuse_rejected: then the cache answers every prompt and nothing is sent
    build_dataset(tmp_path / "three", *args, "--llm_reuse_rejected")
    kept = json.loads((tmp_path / "three" / "caption_report.json").read_text())
    assert kept["requests_sent"] == 0 and kept["cache_hits"] == 2 * items
    assert kept["rejections_by_reason"] == report["rejections_by_reason"]
