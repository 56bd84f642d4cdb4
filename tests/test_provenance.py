"""A recipe knows its render version and each event's source audio (size and content hash); a re-render
says what differs. Oracles: hashlib over the file's bytes, hand-edited recipes."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import soundfile as sf
from helpers import SR, ArraySource, recipe_of, tone

from audiosetmix_lib.provenance import fingerprinted, mismatches_here, recipe_mismatches, source_fingerprints
from audiosetmix_lib.recipe import RENDER_VERSION, Recipe, shaping_versions


def test_a_recipe_records_the_render_version():
    recipe = recipe_of(ArraySource({"a": tone(440, 1.0)}), [("a", {}, None)])
    assert recipe.versions["render"] == RENDER_VERSION
    assert recipe_mismatches(recipe, shaping_versions()) == []
    lines = recipe_mismatches(recipe, {**shaping_versions(), "render": RENDER_VERSION + 1})
    assert lines == [f"render version (RENDER_VERSION) {RENDER_VERSION + 1} here, {RENDER_VERSION} at build time: "
                     "the samples may differ"]


def test_a_file_fingerprint_is_its_size_and_blake2b(tmp_path):
    from audiosetmix_lib.sources import make_source

    (tmp_path / "dog").mkdir()
    path = tmp_path / "dog" / "a.wav"
    sf.write(path, tone(440, 1.0), SR)
    source = make_source("folder", path=str(tmp_path))
    event = source.events()[0]
    data = path.read_bytes()
    assert source.fingerprint(event, SR) == f"{len(data)}:{hashlib.blake2b(data, digest_size=16).hexdigest()}"
    # the source's other events of the same file are not read again: one entry per file
    assert list(source._fingerprints) == [str(path)]


def test_a_changed_source_file_is_named_and_the_same_file_is_not(tmp_path):
    from audiosetmix_lib.sources import make_source

    for label in ("dog", "bell"):
        (tmp_path / label).mkdir()
        sf.write(tmp_path / label / "a.wav", tone(300 if label == "dog" else 900, 1.0), SR)
    source = make_source("folder", path=str(tmp_path))
    recipe = fingerprinted(recipe_of(source, [("dog", {}, None), ("bell", {}, "follow")]), source)
    stored = Recipe.from_json(recipe.to_json())
    assert all(spec.source_fingerprint for spec in stored.events)
    assert mismatches_here(stored, make_source("folder", path=str(tmp_path))) == []
    sf.write(tmp_path / "bell" / "a.wav", 0.5 * tone(900, 1.0), SR)  # same size, other samples
    lines = mismatches_here(stored, make_source("folder", path=str(tmp_path)))
    assert len(lines) == 1 and lines[0].startswith("event 1 (bell): its source audio bell/a.wav is not what the row")


def test_a_version_2_recipe_reads_and_says_what_it_cannot_check():
    recipe = recipe_of(ArraySource({"a": tone(440, 1.0)}), [("a", {}, None)])
    data = json.loads(recipe.to_json())
    data["version"] = 2
    data["versions"].pop("render")
    for event in data["events"]:
        event.pop("source_fingerprint")
    old = Recipe.from_dict(data)
    lines = recipe_mismatches(old, shaping_versions(), {})
    assert len(lines) == 2 and "no render version" in lines[0] and "no source fingerprints" in lines[1]


def test_sources_without_files_fingerprint_the_decoded_event():
    source = ArraySource({"a": tone(440, 1.0)})
    recipe = recipe_of(source, [("a", {}, None)])
    samples = np.ascontiguousarray(source.load(recipe.events[0].event, SR), dtype=np.float32).tobytes()
    expected = f"{len(samples)}:{hashlib.blake2b(samples, digest_size=16).hexdigest()}"
    assert source_fingerprints(recipe, source) == {recipe.events[0].event.event_id: expected}
    other = ArraySource({"a": tone(441, 1.0)})
    assert len(recipe_mismatches(fingerprinted(recipe, source), shaping_versions(), source_fingerprints(recipe, other))) == 1

