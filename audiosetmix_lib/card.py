"""Fill `dataset_card.md` into the built dataset's README.md (Hub card with YAML header)."""

from __future__ import annotations

import json
from collections import Counter
from importlib import resources
from pathlib import Path
from string import Template

import fsspec
import pyarrow.parquet as pq

from . import __version__
from .config import MixConfig
from .hub_layout import configs_yaml, dataset_info_yaml
from .recipe import RECIPE_VERSION
from .sources.report import card_markdown
from .transforms import MODIFIER_NAMES, TRANSFORMS, resolve_settings, words

CARD_TEMPLATE_NAME = "dataset_card.md"


def modifier_values(mix: MixConfig) -> dict:
    """The card's lists of modifiers, written from the transform registry and this build's settings."""
    return {
        "modifier_pairs": ", ".join(f"{MODIFIER_NAMES[(n, 'up')]} or {MODIFIER_NAMES[(n, 'down')]}" for n in TRANSFORMS),
        "modifier_names": ", ".join(f"`{name}`" for name in MODIFIER_NAMES.values()),
        "transform_names": ", ".join(TRANSFORMS),
        "modifier_section": modifier_section(mix),
    }


def modifier_section(mix: MixConfig) -> str:
    """How each modifier is made in this build (its ranges and probability) and the words captions use for it."""
    settings = resolve_settings(mix.transforms)

    def said(name: str, direction: str) -> str:
        forms = words((name, direction))
        return f"**{MODIFIER_NAMES[(name, direction)]}**: " + ", ".join(f"_{w}_" for w in (*forms.adj, *forms.adv))

    lines = ["| transform | up | down | how it is made | probability per event |", "|---|---|---|---|---|"]
    lines += [f"| {name} | {said(name, 'up')} | {said(name, 'down')} | {module.definition(settings[name])} | "
              f"{settings[name].probability:g} |" for name, module in TRANSFORMS.items()]
    return "\n".join([
        f"Every event is first set to one absolute level (RMS of its active frames at {mix.reference_dbfs:g} dBFS), "
        "then transformed; the table gives this build's settings (`transforms` in the mix settings above) and the "
        "words the template writes for each direction (an LLM caption may also use the validator's other words).", "",
        *lines, "",
        f"{mix.min_events}-{mix.max_events} events per clip, at most {mix.max_duration:g} s. The mix is never "
        f"normalised; a peak limiter at {mix.limiter_threshold_dbfs:g} dBFS only catches peaks."])


def card_template() -> str:
    """The top-level `dataset_card.md`: copied into the package by the wheel's build hook (setup.py), read
    from the top of the checkout when the package runs from one."""
    packaged = resources.files("audiosetmix_lib").joinpath(CARD_TEMPLATE_NAME)
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parents[1] / CARD_TEMPLATE_NAME).read_text(encoding="utf-8")


LICENSES = {"synth": "cc-by-4.0", "audioset": "cc-by-4.0", "folder": "other", "hf": "other"}


def yaml_header(builder, split_sizes: dict[str, int], split_bytes: dict[str, int] | None = None) -> str:
    config = builder.config
    lines = [
        f"license: {LICENSES.get(config.source, 'other')}",
        "task_categories:",
        "- audio-classification",
        "- text-to-audio",
        "language:",
        "- en",
        "tags:",
        "- audio",
        "- audio-captioning",
        "- clap",
        "- hard-negatives",
        "- synthetic-mixtures",
        f"pretty_name: AudioSetMix ({config.name})",
        configs_yaml(list(split_sizes)),
        dataset_info_yaml(builder.info.features, split_sizes,
                          split_bytes if split_bytes is not None else
                          {name: info.num_bytes for name, info in (builder.info.splits or {}).items()}),
    ]
    return "\n".join(lines)


def audio_column_bytes(files) -> dict[str, int]:
    """Bytes on disk of the `audio` and `negative_audio` columns, summed from the shards' Parquet footers.

    The card is written after the shards, from their text columns only; the footers say what the
    audio takes without reading it (a footer is a few KiB, also from an object store)."""
    totals = {"audio": 0, "negative_audio": 0}
    for file in files:
        with fsspec.open(str(file), "rb") as f:
            metadata = pq.ParquetFile(f).metadata
        for group in range(metadata.num_row_groups):
            for column in range(metadata.num_columns):
                chunk = metadata.row_group(group).column(column)
                top = chunk.path_in_schema.split(".")[0]
                if top in totals and chunk.path_in_schema.endswith(".bytes"):
                    totals[top] += chunk.total_compressed_size
    return totals


def audio_negatives_cost(rows: int, audio_bytes: dict[str, int]) -> str:
    """Storage of the counterfactual clips relative to the rows' own audio (the card's N-cost line)."""
    own, extra = audio_bytes.get("audio", 0), audio_bytes.get("negative_audio", 0)
    if not rows or not own:
        return "no audio"
    return (f"{extra / rows / 1024:.1f} KiB of FLAC per row beside {own / rows / 1024:.1f} KiB for `audio`: "
            f"x{(own + extra) / own:.2f} the audio bytes, and one render per clip at build time")


def card_text(output_dir: Path, builder, prepared, skipped, build_seconds: float, num_proc: int, extra: dict | None = None,
              split_bytes: dict[str, int] | None = None, audio_bytes: dict[str, int] | None = None) -> str:
    """The filled card (the build writes it last, atomically: `output.contract.BuildOutput.finish`).

    `prepared`: the rows without audio; `audio_bytes`: what the audio columns take (`audio_column_bytes`)."""
    config = builder.config
    sizes = {split: len(prepared[split]) for split in prepared}
    sources = Counter()
    for split in prepared:
        sources.update(f"{s} / {v}" for s, v in zip(prepared[split]["caption_source"], prepared[split]["prompt_version"], strict=True))
    values = {
        "yaml_header": yaml_header(builder, sizes, split_bytes),
        "config_name": config.name,
        "source_name": config.source,
        "seed": config.seed,
        "sample_rate": config.sample_rate,
        "rows": ", ".join(f"{split}: {n}" for split, n in sizes.items()),
        "num_negatives": config.num_negatives,
        "audio_negatives": config.audio_negatives,
        "library_version": __version__,
        "recipe_version": RECIPE_VERSION,
        "prompt_versions": ", ".join(f"{k} ({n} rows)" for k, n in sorted(sources.items())),
        "build_seconds": f"{build_seconds:.1f}",
        "num_proc": num_proc,
        "mix_json": json.dumps(config.mix_config().to_dict(), indent=2, sort_keys=True),
        "source_json": json.dumps(builder.row_maker().source.spec(), indent=2, sort_keys=True, ensure_ascii=False),
        "skipped_summary": card_markdown(builder.row_maker().source),
        "load_path": Path(output_dir).name,
        "license_note": builder.row_maker().source.license_note(),
        "citation": builder.info.citation,
        "statistics": "_Not computed for this build._",  # the build passes them in `extra`
        "caption_report": "_No caption report for this build._",  # the build passes it in `extra`
        "verification": "_Not verified while building (`build --verify`); `audiosetmix verify` checks a built dataset._",
    }
    values["audio_negatives_cost"] = audio_negatives_cost(sum(sizes.values()), audio_bytes or {})
    values.update(modifier_values(config.mix_config()))
    values.update(extra or {})
    return Template(card_template()).safe_substitute(values)
