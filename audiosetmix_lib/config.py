"""Composition and level parameters in one validated object (the paper's values as defaults)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from .transforms import resolve_settings, volume
from .typed_settings import require_between, require_range, typed_fields

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


MAX_EVENTS = 20
MAX_OVERLAP_ONSET = 0.9


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
    # short events (event_density): the first events drawn that bring this many seconds of sound each on
    # average are kept; a clip shorter than min_clip_seconds is padded with trailing silence
    min_seconds_per_event: float = 1.0
    min_clip_seconds: float = 0.5
    fade_seconds: float = 0.02
    # levels
    reference_dbfs: float = -26.0
    active_range_db: float = 30.0
    limiter_threshold_dbfs: float = -1.0

    def __post_init__(self) -> None:
        """Every field checked here, in one place: a setting that would make a caption untrue of its
        sound (an "overlapping" event that starts after the other ended, a "background" event as loud
        as the other, a 0 dB "louder") is refused with its field's name."""
        typed_fields(self)
        if not isinstance(self.transforms, dict):
            raise ValueError(f"transforms must be an object of per-transform settings, got {self.transforms!r}")
        if not 1 <= self.min_events <= self.max_events <= MAX_EVENTS:
            raise ValueError(f"need 1 <= min_events <= max_events <= {MAX_EVENTS}, got {self.min_events}, {self.max_events}")
        require_between("max_duration", self.max_duration, 0.1, 3600.0, " (seconds)")
        require_between("overlap_probability", self.overlap_probability, 0.0, 1.0)
        require_range("overlap_onset", self.overlap_onset, 0.0, MAX_OVERLAP_ONSET,
                      " (the share of the previous event elapsed when an overlapping one starts: it must start inside it, "
                      "with time left to sound together)")
        require_range("follow_gap", self.follow_gap, 0.0, self.max_duration / 2,
                      " (seconds of silence between an event and the one that follows it; at most half of max_duration)")
        require_between("background_db", self.background_db, volume.CHECK_DB, 60.0,
                        f" (how far below the event it overlaps a background event is: at least the {volume.CHECK_DB:g} dB "
                        "a level difference needs to be heard)")
        require_between("min_event_share", self.min_event_share, 0.0, self.max_duration, " (seconds; at most max_duration)")
        require_between("min_seconds_per_event", self.min_seconds_per_event, 0.0, self.max_duration, " (seconds of sound each kept event brings, on average)")
        require_between("min_clip_seconds", self.min_clip_seconds, 0.0, self.max_duration, " (seconds: a shorter clip is padded with silence)")
        require_between("fade_seconds", self.fade_seconds, 0.0, 0.5, " (seconds)")
        require_between("reference_dbfs", self.reference_dbfs, -60.0, 0.0, " (dBFS)")
        require_between("active_range_db", self.active_range_db, 1.0, 90.0, " (dB)")
        require_between("limiter_threshold_dbfs", self.limiter_threshold_dbfs, self.reference_dbfs, 0.0,
                        " (dBFS, from reference_dbfs up: a limiter below the reference level would flatten every event)")
        try:
            resolve_settings(self.transforms)
        except (ValueError, TypeError) as error:
            raise ValueError(f"transforms: {error}") from None

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
