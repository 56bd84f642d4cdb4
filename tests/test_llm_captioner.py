"""The LLM captioner's logic: prompt shape, retries, all-or-nothing fallback, duplicates, cache accounting."""

from __future__ import annotations

import json
import threading
from collections import Counter

from audiosetmix_lib.captions.backend import Sampling
from audiosetmix_lib.captions.cache import AnswerCache
from audiosetmix_lib.captions.captioner import CaptionSet, LLMCaptioner
from audiosetmix_lib.captions.openai_backend import OpenAIBackend
from audiosetmix_lib.captions.prompt import (
    DATA_CLOSE,
    DATA_OPEN,
    EXAMPLES,
    PROMPT_VERSION,
    SYSTEM,
    build_messages,
    parse_data_block,
    prompt_text,
)
from audiosetmix_lib.captions.template_captioner import TemplateCaptioner
from audiosetmix_lib.config import MixConfig
from audiosetmix_lib.describe import describe
from audiosetmix_lib.events import Event
from audiosetmix_lib.recipe import EventSpec, Recipe
from audiosetmix_lib.relations import layout
from audiosetmix_lib.sampler import describe_settings, render_settings
from audiosetmix_lib.testing.mock_server import MockChatServer, Reply, good_caption, user_content

LOUD = {"volume": {"direction": "up", "gain_db": 8.0}}
QUIET = {"volume": {"direction": "down", "gain_db": -12.0}}


def make_recipe(specs, index: int = 0) -> Recipe:
    """specs: (label, transforms, relation) per event."""
    events = [EventSpec(Event(label, label, label, label, 0.0, 2.0, "train"), 0.0, 2.0, dict(t), r, 0.2, 0.4)
              for label, t, r in specs]
    return Recipe("train", index, 0, 16000, {"name": "test"}, layout(events), render_settings(MixConfig()),
                  describe_settings(MixConfig()), caption_seed=index)


def caption_set(row: str, recipes: list[Recipe]) -> CaptionSet:
    return CaptionSet(row, recipes, TemplateCaptioner().caption_set(recipes))


def captioner(url: str, cache=None, max_retries: int = 1) -> LLMCaptioner:
    backend = OpenAIBackend(base_url=url, model="mock", concurrency=4, timeout=5.0, http_retries=0)
    return LLMCaptioner(backend, "mock", Sampling(temperature=0.0), max_retries=max_retries, cache=cache)


def test_prompt_has_system_few_shots_and_one_data_block():
    recipe = make_recipe([("Dog", LOUD, None), ("Siren", {}, "follow")])
    messages = build_messages(describe(recipe))
    assert [m["role"] for m in messages] == ["system"] + ["user", "assistant"] * len(EXAMPLES) + ["user"]
    assert 2 <= len(EXAMPLES) <= 3 and messages[0]["content"] == SYSTEM and PROMPT_VERSION == "prompt-v2"
    last = messages[-1]["content"]
    assert last.count(DATA_OPEN) == 1 and last.count(DATA_CLOSE) == 1
    data = parse_data_block(last)
    assert [s["label"] for s in data["sounds"]] == ["Dog", "Siren"]
    assert data["sounds"][0]["qualities"] == ["loud"] and data["sounds"][1]["starts"] == "after sound 1 ends"
    for rule in ("every sound", "order", "Invent nothing", "one sentence", "25 words", "caption only"):
        assert rule in SYSTEM


def test_prompt_text_is_the_sorted_compact_json_of_the_messages():
    """The cache key hashes this text: it must stay the JSON of the message list whatever the messages are."""
    canonical = lambda m: json.dumps(m, ensure_ascii=False, sort_keys=True, separators=(",", ":"))  # noqa: E731
    built = build_messages(describe(make_recipe([("Dog", LOUD, None), ("Siren", QUIET, "overlap")])))
    assert prompt_text(built) == canonical(built)
    edited = [dict(m) for m in built]
    edited[0]["content"] = SYSTEM + " Ünïcode."
    edited[1]["name"] = "example"
    odd = [*edited, {"role": "user", "content": [{"type": "text", "text": "a \"quoted\" <tag>"}]}, {}]
    assert prompt_text(odd) == canonical(odd)
    assert prompt_text([]) == "[]"


class Script:
    """Answers by the first sound's label: 'bad' labels always get a caption that misses an event."""

    def __init__(self, bad: set[str] = frozenset()) -> None:
        self.bad, self.seeds, self.lock = bad, Counter(), threading.Lock()

    def __call__(self, body, data):
        with self.lock:
            self.seeds[body["seed"]] += 1
        labels = [s["label"] for s in data["sounds"]]
        if labels[0] in self.bad:
            return Reply(text="Something is heard.", tag="missing_event")
        return Reply(tag="good")


def test_one_bad_negative_sends_the_whole_set_to_the_template_after_retries(tmp_path):
    good_set = caption_set("train-0", [make_recipe([("Dog", LOUD, None)]), make_recipe([("Dog", QUIET, None)])])
    bad_set = caption_set("train-1", [make_recipe([("Bell", {}, None), ("Rain", {}, "follow")], 1),
                                      make_recipe([("Wind", {}, None), ("Rain", {}, "follow")], 1)])
    script = Script(bad={"Wind"})
    cache = AnswerCache(tmp_path / "c.sqlite")
    with MockChatServer(script) as server:
        c = captioner(server.url, cache, max_retries=2)
        out = c.caption_sets([good_set, bad_set])
        assert len(server.log) == 4 + 2  # 4 captions, then 2 retries of the bad one
        assert sorted(script.seeds.items()) == [(0, 4), (1, 1), (2, 1)]
        assert out[0].source == "llm:mock" and out[0].prompt_version == PROMPT_VERSION
        assert out[0].captions == [good_caption(parse_data_block(build_messages(describe(r))[-1]["content"]))
                                   for r in good_set.recipes]
        assert out[1].source == "template-fallback" and out[1].captions == bad_set.fallback
        assert out[1].prompt_version == "template-v1"
        summary = c.summary()
        assert summary["fallback_by_reason"] == {"missing_event": {"count": 1, "rate": 0.5}}
        assert summary["rejections_by_reason"]["missing_event"]["count"] == 3
        assert summary["answers_validated"] == 6 and summary["acceptance_rate"] == 0.5
        assert summary["captions"] == {"accepted_first_try": 3, "failed": 1}
        # the same batch again: the accepted answers from the cache, the 3 rejected ones asked again, same result
        again = captioner(server.url, cache, max_retries=2)
        assert [o.captions for o in again.caption_sets([good_set, bad_set])] == [o.captions for o in out]
        assert len(server.log) == 9 and again.summary()["cache_hits"] == 3 and again.summary()["asked_again"] == 3
        # the rejected answers kept on request: all from the cache
        kept = captioner(server.url, cache, max_retries=2)
        kept.retry_rejected = False
        assert [o.captions for o in kept.caption_sets([good_set, bad_set])] == [o.captions for o in out]
        assert len(server.log) == 9 and kept.summary()["cache_hits"] == 6


def test_two_texts_that_read_the_same_fall_back_as_duplicate():
    # a loose caption can be valid for a "follow" recipe and its "overlap" negative; a row must tell them apart
    follow = make_recipe([("Dog", LOUD, None), ("Rain", {}, "follow")])
    overlap = make_recipe([("Dog", LOUD, None), ("Rain", {}, "overlap")])
    assert describe(overlap).events[1].background
    text = "A dog barks loudly, then rain falls in the background."
    with MockChatServer(lambda body, data: Reply(text=text)) as server:
        c = captioner(server.url)
        [out] = c.caption_sets([caption_set("train-0", [follow, overlap])])
    assert all(c.validator.check(text, describe(r)).ok for r in (follow, overlap))
    assert out.source == "template-fallback" and out.captions == caption_set("x", [follow, overlap]).fallback
    assert c.summary()["fallback_by_reason"]["duplicate"]["count"] == 1


def test_a_negative_that_rewords_an_unchanged_modifier_falls_back():
    """'a deep dog ... then rain' vs its order negative 'rain ... then a low-pitched dog': valid captions both,
    but the negative tells itself by its wording, so the set falls back to the template."""
    low = {"pitch": {"direction": "down", "semitones": -4.0}}
    row = make_recipe([("Dog", low, None), ("Rain", {}, "follow")])
    swapped = make_recipe([("Rain", {}, None), ("Dog", low, "follow")])
    texts = {"Dog": "A deep dog barks, then rain falls.", "Rain": "Rain falls, then a low-pitched dog barks."}

    def answer(body, data):
        first = data["sounds"][0]["name"].lower()
        return Reply(text=texts["Dog" if "dog" in first else "Rain"])

    with MockChatServer(answer) as server:
        c = captioner(server.url)
        [out] = c.caption_sets([caption_set("train-0", [row, swapped])])
    assert all(c.validator.check(t, describe(r)).ok for t, r in zip(texts.values(), (row, swapped), strict=True))
    assert out.source == "template-fallback" and c.summary()["fallback_by_reason"]["reworded"]["count"] == 1
    texts["Rain"] = "Rain falls, then a deep dog barks."  # the caption's own word: kept
    with MockChatServer(answer) as server:
        [out] = captioner(server.url).caption_sets([caption_set("train-1", [row, swapped])])
    assert out.source == "llm:mock"


def test_retries_are_sampled_even_when_the_first_attempt_is_greedy():
    c = LLMCaptioner(OpenAIBackend(base_url="http://127.0.0.1:9/v1", model="m"), "m", Sampling(temperature=0.0))
    assert c.sampling_for(0).temperature == 0.0 and c.sampling_for(0).seed == 0
    assert c.sampling_for(2).temperature >= 0.7 and c.sampling_for(2).seed == 2


def test_template_captioner_batch_interface_is_the_fallback_text():
    recipes = [make_recipe([("Dog", LOUD, None)]), make_recipe([("Dog", QUIET, None)])]
    s = caption_set("train-0", recipes)
    [out] = TemplateCaptioner().caption_sets([s])
    assert out.captions == s.fallback and out.source == "template" and out.prompt_version == "template-v1"


def test_user_content_helper():
    assert user_content({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                                      {"role": "user", "content": "c"}]}) == "c"


def test_reasoning_block_is_not_part_of_the_caption():
    from audiosetmix_lib.captions.captioner import clean_answer

    assert clean_answer("<think>\nthe rules say...\n</think>\n\nA dog barks loudly.\n") == "A dog barks loudly."
    assert clean_answer("A dog <think> barks") == "A dog <think> barks"  # only a leading block is removed
