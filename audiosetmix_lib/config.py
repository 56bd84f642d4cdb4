"""Composition and level parameters in one validated object (the paper's values as defaults)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

# Flat keys of recipe version 1 and where their values live now (the error names the new form).
MOVED_FIELDS = {
    "transform_probability": '"transforms": {"<name>": {"probability": p}} (each transform has its own)',
    "louder_db": '"transforms": {"volume": {"up": [low, high]}}',
    "quieter_db": '"transforms": {"volume": {"down": [low, high]}}',
    "higher_semitones": '"transforms": {"pitch": {"up": [low, high]}}',
    "lower_semitones": '"transforms": {"pitch": {"down": [low, high]}}',
    "faster_tempo": '"transforms": {"speed": {"up": [low, high]}}',
    "slower_tempo": '"transforms": {"speed": {"down": [low, high]}}',
    "longer_repeats": '"transforms": {"duration": {"up": [low, high]}}',
    "shorter_keep": '"transforms": {"duration": {"down": [low, high]}}',
}


@dataclass(frozen=True)
class MixConfig:
    """How recipes are composed. Per-transform ranges and probabilities live in the transform
    modules (`audiosetmix_lib/transforms/`); `transforms` overrides them with plain data."""

    min_events: int = 1
    max_events: int = 5
    # per-transform settings overrides, plain data validated by the transform registry at build
    # time, e.g. {"pitch": {"probability": 0.5, "up": [3, 6]}}; defaults live in each transform module
    transforms: dict = field(default_factory=dict)
    # composition
    overlap_probability: float = 0.3
    overlap_onset: tuple[float, float] = (0.2, 0.6)  # fraction of the previous event elapsed
    follow_gap: tuple[float, float] = (0.0, 0.5)  # seconds
    background_db: float = 6.0  # an overlapping event this far below the other is "in the background"
    max_duration: float = 10.0
    min_event_share: float = 1.0  # seconds: below this, a "follow" is turned into an overlap
    fade_seconds: float = 0.02
    # levels
    reference_dbfs: float = -26.0
    active_range_db: float = 30.0
    limiter_threshold_dbfs: float = -1.0

    def __post_init__(self) -> None:
        if not 1 <= self.min_events <= self.max_events:
            raise ValueError(f"need 1 <= min_events <= max_events, got {self.min_events}, {self.max_events}")
        if not 0.0 <= self.overlap_probability <= 1.0:
            raise ValueError(f"overlap_probability must be in [0, 1], got {self.overlap_probability}")
        if not isinstance(self.transforms, dict):
            raise ValueError(f"transforms must be an object of per-transform settings, got {self.transforms!r}")
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple) and not value[0] <= value[1]:
                raise ValueError(f"{f.name} must be a (low, high) range, got {value}")
        if self.max_duration <= 0:
            raise ValueError("max_duration must be positive")

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> "MixConfig":
        known = {f.name for f in fields(cls)}
        moved = sorted(set(data) & set(MOVED_FIELDS))
        if moved:
            hints = "; ".join(f"{k} -> {MOVED_FIELDS[k]}" for k in moved)
            raise ValueError(f"MixConfig fields moved into per-transform settings: {hints}")
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown MixConfig fields: {sorted(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


@dataclass(frozen=True)
class LLMConfig:
    """How an LLM captioner is set up: every default in one place (the CLI flags map onto these fields).

    `model` is the transformers model id/path or the server's model name; `base_url` ... `backoff`
    apply to `openai`, `device` ... `batch_size` to `transformers`; `cache` and `report` are SQLite
    files (the answer cache, shared by processes; the per-build report store); `endpoint_id` and
    `retry_rejected` shape the cache's keys and reuse (`--llm_cache_namespace`, `--llm_reuse_rejected`);
    `cache_folders` and `answers_dir` are answer files that work across machines (captions.answer_files).
    """

    model: str = ""
    temperature: float = 0.7
    top_p: float = 0.95
    max_new_tokens: int = 64
    max_retries: int = 2
    base_url: str | tuple[str, ...] = ""  # one URL, or several (requests spread by least outstanding)
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 8
    timeout: float = 60.0
    http_retries: int = 5
    backoff: float = 0.5
    device: str | None = None
    dtype: str = "auto"
    batch_size: int = 8
    cache: str | None = None
    report: str | None = None
    endpoint_id: str = ""  # names who answers in cache keys (captions.cli_args.endpoint_id); never a URL
    retry_rejected: bool = True  # ask again (once a run) the prompts whose cached answers the validator rejects
    cache_folders: tuple[str, ...] = ()  # earlier answers, read-only: folders of answer files (paths or URLs)
    answers_dir: str | None = None  # this build's answer files, one per shard (<out>/.audiosetmix/answers)

    def __post_init__(self) -> None:
        if not 0.0 <= self.temperature:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        for name in ("max_new_tokens", "concurrency", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds, got {self.timeout}")
        for name in ("max_retries", "http_retries"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.dtype not in ("auto", "float32", "bfloat16", "float16"):
            raise ValueError(f"dtype must be auto, float32, bfloat16 or float16, got {self.dtype!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "LLMConfig":
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown LLMConfig fields: {sorted(unknown)}")
        return cls(**data)
