"""Where events come from: synth (embedded), folder, audioset, hf."""

from __future__ import annotations

from .audioset import AudioSetSource
from .base import SOURCE_ROOT, EventPool, Source, SourceError, with_source_root
from .folder import FolderSource
from .hf import HFSource
from .synth import SynthSource

SOURCE_NAMES = ("synth", "folder", "audioset", "hf")


def make_source(name: str, **options) -> Source:
    """Build a source by name; options are the source's constructor arguments."""
    if name == "synth":
        return SynthSource(**options)
    if name == "folder":
        return FolderSource(**options)
    if name == "audioset":
        return AudioSetSource(**options)
    if name == "hf":
        return HFSource(**options)
    raise SourceError(f"unknown source {name!r}: expected one of {', '.join(SOURCE_NAMES)}")


def from_spec(spec: dict, source_root=None) -> Source:
    """Rebuild the source a recipe names (`Source.spec()` output); `source_root` replaces SOURCE_ROOT."""
    options = with_source_root(spec, source_root)
    name = options.pop("name")
    return make_source(name, **options)


__all__ = ["EventPool", "Source", "SourceError", "SOURCE_NAMES", "SOURCE_ROOT", "make_source", "from_spec"]
