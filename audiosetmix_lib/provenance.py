"""What a stored recipe says it was built from, against what is here: the renderer's and the
shaping packages' versions, and each event's source audio (its size and content hash).

A recipe re-renders to its row's exact samples only with the same renderer, packages and source
audio; `render` and `verify` print `recipe_mismatches` as warnings before they re-render.
"""

from __future__ import annotations

from dataclasses import replace

from .recipe import Recipe
from .sources.base import Source

VERSION_NAMES = {"render": "render version (RENDER_VERSION)"}


def fingerprinted(recipe: Recipe, source: Source) -> Recipe:
    """The recipe with each event's source fingerprint as read here (each file hashed once per process)."""
    events = [replace(spec, source_fingerprint=source.fingerprint(spec.event, recipe.sample_rate)) for spec in recipe.events]
    return replace(recipe, events=events)


def source_fingerprints(recipe: Recipe, source: Source) -> dict[str, str]:
    """event_id -> the fingerprint of each event's source audio here now; an event whose audio cannot be
    read is left out (rendering it reports why)."""
    found = {}
    for spec in recipe.events:
        try:
            found[spec.event.event_id] = source.fingerprint(spec.event, recipe.sample_rate)
        except OSError:
            continue
    return found


def recipe_mismatches(recipe: Recipe, installed: dict | None = None, fingerprints: dict[str, str] | None = None) -> list[str]:
    """Why a re-render of `recipe` may not give its stored samples, one line each (none: it should).

    `installed`: versions here (None: `recipe.shaping_versions()`); `fingerprints`: event_id -> the
    fingerprint of its source audio here (`source_fingerprints`; None: not checked). Pure."""
    lines = [f"{VERSION_NAMES.get(name, name)} {here} here, {built} at build time: the samples may differ"
             for name, (built, here) in recipe.version_differences(installed).items()]
    if "render" not in recipe.versions:
        lines.append(f"the recipe records no render version (recipe version {recipe.version}, built by audiosetmix "
                     f"{recipe.versions.get('audiosetmix')}): it may re-render differently without a word")
    if fingerprints is None:
        return lines
    if recipe.events and all(spec.source_fingerprint is None for spec in recipe.events):
        lines.append(f"the recipe records no source fingerprints (recipe version {recipe.version}): a changed source "
                     "file cannot be told")
    for i, spec in enumerate(recipe.events):
        here = fingerprints.get(spec.event.event_id)
        if spec.source_fingerprint is not None and here is not None and here != spec.source_fingerprint:
            lines.append(f"event {i} ({spec.label}): its source audio {spec.event.audio} is not what the row was built "
                         f"from (size:hash {spec.source_fingerprint} then, {here} here): the samples will differ")
    return lines


def mismatches_here(recipe: Recipe, source: Source) -> list[str]:
    """`recipe_mismatches` against this machine: its installed versions and source audio."""
    return recipe_mismatches(recipe, None, source_fingerprints(recipe, source))
