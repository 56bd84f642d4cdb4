"""`verify`: tampered datasets fail for the right rows, and clean builds of every source kind pass.

Oracles: the tampering itself (which rows were swapped, which caption edited, which transform does
nothing, which onset forced), never verify's own code.
"""

from __future__ import annotations

import json
import re
import shutil
import types
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf
from conftest import build_dataset
from helpers import SR, ArraySource, recipe_of, tone
from scipy.signal import lfilter
from test_sources import ESC10, audioset_dir  # noqa: F401 - the AudioSet fixture of test_sources, built here

from audiosetmix_lib.audio_io import encode_flac, quantize
from audiosetmix_lib.cli import main
from audiosetmix_lib.recipe import Recipe
from audiosetmix_lib.render import render
from audiosetmix_lib.sources import from_spec
from audiosetmix_lib.transforms import TRANSFORMS, volume
from audiosetmix_lib.verify.row import verify_row

pytestmark = pytest.mark.slow



def labels_of(subject: str) -> set[str]:
    return set(re.findall(r"event \d+ \((.*?)\)(?: ->|$)", subject))


def run_verify(dataset: Path, out: Path, *extra: str) -> tuple[int, dict]:
    code = main(["verify", "--dataset_dir", str(dataset), "--all", "--output_dir", str(out), *extra])
    return code, json.loads((out / "verify.json").read_text())


def failing(report: dict, kind: str | None = None) -> list[tuple[str, dict]]:
    return [(row["id"], c) for row in report["rows"] for c in row["claims"]
            if not c["passed"] and (kind is None or c["kind"] == kind)]


def assert_no_failing_claim(report: dict) -> None:
    """Every fault verify found in these builds is fixed at its source (docs/verify.md "What it found")."""
    assert not failing(report), failing(report)[:5]


def shard_of(dataset: Path) -> Path:
    return sorted((dataset / "data").glob("train-*.parquet"))[0]


def rewrite_rows(path: Path, edit) -> None:
    """Rewrite a shard with `edit(rows)` applied, keeping its schema (and the `datasets` features in it)."""
    table = pq.read_table(path)
    rows = table.to_pylist()
    edit(rows)
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), path)


def rewrite_first(dataset: Path, edit, target: dict) -> None:
    """`rewrite_rows` on each shard in turn until `edit` has set `target` (it edits one row)."""
    for path in sorted((dataset / "data").glob("train-*.parquet")):
        rewrite_rows(path, edit)
        if target:
            return


@pytest.fixture(scope="module")
def synth_dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("verify") / "synth"
    return build_dataset(out, "--train", "12", "--validation", "0", "--test", "0", "--rows_per_shard", "6",
                         "--seed", "11", "--audio_negatives", "2")


def tampered_copy(synth_dataset: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(synth_dataset, copy)
    return copy


def test_a_synth_build_passes_every_claim(synth_dataset, tmp_path):
    code, report = run_verify(synth_dataset, tmp_path / "v")
    assert_no_failing_claim(report)
    assert code == (1 if failing(report) else 0)
    counts = report["summary"]["claims"]
    for kind in ("rerender", "presence", "audible", "modifier", "order", "follow", "overlap", "caption", "wording"):
        assert counts[kind]["checked"] > 0, kind
    assert counts["rerender"]["checked"] > 12  # the counterfactual clips too
    text = (tmp_path / "v" / "verify.md").read_text()
    assert "## Pass rate per claim kind" in text and "| volume:up |" in text
    run_verify(synth_dataset, tmp_path / "v2", "--num_proc", "2")  # the report does not depend on the processes
    assert (tmp_path / "v2" / "verify.json").read_bytes() == (tmp_path / "v" / "verify.json").read_bytes()


def test_two_rows_with_swapped_audio_fail_the_rerender_check_and_no_other_row_does(synth_dataset, tmp_path):
    copy = tampered_copy(synth_dataset, tmp_path)

    def swap(rows):
        rows[1]["audio"], rows[4]["audio"] = rows[4]["audio"], rows[1]["audio"]

    rewrite_rows(shard_of(copy), swap)
    code, report = run_verify(copy, tmp_path / "v")
    assert code == 1
    assert {row_id for row_id, c in failing(report, "rerender")} == {"train-1", "train-4"}
    text = (tmp_path / "v" / "verify.md").read_text()
    assert "render --dataset_dir" in text and "--id train-1" in text


def test_loud_turned_quiet_in_a_caption_fails_that_row(synth_dataset, tmp_path):
    copy = tampered_copy(synth_dataset, tmp_path)
    target = {}

    def louder_said_quiet(rows):
        for row in rows:
            recipe = Recipe.from_json(row["recipe"])
            directions = {s.transforms["volume"]["direction"] for s in recipe.events if "volume" in s.transforms}
            if directions == {"up"} and re.search(r"\bloud\b", row["caption"]):
                row["caption"] = re.sub(r"\bloud(ly)?\b", lambda m: "quiet" + (m.group(1) or ""), row["caption"])
                target["id"] = row["id"]
                return

    rewrite_first(copy, louder_said_quiet, target)
    assert target, "the synth build has a row whose only volume change is louder and whose caption says loud"
    code, report = run_verify(copy, tmp_path / "v")
    wrong = {(row_id, c["claim"].split(" (")[0]) for row_id, c in failing(report, "caption")}
    assert code == 1 and wrong == {(target["id"], "the caption says it"),
                                   (target["id"], "the caption does not say the opposite")}


def test_a_transform_whose_apply_returns_its_input_fails_its_own_check(monkeypatch):
    """A test-only transform, registered with every hook of the volume transform but an `apply` that does
    nothing: the caption says "loud", the sound is unchanged, verify fails that claim (and only that one)."""
    idle = types.SimpleNamespace(**{k: getattr(volume, k) for k in dir(volume) if not k.startswith("__")})
    idle.NAME, idle.apply = "idle", lambda samples, sr, params: samples
    monkeypatch.setitem(TRANSFORMS, "idle", idle)
    source = ArraySource({"beep": tone(800, 1.0) + tone(2400, 1.0, amplitude=0.1),
                          "hum": tone(150, 1.5) + tone(450, 1.5, amplitude=0.1)})
    params = {"direction": "up", "gain_db": 9.0}
    recipe = recipe_of(source, [("beep", {"idle": params}, None), ("hum", {"volume": params}, "follow")])
    pcm = quantize(render(recipe, source).samples)
    row = {"id": "train-0", "recipe": recipe.to_json(), "caption": "A loud beep, then a loud hum.",
           "audio": {"bytes": encode_flac(pcm, SR)}, "negatives": [], "negative_audio": [], "negative_audio_index": []}
    result = verify_row(row, source)
    assert [(c.kind, c.key, c.subject) for c in result.failed] == [("modifier", "idle:up", "event 0 (beep)")]
    assert any(c.key == "volume:up" and c.kind == "modifier" and c.passed for c in result.claims)


def test_an_overlap_onset_past_the_event_end_fails_the_overlap_claim_of_that_row(synth_dataset, tmp_path):
    copy = tampered_copy(synth_dataset, tmp_path)
    target = {}

    def force_late_overlap(rows):
        for row in rows:
            recipe = Recipe.from_json(row["recipe"])
            last = len(recipe.events) - 1  # an overlapping last event: moving it changes no other pair
            if last > 0 and recipe.events[last].relation == "overlap":
                at = [last]
                events = list(recipe.events)
                # `layout` keeps an overlap inside its predecessor whatever overlap_at says, so the lie is forced
                # past it: the event placed 0.3 s after the previous one ended, its caption still "while"
                late = round(events[last - 1].end + 0.3, 6)
                events[last] = replace(events[last], overlap_at=1.5, onset=late, end=round(late + events[last].end - events[last].onset, 6))
                forced = replace(recipe, events=events)
                source = from_spec(forced.source)
                row["recipe"] = forced.to_json()
                row["audio"] = {**row["audio"], "bytes": encode_flac(quantize(render(forced, source).samples), SR)}
                target.update(id=row["id"], pair=at[0])
                return

    rewrite_first(copy, force_late_overlap, target)
    assert target, "the synth build has a row with an overlap"
    code, report = run_verify(copy, tmp_path / "v")
    late = [(row_id, c["clip"], c["subject"]) for row_id, c in failing(report, "overlap")]
    assert code == 1 and [(r, clip) for r, clip, _ in late] == [(target["id"], "row")]
    assert late[0][2].split(" -> ")[1].startswith(f"event {target['pair']} ")
    assert not failing(report, "rerender")  # the audio is the forced recipe's: only the claim is false


def test_a_negative_that_rewords_an_unchanged_modifier_fails_its_wording(synth_dataset):
    rows = pq.read_table(shard_of(synth_dataset)).to_pylist()
    swaps = {"quietly": "softly", "quiet": "faint", "loudly": "loud", "briefly": "brief", "slowly": "slow",
             "quickly": "rapidly", "muffled": "as if through a wall"}
    for row in rows:
        negative = next((n for n in row["negatives"] if n["kind"] in ("order", "relation")), None)
        word = next((w for w in swaps if negative and re.search(rf"\b{w}\b", negative["caption"])), None)
        if word:
            break
    assert word, "a row with an order or relation negative that says a swappable modifier word"
    source = from_spec(Recipe.from_json(row["recipe"]).source)
    clean = verify_row(row, source)
    assert not [c for c in clean.failed if c.kind == "wording" and negative["kind"] in c.clip]
    negative["caption"] = re.sub(rf"\b{word}\b", swaps[word], negative["caption"], count=1)
    reworded = verify_row(row, source)
    assert [c for c in reworded.failed if c.kind == "wording" and f"({negative['kind']})" in c.clip]


def real_like(kind: str, seconds: float, seed: int) -> np.ndarray:
    """A short recording-like sound: harmonic or noisy, with an envelope, a noise floor and silence around it."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    if kind == "noise":  # coloured, as recorded noise is (white noise has no pitch to raise or lower)
        body = lfilter([1.0], [1.0, -0.95], rng.standard_normal(len(t))) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    else:
        f0 = {"low": 110.0, "mid": 260.0, "high": 620.0}[kind] * (1 + 0.02 * np.sin(2 * np.pi * 5 * t))
        phase = 2 * np.pi * np.cumsum(f0) / SR
        body = sum(np.sin(k * phase) / k for k in range(1, 12)) + 0.05 * rng.standard_normal(len(t))
    body *= np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.05)
    floor = 0.002 * rng.standard_normal(int(0.2 * SR))
    return (0.2 * np.concatenate([floor, body / np.abs(body).max(), floor])).astype(np.float32)


def test_a_folder_of_real_like_recordings_passes(tmp_path):
    folder = tmp_path / "recordings"
    folder.mkdir()
    lines = ["file_name,label"]
    for c, (label, kind) in enumerate([("Engine", "low"), ("Speech", "mid"), ("Bird", "high"), ("Rain", "noise")]):
        for k in range(3):
            name = f"{label.lower()}{k}.wav"
            sf.write(folder / name, real_like(kind, 1.5 + 0.5 * k, 10 * c + k), SR)
            lines.append(f"{name},{label}")
    (folder / "metadata.csv").write_text("\n".join(lines) + "\n")
    out = build_dataset(tmp_path / "out", "--config", "folder", "--source_path", str(folder), "--train", "10",
                        "--validation", "0", "--test", "0", "--seed", "3")
    code, report = run_verify(out, tmp_path / "v", "--source_root", str(folder))
    assert_no_failing_claim(report)
    assert report["summary"]["claims"]["modifier"]["checked"] > 0 and report["summary"]["sound_measured_rows"] == 10


def test_the_audioset_fixture_build_passes(audioset_dir, tmp_path):  # noqa: F811 - the imported fixture
    """The AudioSet fixture's clips are near-pure 440 Hz tones, where a filter changes nothing audible: the
    sampler draws none for them (`audible_on`), even when every event draws one, so no filter claim is made."""
    out = build_dataset(tmp_path / "out", "--config", "audioset", "--audioset_labels", str(audioset_dir / "strong.tsv"),
                        "--audioset_ontology", str(audioset_dir / "ontology.json"),
                        "--audioset_mid_to_name", str(audioset_dir / "mid_to_display_name.tsv"),
                        "--audioset_audio_dir", str(audioset_dir / "clips"), "--train", "6", "--validation", "0",
                        "--test", "0", "--mix", '{"transforms": {"filter": {"probability": 1}}}')
    code, report = run_verify(out, tmp_path / "v", "--source_root", str(audioset_dir))
    assert_no_failing_claim(report)
    assert report["summary"]["claims"]["rerender"]["checked"] >= 6
    assert not any(c["key"].startswith("filter:") for row in report["rows"] for c in row["claims"] if c["kind"] == "modifier")


def test_an_unreachable_source_is_said_once_and_its_sound_checks_skipped(tmp_path, capsys):
    folder = tmp_path / "recordings"
    folder.mkdir()
    lines = ["file_name,label"]
    for k, label in enumerate(["Engine", "Speech", "Engine", "Speech", "Engine", "Speech"]):
        sf.write(folder / f"{k}.wav", real_like("low" if label == "Engine" else "mid", 1.5, k), SR)
        lines.append(f"{k}.wav,{label}")
    (folder / "metadata.csv").write_text("\n".join(lines) + "\n")
    out = build_dataset(tmp_path / "out", "--config", "folder", "--source_path", str(folder), "--train", "4",
                        "--validation", "0", "--test", "0")
    folder.rename(tmp_path / "moved")
    capsys.readouterr()
    code, report = run_verify(out, tmp_path / "v")
    err = capsys.readouterr().err
    assert err.count("cannot be reached") == 1 and "--source_root" in err
    assert report["summary"]["sound_measured_rows"] == 0 and "rerender" not in report["summary"]["claims"]
    code, report = run_verify(out, tmp_path / "v2", "--source_root", str(tmp_path / "moved"))
    assert report["summary"]["claims"]["rerender"]["failed"] == 0 and report["summary"]["sound_measured_rows"] == 4


def test_verify_usage_errors_are_one_line(tmp_path, capsys):
    assert main(["verify", "--dataset_dir", str(tmp_path / "nothing")]) == 2
    assert main(["verify", "--dataset_dir", str(tmp_path), "--n", "0"]) == 2
    with pytest.raises(SystemExit) as stop:
        main(["verify", "--dataset_dir", str(tmp_path), "--n", "3", "--all"])
    assert stop.value.code == 2
    assert main(["build", "--output_dir", str(tmp_path / "out"), "--max_mismatch_rate", "0.1"]) == 2  # needs --verify
    assert main(["build", "--output_dir", str(tmp_path / "out"), "--verify", "--max_mismatch_rate", "2"]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(lines) == 5 and all(line.startswith("error:") for line in lines) and "--max_mismatch_rate" in lines[-1]


def test_build_verify_stops_at_the_first_failing_shard_with_one_error_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(volume, "apply", lambda samples, sr, params: samples)  # every "louder"/"quieter" is a lie
    out = tmp_path / "out"
    code = main(["build", "--output_dir", str(out), "--train", "12", "--validation", "0", "--test", "0",
                 "--rows_per_shard", "6", "--seed", "2", "--verify", "--mix",
                 '{"transforms": {"volume": {"probability": 1.0}}}'])
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(err) == 1 and "--max_mismatch_rate" in err[0] and "modifier volume:" in err[0]
    assert not (out / "data").exists() or not list((out / "data").glob("*.parquet"))  # the failing shard is not committed


def test_build_verify_within_the_rate_finishes_and_the_card_says_what_was_verified(tmp_path):
    out = build_dataset(tmp_path / "out", "--train", "6", "--validation", "0", "--test", "0", "--rows_per_shard", "3",
                        "--verify", "--max_mismatch_rate", "1")
    card = (out / "README.md").read_text()
    section = card.split("## Verification", 1)[1].split("\n## ", 1)[0]
    assert "6 rows written by this run" in section and "| rerender | 12 | 0 |" in section


@pytest.mark.esc10
def test_an_esc10_build_passes(tmp_path):
    if not (ESC10 / "metadata.csv").is_file():
        pytest.skip(f"{ESC10} not present")
    out = build_dataset(tmp_path / "out", "--config", "folder", "--source_path", str(ESC10), "--split_column", "fold",
                        "--split_map", '{"1": "train", "2": "train", "3": "train", "4": "validation", "5": "test"}',
                        "--train", "30", "--validation", "0", "--test", "0", "--min_event_seconds", "0.25")
    code, report = run_verify(out, tmp_path / "v", "--source_root", str(ESC10))
    assert_no_failing_claim(report)
    assert report["summary"]["sound_measured_rows"] == 30


def test_the_render_memo_changes_nothing_but_the_number_of_stretches(synth_dataset, monkeypatch):
    """Oracle: verify with its memos off (render_chain called without one, the renderer as it was; every check
    measured again in each clip) gives the same claims, measured values included, with more passes of the
    stretch engine."""
    from audiosetmix_lib import render as render_module
    from audiosetmix_lib.transforms import pitch
    from audiosetmix_lib.verify import claims as claims_module

    rows = [row for path in sorted((synth_dataset / "data").glob("train-*.parquet")) for row in pq.read_table(path).to_pylist()]
    source = from_spec(Recipe.from_json(rows[0]["recipe"]).source)
    stretches = []
    real_stretch, real_chain = pitch.stretch, render_module.render_chain
    monkeypatch.setattr(pitch, "stretch", lambda *a, **k: stretches.append(1) or real_stretch(*a, **k))

    def claims_and_stretches():
        stretches.clear()
        claims = [c.to_dict() for row in rows for c in verify_row(row, source).claims]
        return claims, len(stretches)

    remembered, with_memo = claims_and_stretches()
    monkeypatch.setattr(render_module, "render_chain",
                        lambda samples, sr, transforms, fade_seconds, *memo: real_chain(samples, sr, transforms, fade_seconds))
    monkeypatch.setattr(claims_module, "remembered", lambda memo, key, compute: compute())  # each check measured again
    plain, without_memo = claims_and_stretches()
    assert remembered == plain and len(plain) > 100
    assert 0 < with_memo < without_memo
