"""The audit page: sampling, page content, the judgement summary, and the page driven in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from audiosetmix_lib.audit.page import EXPORT_FORMAT, sample_indices
from audiosetmix_lib.audit.summary import summarize, summary_markdown, validate_export, wilson_interval

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
CHROMEDRIVER = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None)
N_AUDIT = 3
SEED = 5


def _export(rows: list[dict]) -> dict:
    return {"format": EXPORT_FORMAT, "format_version": 1, "dataset": "hand", "split": "test", "seed": 1, "rows": rows}


def _row(rid, source, modifiers, caption, negatives, note=""):
    return {"id": rid, "caption": f"caption of {rid}", "caption_source": source, "modifiers": modifiers,
            "caption_judgement": caption, "note": note,
            "negatives": [{"index": i, "kind": k, "caption": f"{k} {i}", "judgement": j} for i, (k, j) in enumerate(negatives)]}


def hand_export() -> dict:
    return _export([
        _row("test-1", "template", ["louder", "louder", "slower"], "right", [("order", "right"), ("modifier", "wrong")], "fine"),
        _row("test-2", "llm:m", [], "wrong", [("order", "right"), ("event", None)]),
        _row("test-3", "template", ["slower"], None, [("missing", "right")]),
    ])


def test_summary_by_hand():
    s = summarize(hand_export())
    assert s["rows"] == 3
    assert s["captions"] == {"judged": 2, "right": 1, "wrong": 1, "open": 1, "accuracy": 0.5, "ci95": wilson_interval(1, 2)}
    src = s["per_caption_source"]
    assert (src["template"]["judged"], src["template"]["right"], src["template"]["open"], src["template"]["accuracy"]) == (1, 1, 1, 1.0)
    assert (src["llm:m"]["judged"], src["llm:m"]["accuracy"]) == (1, 0.0)
    mod = s["per_modifier"]
    assert set(mod) == {"louder", "slower", "(none)"}
    assert (mod["louder"]["judged"], mod["louder"]["right"]) == (1, 1)  # a row counts once per modifier
    assert (mod["slower"]["judged"], mod["slower"]["right"], mod["slower"]["open"]) == (1, 1, 1)
    assert (mod["(none)"]["judged"], mod["(none)"]["accuracy"]) == (1, 0.0)
    assert (s["negatives"]["judged"], s["negatives"]["right"], s["negatives"]["open"], s["negatives"]["accuracy"]) == (4, 3, 1, 0.75)
    kinds = s["per_negative_kind"]
    assert (kinds["order"]["judged"], kinds["order"]["accuracy"]) == (2, 1.0)
    assert (kinds["modifier"]["judged"], kinds["modifier"]["accuracy"]) == (1, 0.0)
    assert (kinds["missing"]["judged"], kinds["missing"]["accuracy"]) == (1, 1.0)
    assert (kinds["event"]["judged"], kinds["event"]["open"], kinds["event"]["accuracy"]) == (0, 1, None)
    assert s["negatives_per_caption_source"]["template"]["judged"] == 3
    assert s["notes"] == [{"id": "test-1", "note": "fine"}]
    text = summary_markdown(s)
    assert "| order | 2 | 2 | 0 | 100.0 % |" in text and "| (none) | 1 | 0 | 1 | 0.0 % |" in text
    assert "- `test-1`: fine" in text


def test_wilson_interval_and_export_validation():
    assert wilson_interval(0, 0) is None
    low, high = wilson_interval(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-4) and high == pytest.approx(0.7634, abs=1e-4)
    assert wilson_interval(10, 10)[1] == 1.0
    with pytest.raises(ValueError, match="not an AudioSetMix audit export"):
        validate_export({"rows": []})
    bad = hand_export()
    bad["rows"][0]["caption_judgement"] = "maybe"
    with pytest.raises(ValueError, match="maybe"):
        validate_export(bad)
    empty = summarize(_export([]))
    assert empty["captions"]["accuracy"] is None and empty["negatives"]["judged"] == 0


def test_sample_is_seeded_sorted_and_bounded():
    assert sample_indices(1000, 10, 5) == sample_indices(1000, 10, 5)
    assert sample_indices(1000, 10, 5) != sample_indices(1000, 10, 6)
    picked = sample_indices(1000, 10, 5)
    assert picked == sorted(picked) and len(set(picked)) == 10
    assert sample_indices(4, 100, 0) == [0, 1, 2, 3]
    assert sample_indices(0, 5, 0) == []


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


@pytest.fixture(scope="module")
def audit_dir(tiny_dataset_dir, tmp_path_factory) -> Path:
    from audiosetmix_lib.cli import main

    out = tmp_path_factory.mktemp("audit") / "page"
    assert main(["audit", "--dataset_dir", str(tiny_dataset_dir), "--split", "test", "--n", str(N_AUDIT), "--seed", str(SEED),
                 "--output_dir", str(out)]) == 0
    return out


def _meta(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="audit-meta">(.*?)</script>', page, re.S)
    return json.loads(match.group(1))


def test_audit_page_is_static_offline_and_complete(audit_dir, tiny_dataset_dir):
    from audiosetmix_lib.recipe import Recipe
    from audiosetmix_lib.stats_cli import dataset_splits, iter_rows

    page = (audit_dir / "index.html").read_text(encoding="utf-8")
    parser = _Tags()
    parser.feed(page)
    audios = [a for t, a in parser.tags if t == "audio"]
    images = [a for t, a in parser.tags if t == "img"]
    rows = list(iter_rows(dataset_splits(tiny_dataset_dir)["test"]))
    expected = [rows[i] for i in sample_indices(len(rows), N_AUDIT, SEED)]
    assert [a["src"] for a in audios] == [f"audio/{r['id']}.flac" for r in expected]
    assert [a["src"] for a in images] == [f"spectrograms/{r['id']}.png" for r in expected]
    for attrs in audios + images:
        assert (audit_dir / attrs["src"]).stat().st_size > 1000
    assert (audit_dir / images[0]["src"]).read_bytes()[:4] == b"\x89PNG"
    # offline: no external scripts, styles or media; everything inline or relative
    for tag, attrs in parser.tags:
        for key in ("src", "href"):
            value = attrs.get(key) or ""
            assert not re.match(r"^(https?:)?//", value), (tag, value)
    assert not [a for t, a in parser.tags if t == "script" and a.get("src")]
    assert not [a for t, a in parser.tags if t == "link" and a.get("rel") == "stylesheet"]
    meta = _meta(page)
    assert [r["id"] for r in meta["rows"]] == [r["id"] for r in expected]
    assert meta["format"] == EXPORT_FORMAT and meta["split"] == "test" and meta["seed"] == SEED
    for row, shown in zip(expected, meta["rows"], strict=True):
        assert shown["caption"] == row["caption"] and shown["caption_source"] == row["caption_source"]
        assert shown["modifiers"] == row["modifiers"]
        assert [n["kind"] for n in shown["negatives"]] == [n["kind"] for n in row["negatives"]]
        recipe = Recipe.from_json(row["recipe"])
        section = page.split(f'id="row-{row["id"]}"', 1)[1].split("</section>", 1)[0]
        for spec in recipe.events:  # the recipe table: label and onset of every event
            assert f"<td>{spec.label}</td><td class=\"num\">{spec.onset:.2f}</td>" in section.replace("&#x27;", "'")
        assert section.count('class="judge judge-right"') == 1 + len(row["negatives"])


def test_same_seed_same_page(audit_dir, tiny_dataset_dir, tmp_path):
    from audiosetmix_lib.cli import main

    again = tmp_path / "again"
    assert main(["audit", "--dataset_dir", str(tiny_dataset_dir), "--split", "test", "--n", str(N_AUDIT), "--seed", str(SEED),
                 "--output_dir", str(again), "--audio_format", "wav"]) == 0
    first = (audit_dir / "index.html").read_text(encoding="utf-8")
    second = (again / "index.html").read_text(encoding="utf-8")
    assert second == first.replace(".flac", ".wav")
    wav = next((again / "audio").glob("*.wav")).read_bytes()
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"


def test_audit_errors_are_clear(tiny_dataset_dir, tmp_path, capsys):
    """The library raises an exception; the CLI turns it into one `error:` line and exit status 2."""
    from audiosetmix_lib.audit.cli import read_sample
    from audiosetmix_lib.cli import main
    from audiosetmix_lib.stats_cli import DatasetError

    with pytest.raises(DatasetError, match="no split 'nope'"):
        read_sample(tiny_dataset_dir, "nope", 3, 0)
    assert main(["audit", "--dataset_dir", str(tiny_dataset_dir), "--split", "nope", "--output_dir", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.startswith("error: no split 'nope'")
    (tmp_path / "bad.json").write_text("{}")
    assert main(["audit", "--summarize", str(tmp_path / "bad.json")]) == 2
    assert "not an AudioSetMix audit export" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------- browser


def _driver(download_dir: Path, profile_dir: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required", "--window-size=1200,1600",
                 f"--user-data-dir={profile_dir}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    options.add_experimental_option("prefs", {"download.default_directory": str(download_dir),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(download_dir)})
    return driver


def _wait(predicate, timeout: float = 15.0, what: str = "condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _click(driver, selector: str) -> None:
    from selenium.webdriver.common.by import By

    element = driver.find_element(By.CSS_SELECTOR, selector)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    element.click()


def _severe(driver) -> list[dict]:
    return [entry for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]


@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="chromium and chromedriver are not installed "
                    "(scripts/setup.sh installs them with AUDIOSETMIX_WITH_BROWSER=1)")
def test_page_in_headless_chromium(audit_dir, tmp_path):
    from selenium.webdriver.common.by import By

    from audiosetmix_lib.cli import main

    page = _meta((audit_dir / "index.html").read_text(encoding="utf-8"))
    first, second = page["rows"][0], page["rows"][1]
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    profile = Path(tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path))
    driver = _driver(downloads, profile)
    try:
        driver.get((audit_dir / "index.html").resolve().as_uri())  # file://, as a user opens it
        # every <audio> decodes its file (metadata loaded, a positive duration)
        states = _wait(lambda: (lambda s: s if all(r >= 1 and d > 0 for r, d, _ in s) else None)(driver.execute_script(
            "return Array.from(document.querySelectorAll('audio')).map(a => [a.readyState, a.duration || 0, a.error && a.error.code])")),
            what="audio metadata")
        assert len(states) == N_AUDIT
        assert all(error is None for _, _, error in states)
        assert driver.execute_script("return Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
        assert _severe(driver) == []

        row1, row2 = first["id"], second["id"]
        _click(driver, f'button.judge[data-row="{row1}"][data-target="caption"][data-value="right"]')
        _click(driver, f'button.judge[data-row="{row1}"][data-target="negative-0"][data-value="right"]')
        _click(driver, f'button.judge[data-row="{row1}"][data-target="negative-1"][data-value="wrong"]')
        _click(driver, f'button.judge[data-row="{row2}"][data-target="caption"][data-value="wrong"]')
        _click(driver, f'button.judge[data-row="{row2}"][data-target="negative-0"][data-value="right"]')
        _click(driver, f'button.judge[data-row="{row2}"][data-target="negative-0"][data-value="right"]')  # undo
        note = driver.find_element(By.CSS_SELECTOR, f'textarea.note[data-row="{row2}"]')
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", note)
        note.send_keys("the second event is hard to hear")

        driver.refresh()  # judgements survive a reload (localStorage)
        pressed = driver.execute_script(
            "return Array.from(document.querySelectorAll('button.judge[aria-pressed=true]')).map(b => b.dataset.row + '/' + b.dataset.target + '/' + b.dataset.value)")
        assert sorted(pressed) == sorted([f"{row1}/caption/right", f"{row1}/negative-0/right", f"{row1}/negative-1/wrong",
                                          f"{row2}/caption/wrong"])
        assert driver.find_element(By.CSS_SELECTOR, f'textarea.note[data-row="{row2}"]').get_attribute("value") == \
            "the second event is hard to hear"
        assert "2/3 captions" in driver.find_element(By.ID, "progress").text

        _click(driver, "#export")
        text = _wait(lambda: driver.execute_script("return document.getElementById('export-json').value"), what="export JSON")
        downloaded = _wait(lambda: [p for p in downloads.glob("*.json")], what="the downloaded export")
        assert json.loads(downloaded[0].read_text(encoding="utf-8"))["rows"] == json.loads(text)["rows"]
        assert _severe(driver) == []
    finally:
        driver.quit()

    export = json.loads(text)
    assert [r["id"] for r in export["rows"]] == [r["id"] for r in page["rows"]]
    by_id = {r["id"]: r for r in export["rows"]}
    assert by_id[row1]["modifiers"] == first["modifiers"] and by_id[row1]["caption_source"] == first["caption_source"]
    assert [n["kind"] for n in by_id[row1]["negatives"]] == [n["kind"] for n in first["negatives"]]
    assert by_id[row2]["note"] == "the second event is hard to hear"

    saved = tmp_path / "judgements.json"
    saved.write_text(text, encoding="utf-8")
    out = tmp_path / "summary"
    assert main(["audit", "--summarize", str(saved), "--output_dir", str(out)]) == 0
    summary = json.loads((out / "audit_summary.json").read_text())
    assert (summary["captions"]["judged"], summary["captions"]["right"], summary["captions"]["open"]) == (2, 1, N_AUDIT - 2)
    assert (summary["negatives"]["judged"], summary["negatives"]["right"]) == (2, 1)
    kind0, kind1 = first["negatives"][0]["kind"], first["negatives"][1]["kind"]
    kinds = summary["per_negative_kind"]
    assert kinds[kind0]["right"] >= 1 and kinds[kind1]["wrong"] >= 1
    source = first["caption_source"]
    assert summary["per_caption_source"][source]["judged"] == 2
    assert summary["notes"] == [{"id": row2, "note": "the second event is hard to hear"}]
    assert "Hard negatives per kind" in (out / "audit_summary.md").read_text()
