"""Typed configuration: LLMConfig and MixConfig hold every default once and reject unknown keys,
and the builder config keeps them typed however `datasets` sets them."""

from __future__ import annotations

import pytest

from audiosetmix_lib.builder import AudioSetMix, AudioSetMixConfig
from audiosetmix_lib.captions.captioner import LLMCaptioner, make_captioner
from audiosetmix_lib.captions.cli_args import add_caption_args, caption_overrides
from audiosetmix_lib.captions.protocol import Captioner
from audiosetmix_lib.captions.template_captioner import TemplateCaptioner
from audiosetmix_lib.config import LLMConfig, MixConfig


def test_llm_config_rejects_unknown_keys_and_bad_values():
    with pytest.raises(ValueError, match="unknown LLMConfig fields: \\['temprature'\\]"):
        LLMConfig.from_dict({"temprature": 0.5})
    with pytest.raises(ValueError, match="top_p"):
        LLMConfig(top_p=0.0)
    with pytest.raises(ValueError, match="dtype"):
        LLMConfig(dtype="float8")
    assert LLMConfig.from_dict({"model": "m", "max_retries": 0}) == LLMConfig(model="m", max_retries=0)


def test_cli_flags_map_onto_llm_config():
    import argparse

    p = argparse.ArgumentParser()
    add_caption_args(p)
    args = p.parse_args(["--captioner", "transformers", "--llm_model", "tiny-llm", "--llm_top_p", "0.5"])
    llm = caption_overrides(args, None)["llm"]
    assert isinstance(llm, LLMConfig)
    assert (llm.model, llm.top_p, llm.temperature, llm.batch_size) == ("tiny-llm", 0.5, 0.7, 8)  # 0.7, 8: the defaults


def test_builder_config_is_typed_from_a_dict_and_from_setattr(tmp_path):
    config = AudioSetMixConfig(name="x", mix={"overlap_probability": 0.5}, llm={"model": "m"})
    assert config.mix == MixConfig(overlap_probability=0.5) and config.llm == LLMConfig(model="m")
    with pytest.raises(ValueError, match="unknown MixConfig fields"):
        AudioSetMixConfig(name="x", mix={"overlap_probablity": 0.5})
    # `datasets` applies overrides of a named config with setattr
    builder = AudioSetMix(config_name="synth-small", cache_dir=str(tmp_path), mix={"max_events": 2}, llm={"model": "m"})
    assert builder.config.mix == MixConfig(max_events=2) and builder.config.llm.model == "m"
    with pytest.raises(ValueError, match="unknown LLMConfig fields"):
        AudioSetMix(config_name="synth-small", cache_dir=str(tmp_path / "b"), llm={"modle": "m"})


def test_captioners_satisfy_the_protocol(tmp_path):
    """What RowMaker relies on, by behaviour: one captioned set per set, in order, one caption per recipe, the
    captioner's own prompt version; the template writes the fallback texts, the LLM its server's answers."""
    from audiosetmix_lib.captions.prompt import parse_data_block
    from audiosetmix_lib.testing.mock_server import MockChatServer, good_caption

    maker = AudioSetMix(config_name="synth-small", cache_dir=str(tmp_path / "b"), train=4).row_maker()
    sets = [maker.plan("train", index)[2] for index in range(4)]
    prompts = _prompts_by_set(sets)
    with MockChatServer() as server:
        template = make_captioner("template", None)
        llm = make_captioner("openai", LLMConfig(model="m", base_url=server.url, max_retries=0))
        assert isinstance(template, TemplateCaptioner) and isinstance(llm, LLMCaptioner)
        outputs = []
        for captioner in (template, llm):
            checked: Captioner = captioner
            out = checked.caption_sets(sets, unit="train-00000-of-00001")
            assert len(out) == len(sets) and [len(o.captions) for o in out] == [len(s.recipes) for s in sets]
            assert {o.prompt_version for o in out} == {checked.prompt_version}
            outputs.append(out)
        llm.close()
    by_template, by_llm = outputs
    assert [o.captions for o in by_template] == [s.fallback for s in sets]
    assert {o.source for o in by_llm} == {"llm:m"}
    assert [o.captions for o in by_llm] == [[good_caption(parse_data_block(text)) for text in texts] for texts in prompts]
    assert sorted(entry["prompt"] for entry in server.log) == sorted(text for texts in prompts for text in texts)
    with pytest.raises(ValueError, match="unknown captioner"):
        make_captioner("gpt", None)


def _prompts_by_set(sets) -> list[list[str]]:
    from audiosetmix_lib.captions.prompt import build_messages
    from audiosetmix_lib.describe import describe

    return [[build_messages(describe(recipe))[-1]["content"] for recipe in s.recipes] for s in sets]
