"""Every sampling parameter in one validated object (the paper's values as defaults)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class MixConfig:
    """How recipes are drawn. docs/design.md describes them; every default is written here once."""

    min_events: int = 1
    max_events: int = 5
    transform_probability: float = 0.3  # Bernoulli p_t per transform per event (paper)
    # volume: gain in dB relative to the reference level
    louder_db: tuple[float, float] = (6.0, 12.0)
    quieter_db: tuple[float, float] = (-18.0, -6.0)
    # pitch: semitones (duration kept); within half an octave (paper)
    higher_semitones: tuple[float, float] = (3.0, 6.0)
    lower_semitones: tuple[float, float] = (-6.0, -3.0)
    # speed: tempo factor (pitch kept)
    faster_tempo: tuple[float, float] = (1.3, 1.6)
    slower_tempo: tuple[float, float] = (0.6, 0.77)
    # duration: keep a fraction (with fades) or loop
    shorter_keep: tuple[float, float] = (0.3, 0.5)
    longer_repeats: tuple[float, float] = (2.0, 3.0)
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
        for name in ("transform_probability", "overlap_probability"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple) and not value[0] <= value[1]:
                raise ValueError(f"{f.name} must be a (low, high) range, got {value}")
        if self.higher_semitones[1] > 6.0 or self.lower_semitones[0] < -6.0:
            raise ValueError("pitch shifts stay within half an octave (6 semitones)")
        if self.max_duration <= 0:
            raise ValueError("max_duration must be positive")

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> "MixConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown MixConfig fields: {sorted(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


@dataclass(frozen=True)
class LLMConfig:
    """How an LLM captioner is set up: every default in one place (the CLI flags map onto these fields).

    `model` is the transformers model id/path or the server's model name; `base_url` ... `backoff`
    apply to `openai`, `device` ... `batch_size` to `transformers`; `cache` and `report` are SQLite
    files (the answer cache, shared by processes; the per-build report store).
    """

    model: str = ""
    temperature: float = 0.7
    top_p: float = 0.95
    max_new_tokens: int = 64
    max_retries: int = 2
    base_url: str = ""
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

    def __post_init__(self) -> None:
        if not 0.0 <= self.temperature:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        for name in ("max_new_tokens", "concurrency", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
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
