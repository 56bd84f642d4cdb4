"""The `datasets` builder: a config (source, sizes, MixConfig, LLMConfig, seed) -> rows.

Use it through the `datasets` API (`datasets` >= 4 no longer runs loading scripts):

    from audiosetmix import AudioSetMix        # or: from audiosetmix_lib.builder import AudioSetMix
    builder = AudioSetMix(config_name="synth-small", train=100)
    builder.download_and_prepare()
    ds = builder.as_dataset()

The Hub layout (fixed shards, dataset card) comes from the CLI: `audiosetmix build --output_dir DIR`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import datasets
from datasets.builder import Key

from . import __version__
from .captions.captioner import make_captioner
from .config import LLMConfig, MixConfig
from .events import SPLITS
from .rows import RowMaker
from .sources import EventPool, make_source
from .sources.base import SourceError
from .transforms import TRANSFORMS


def description() -> str:
    """The dataset's one-line description, with the transforms registered now."""
    return f"Audio-caption pairs with modifiers ({', '.join(TRANSFORMS)}, order, overlap) and hard negatives."


_CITATION = """@article{xu2024audiosetmix,
  title   = {AudioSetMix: Enhancing Audio-Language Datasets with LLM-Assisted Augmentations},
  author  = {Xu, David and others},
  journal = {arXiv preprint arXiv:2405.11093},
  year    = {2024}
}"""


def features(sample_rate: int) -> datasets.Features:
    """The row schema (docs/design.md, "Rows")."""
    return datasets.Features(
        {
            "id": datasets.Value("string"),
            "audio": datasets.Audio(sampling_rate=sample_rate),
            "caption": datasets.Value("string"),
            "caption_source": datasets.Value("string"),
            "prompt_version": datasets.Value("string"),
            "negatives": datasets.List(
                {"caption": datasets.Value("string"), "kind": datasets.Value("string"), "recipe": datasets.Value("string"),
                 "direction": datasets.Value("string")}
            ),
            "labels": datasets.List(datasets.Value("string")),
            "modifiers": datasets.List(datasets.Value("string")),
            "recipe": datasets.Value("string"),
            "duration": datasets.Value("float32"),
            **audio_negative_features(sample_rate),
        }
    )


def audio_negative_features(sample_rate: int) -> dict:
    """The counterfactual clips of a row (`--audio_negatives`): same rate and codec as `audio`,
    and the index in `negatives` of each."""
    return {
        "negative_audio": datasets.List(datasets.Audio(sampling_rate=sample_rate)),
        "negative_audio_index": datasets.List(datasets.Value("int32")),
    }


@dataclass
class AudioSetMixConfig(datasets.BuilderConfig):
    """A build: which source, how many rows per split, the sampling config, the seed."""

    source: str = "synth"
    source_options: dict = field(default_factory=dict)
    sample_rate: int = 16000
    train: int = 2000
    validation: int = 250
    test: int = 250
    seed: int = 0
    num_negatives: int = 3
    audio_negatives: int = 1  # counterfactual clips rendered per row (0: none)
    rows_per_shard: int = 500
    mix: MixConfig | dict = field(default_factory=MixConfig)  # a dict is checked into a MixConfig
    captioner: str = "template"  # template (offline) | transformers | openai
    llm: LLMConfig | dict = field(default_factory=LLMConfig)  # a dict is checked into an LLMConfig

    def __setattr__(self, name: str, value) -> None:
        # `datasets` sets config overrides with setattr after construction: check them here too
        if name == "mix" and not isinstance(value, MixConfig):
            value = MixConfig.from_dict(value)
        elif name == "llm" and not isinstance(value, LLMConfig):
            value = LLMConfig.from_dict(value)
        super().__setattr__(name, value)

    def num_examples(self) -> dict[str, int]:
        return {"train": self.train, "validation": self.validation, "test": self.test}

    def mix_config(self) -> MixConfig:
        return self.mix


class AudioSetMix(datasets.GeneratorBasedBuilder):
    """Renders AudioSetMix rows from a source of labelled events; each row is a pure function of (config, seed, split, index)."""

    VERSION = datasets.Version(__version__)
    BUILDER_CONFIG_CLASS = AudioSetMixConfig
    BUILDER_CONFIGS = [
        AudioSetMixConfig(name="synth-small", description="Embedded synth source, 2000/250/250 rows at 16 kHz (default)."),
        AudioSetMixConfig(name="synth-48k", description="Embedded synth source at 48 kHz (CLAP's rate).", sample_rate=48000),
        AudioSetMixConfig(name="folder", description="Your own audio in the audiofolder layout (--source_path).", source="folder"),
        AudioSetMixConfig(name="audioset", description="Temporally-strong AudioSet labels + clips.", source="audioset", source_options={"min_event_seconds": 2.0}),
        AudioSetMixConfig(name="hf", description="Any datasets dataset with audio and label columns.", source="hf"),
    ]
    DEFAULT_CONFIG_NAME = "synth-small"

    # `datasets` names a builder after its module (`builder`); the dataset's name is fixed here, so
    # cache folders and `info.builder_name` read `audiosetmix` wherever the class lives
    @property
    def name(self) -> str:
        return "audiosetmix"

    @name.setter
    def name(self, _module_name: str) -> None:
        pass

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=description(),
            features=features(self.config.sample_rate),
            citation=_CITATION,
            homepage="https://arxiv.org/abs/2405.11093",
        )

    def row_maker(self):
        """Scan the source once (bad metadata raises here, before any rendering)."""
        if getattr(self, "_row_maker", None) is None:
            source = make_source(self.config.source, **self.config.source_options)
            pool = EventPool(source.events())
            mix = self.config.mix
            captioner = make_captioner(self.config.captioner, self.config.llm, pool.all_classes(),
                                       raw_labels=sorted(source.label_changes))
            self._row_maker = RowMaker(source, pool, mix, self.config.seed,
                                       self.config.sample_rate, self.config.num_negatives, captioner,
                                       audio_negatives=self.config.audio_negatives)
        return self._row_maker

    def _split_generators(self, dl_manager):
        maker = self.row_maker()
        generators = []
        for split in SPLITS:
            n = self.config.num_examples()[split]
            if n <= 0:
                continue
            if not maker.pool.classes(split):
                raise SourceError(f"split {split!r} has no events in the {self.config.source!r} source; "
                                 f"set --{split} 0 or add data")
            # work units for num_proc (and LLM batches); the written shards are fixed later by rows_per_shard
            size = min(self.config.rows_per_shard, 50)
            chunks = [(start, min(n, start + size)) for start in range(0, n, size)]
            generators.append(datasets.SplitGenerator(name=split, gen_kwargs={"split": split, "chunks": chunks}))
        return generators

    def _generate_examples(self, split: str, chunks: list[tuple[int, int]]):
        maker = self.row_maker()
        for start, stop in chunks:
            shard = start // self.config.rows_per_shard  # (shard, index) keys: deterministic
            # one batch per chunk: every caption and negative of the chunk goes to the captioner at once
            for index, row in zip(range(start, stop), maker.rows(split, range(start, stop)), strict=True):
                yield Key(shard, index), row

