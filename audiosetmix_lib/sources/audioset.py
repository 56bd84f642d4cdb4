"""Events from temporally-strong AudioSet labels, filtered as in the AudioSetMix paper.

Inputs: the strong-label TSV (`segment_id, start_time_seconds, end_time_seconds, label`,
label = a MID), display names from `ontology.json` and/or `mid_to_display_name.tsv`, and a
directory of clips named `<segment_id>.<ext>` (times in the TSV are relative to that clip).

Filters (paper: events shorter than 2 s and classes without semantic content are dropped):
annotations of one label in one segment that overlap or touch are merged first, so a
sound annotated in two pieces is not dropped as two short events; then events shorter than
`min_event_seconds` are skipped; classes whose ontology restrictions contain "abstract" or
"blacklist" are skipped; classes named in DEFAULT_EXCLUDED_CLASSES (or `exclude_classes`)
are skipped. Every skip is counted with its reason. Bad input files raise SourceError
before any clip is opened.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from pathlib import Path

import numpy as np

from .. import audio_io
from ..events import Event, Skip, cut_label, hash_split
from .base import Source, SourceError, symbolic_path
from .folder import AUDIO_EXTENSIONS, load_span

TSV_COLUMNS = ("segment_id", "start_time_seconds", "end_time_seconds", "label")
EXCLUDED_RESTRICTIONS = ("abstract", "blacklist")

# Display names (matched case-insensitively; a MID works too) of classes that describe the
# recording channel, the room, background or silence rather than a sound source: the
# paper's "background/environment" and "unknown" classes. Pass `exclude_classes` to replace
# this list (e.g. `[*DEFAULT_EXCLUDED_CLASSES, "Speech"]` to extend it).
DEFAULT_EXCLUDED_CLASSES = (
    # silence and unknown
    "Silence",
    "Unknown sound",
    "Other sourceless",
    # acoustic environment (the room or place, not a source)
    "Acoustic environment",
    "Inside, small room",
    "Inside, large room or hall",
    "Inside, public space",
    "Outside, urban or manmade",
    "Outside, rural or natural",
    "Reverberation",
    "Echo",
    # channel, noise and background
    "Channel, environment and background",
    "Noise",
    "Background noise",
    "Environmental noise",
    "Static",
    "Mains hum",
    "Tape hiss",
    "Distortion",
    "Sidetone",
    "Cacophony",
    "White noise",
    "Pink noise",
    "Wind noise (microphone)",
    "Hubbub, speech noise, speech babble",
    "Sound reproduction",
    "Field recording",
)

_SEGMENT = re.compile(r"^(?P<youtube_id>.+)_(?P<ms>\d+)$")


def recording_of(segment_id: str) -> str:
    """The YouTube id of a segment id `<youtube id>_<start ms>` (ids may contain '_')."""
    match = _SEGMENT.match(segment_id)
    return match.group("youtube_id") if match else segment_id


def merge_spans(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Merge overlapping or touching [start, end) spans; sorted output."""
    merged: list[list[float]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1] + 1e-9:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def read_ontology(path: Path) -> tuple[dict[str, str], dict[str, set[str]]]:
    """MID -> display name and MID -> restrictions from AudioSet's ontology.json."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SourceError(f"{path}: cannot read the ontology ({error})") from None
    if not isinstance(entries, list):
        raise SourceError(f"{path}: expected a JSON list of classes")
    names, restrictions = {}, {}
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not isinstance(entry.get("name"), str):
            raise SourceError(f"{path}: entry {number} has no string 'id' and 'name'")
        names[entry["id"].strip()] = entry["name"].strip()
        restrictions[entry["id"].strip()] = {str(r).strip().lower() for r in entry.get("restrictions") or []}
    return names, restrictions


def read_mid_names(path: Path) -> dict[str, str]:
    """MID -> display name from a headerless `MID<TAB>name` file."""
    names = {}
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as error:
        raise SourceError(f"{path}: cannot read ({error})") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
            raise SourceError(f"{path}, line {number}: expected 'MID<TAB>display name', got {line!r}")
        names[fields[0].strip()] = fields[1].strip()
    return names


def read_strong_tsv(path: Path) -> list[tuple[int, str, float, float, str]]:
    """(line, segment_id, start, end, mid) rows; SourceError naming the line for bad input."""
    rows = []
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except OSError as error:
        raise SourceError(f"{path}: cannot read ({error})") from None
    with handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = [column.strip() for column in next(reader, [])]
        if tuple(header) != TSV_COLUMNS:
            raise SourceError(f"{path}, line 1: header must be {'<TAB>'.join(TSV_COLUMNS)}, got {header}")
        for fields in reader:
            line = reader.line_num
            if not any(field.strip() for field in fields):
                continue
            if len(fields) != len(TSV_COLUMNS):
                raise SourceError(f"{path}, line {line}: {len(fields)} fields, expected {len(TSV_COLUMNS)}")
            segment_id, start_text, end_text, mid = (field.strip() for field in fields)
            try:
                start, end = float(start_text), float(end_text)
            except ValueError:
                raise SourceError(f"{path}, line {line}: non-numeric time {start_text!r} / {end_text!r}") from None
            if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end < start:
                raise SourceError(f"{path}, line {line}: bad span {start_text} - {end_text}")
            if not segment_id or not mid:
                raise SourceError(f"{path}, line {line}: empty segment_id or label")
            rows.append((line, segment_id, start, end, mid))
    return rows


def probe_clip(path: Path) -> float:
    """Duration in seconds of a usable clip; AudioReadError for a missing, empty or corrupt one.

    The clip is decoded in full, not just its header: a truncated file must be skipped and
    counted here, not crash the build when a recipe first uses it.
    """
    if path.stat().st_size == 0:
        raise audio_io.AudioReadError(f"{path}: empty file")
    samples, sr = audio_io.read_audio(path)
    frames = len(samples)
    if frames <= 0 or sr <= 0:
        raise audio_io.AudioReadError(f"{path}: no audio samples")
    return frames / sr


class AudioSetSource(Source):
    """Strong-labelled AudioSet events (labels CC BY 4.0; audio under its YouTube uploaders' terms)."""

    name = "audioset"

    def __init__(
        self,
        labels_tsv: str,
        audio_dir: str,
        ontology: str | None = None,
        mid_to_name: str | None = None,
        min_event_seconds: float = 2.0,
        exclude_classes: list[str] | None = None,
        fractions=(0.8, 0.1, 0.1),
    ) -> None:
        super().__init__()
        if ontology is None and mid_to_name is None:
            raise SourceError("audioset source: give ontology.json and/or mid_to_display_name.tsv for class names")
        self.labels_tsv = Path(labels_tsv).expanduser().resolve()
        self.audio_dir = Path(audio_dir).expanduser().resolve()
        self.ontology = str(Path(ontology).expanduser().resolve()) if ontology is not None else None
        self.mid_to_name = str(Path(mid_to_name).expanduser().resolve()) if mid_to_name is not None else None
        self.min_event_seconds = float(min_event_seconds)
        self.exclude_classes = list(DEFAULT_EXCLUDED_CLASSES if exclude_classes is None else exclude_classes)
        self.fractions = tuple(float(f) for f in fractions)
        if len(self.fractions) != 3 or min(self.fractions) < 0 or sum(self.fractions) <= 0:
            raise SourceError(f"audioset source: fractions must be three non-negative numbers, got {fractions!r}")

    def source_root(self) -> str | None:
        """The deepest folder holding the labels, the ontology files and the clips."""
        files = [p for p in (self.labels_tsv, self.audio_dir, self.ontology, self.mid_to_name) if p is not None]
        root = Path(os.path.commonpath([str(Path(p).resolve()) for p in files]))
        return str(root if root.is_dir() else root.parent)

    def spec(self) -> dict:
        root = self.source_root()

        def rel(p):
            return None if p is None else symbolic_path(p, root)

        return {
            "name": self.name,
            "labels_tsv": rel(self.labels_tsv),
            "audio_dir": rel(self.audio_dir),
            "ontology": rel(self.ontology),
            "mid_to_name": rel(self.mid_to_name),
            "min_event_seconds": self.min_event_seconds,
            "exclude_classes": list(self.exclude_classes),
            "fractions": list(self.fractions),
        }

    def license_note(self) -> str:
        return (
            "AudioSet strong labels and ontology: CC BY 4.0 (Google). The audio comes from YouTube "
            "videos and is subject to their uploaders' terms."
        )

    def _class_tables(self) -> tuple[dict[str, str], dict[str, set[str]]]:
        names: dict[str, str] = {}
        restrictions: dict[str, set[str]] = {}
        if self.ontology is not None:
            names, restrictions = read_ontology(Path(self.ontology))
        if self.mid_to_name is not None:
            for mid, name in read_mid_names(Path(self.mid_to_name)).items():
                names.setdefault(mid, name)
        return names, restrictions

    def _clip_index(self) -> dict[str, str]:
        """segment id -> clip path relative to audio_dir (first in sorted order when several)."""
        if not self.audio_dir.is_dir():
            raise SourceError(f"audioset source: {self.audio_dir} is not a directory")
        clips: dict[str, str] = {}
        for path in sorted(self.audio_dir.rglob("*")):
            if path.suffix.lower() in AUDIO_EXTENSIONS and path.is_file():
                clips.setdefault(path.stem, path.relative_to(self.audio_dir).as_posix())
        return clips

    def _scan(self) -> tuple[list[Event], list[Skip]]:
        names, restrictions = self._class_tables()
        rows = read_strong_tsv(self.labels_tsv)
        clips = self._clip_index()
        excluded = {text.strip().lower() for text in self.exclude_classes}
        skipped: list[Skip] = []
        spans: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for line, segment_id, start, end, mid in rows:
            item = f"{self.labels_tsv.name}:{line}"
            if mid not in names:
                skipped.append(Skip(item=item, reason=f"unknown MID {mid} (line {line}: not in the ontology or name map)", kind="unknown MID"))
                continue
            name = names[mid]
            flagged = sorted(restrictions.get(mid, set()) & set(EXCLUDED_RESTRICTIONS))
            if flagged:
                skipped.append(Skip(item=item, reason=f"class {name!r} ({mid}) is {'/'.join(flagged)} in the ontology", kind="restricted class"))
                continue
            if name.lower() in excluded or mid.lower() in excluded:
                skipped.append(Skip(item=item, reason=f"class {name!r} ({mid}) is excluded (background/unknown-like)", kind="excluded class"))
                continue
            spans.setdefault((segment_id, mid), []).append((start, end))

        by_segment: dict[str, list[tuple[str, float, float]]] = {}
        for (segment_id, mid), pieces in sorted(spans.items()):
            for start, end in merge_spans(pieces):
                if end - start < self.min_event_seconds:
                    skipped.append(Skip(item=f"{segment_id} {names[mid]} {start:.3f}-{end:.3f}", reason=f"event shorter than {self.min_event_seconds} s ({end - start:.3f} s; --min_event_seconds)",
                                        kind="too short", label=cut_label(names[mid])))
                    continue
                by_segment.setdefault(segment_id, []).append((mid, start, end))

        events = []
        for segment_id in sorted(by_segment):
            wanted = by_segment[segment_id]
            clip = clips.get(segment_id)
            if clip is None:
                skipped.append(Skip(item=segment_id, reason=f"no clip file {segment_id}.<ext> in the audio folder ({len(wanted)} events)",
                                    kind="missing file"))
                continue
            try:
                duration = probe_clip(self.audio_dir / clip)
            except (audio_io.AudioReadError, OSError) as error:
                kind = "truncated audio" if isinstance(error, audio_io.TruncatedAudioError) else "unreadable audio"
                reason = str(error).replace(str(self.audio_dir) + "/", "")
                skipped.append(Skip(item=clip, reason=f"{kind}: {reason} ({len(wanted)} events)", kind=kind))
                continue
            recording_id = recording_of(segment_id)
            for mid, start, end in wanted:
                end = min(end, duration)
                if end - start < self.min_event_seconds:
                    skipped.append(Skip(item=f"{segment_id} {names[mid]} {start:.3f}-{end:.3f}", reason=f"event shorter than {self.min_event_seconds} s within the {duration:.3f} s clip (--min_event_seconds)",
                                        kind="too short", label=cut_label(names[mid])))
                    continue
                events.append(Event(
                    event_id=f"{segment_id}#{mid}#{start:.3f}",
                    recording_id=recording_id,
                    label=names[mid],
                    audio=clip,
                    start=start,
                    end=end,
                    split=hash_split(recording_id, self.fractions),
                ))
        return events, skipped

    def source_file(self, event: Event) -> Path:
        return self.audio_dir / event.audio

    def _load_raw(self, event: Event, sample_rate: int) -> np.ndarray:
        samples, sr = audio_io.read_audio(self.audio_dir / event.audio)
        return load_span(samples, sr, event.start, event.end, sample_rate)
