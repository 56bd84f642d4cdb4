"""Statistics: hand-made rows with hand-computed answers, the stats command, and the dataset card."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audiosetmix_lib.events import Event
from audiosetmix_lib.recipe import EventSpec, Recipe
from audiosetmix_lib.relations import layout
from audiosetmix_lib.stats import (
    AUDIOCAPS_REFERENCE,
    caption_stats,
    dataset_stats,
    split_stats,
    stats_markdown,
    word_groups,
    word_groups_in,
    words,
)
from audiosetmix_lib.transforms import recipe_modifiers

RENDER = {"fade_seconds": 0.02, "reference_dbfs": -26.0, "active_range_db": 30.0, "limiter_threshold_dbfs": -1.0, "max_duration": 10.0}


def _event(label: str, seconds: float, split: str) -> Event:
    return Event(f"hand:{label}", f"hand:{label}", label, f"hand:{label}", 0.0, seconds, split)


def _row(split: str, index: int, specs: list[EventSpec], caption: str, kinds: list[str], source: str = "template") -> dict:
    recipe = Recipe(split=split, index=index, seed=0, sample_rate=16000, source={"name": "hand"}, events=layout(specs), render=RENDER,
                    describe={"background_db": 6.0})
    return {
        "id": recipe.id,
        "caption": caption,
        "caption_source": source,
        "prompt_version": "template-v1" if source == "template" else "llm-v1",
        "negatives": [{"caption": f"negative {k}", "kind": k, "recipe": "{}"} for k in kinds],
        "labels": recipe.labels,
        "modifiers": recipe_modifiers(recipe),
        "recipe": recipe.to_json(),
        "duration": recipe.duration,
    }


def hand_rows() -> dict[str, list[dict]]:
    """Three rows whose statistics are worked out by hand below.

    train-0: Siren 3.0 s, volume +9 dB                                    -> 0.0-3.0 s
    train-1: Bell 2.0 s (pitch down) at 0.0-2.0; Dog 2.5 s at tempo 1.25 follows after a
             0.5 s gap -> 2.5-4.5; Rain 3.0 s at -12 dB overlaps half-way into the dog
             (3.5-6.5), 12 dB below the dog (gain 0), but the dog is sped up (a level the recipe does
             not state: relations.in_background) -> overlap, not background -> duration 6.5 s
    test-0:  Dog 4.0 s; Bell 2.0 s overlaps a quarter into it (1.0-3.0), same level -> overlap
    """
    siren = EventSpec(_event("Siren", 3.0, "train"), 0.0, 3.0, {"volume": {"direction": "up", "gain_db": 9.0}})
    bell = EventSpec(_event("Bell", 2.0, "train"), 0.0, 2.0, {"pitch": {"direction": "down", "semitones": -4.0}})
    dog = EventSpec(_event("Dog", 2.5, "train"), 0.0, 2.5, {"speed": {"direction": "up", "tempo": 1.25}}, relation="follow", gap=0.5)
    rain = EventSpec(_event("Rain", 3.0, "train"), 0.0, 3.0, {"volume": {"direction": "down", "gain_db": -12.0}},
                     relation="overlap", overlap_at=0.5)
    dog_test = EventSpec(_event("Dog", 4.0, "test"), 0.0, 4.0)
    bell_test = EventSpec(_event("Bell", 2.0, "test"), 0.0, 2.0, relation="overlap", overlap_at=0.25)
    return {
        "train": [
            _row("train", 0, [siren], "A loud siren wails.", ["modifier"]),
            _row("train", 1, [bell, dog, rain],
                 "A deep bell rings, followed by a dog barking quickly with quiet rain falling in the background.",
                 ["order", "relation", "missing"]),
        ],
        "test": [_row("test", 0, [dog_test, bell_test], "A dog barks while a bell rings.", ["event"], source="llm:tiny")],
    }


def test_layout_of_hand_rows_is_what_the_docstring_says():
    rows = hand_rows()
    recipe = Recipe.from_json(rows["train"][1]["recipe"])
    assert [(e.onset, round(e.end, 6)) for e in recipe.events] == [(0.0, 2.0), (2.5, 4.5), (3.5, 6.5)]
    assert rows["train"][1]["duration"] == pytest.approx(6.5)
    assert Recipe.from_json(rows["test"][0]["recipe"]).events[1].onset == pytest.approx(1.0)


def test_split_statistics_by_hand():
    train = split_stats(hand_rows()["train"])
    assert train["rows"] == 2
    assert train["hours"] == round(9.5 / 3600, 4)
    assert train["duration_seconds"]["mean"] == 4.75 and train["duration_seconds"]["min"] == 3.0
    assert train["duration_seconds"]["max"] == 6.5 and train["duration_seconds"]["p50"] == 4.75
    assert train["duration_histogram"] == {"3": 1, "7": 1}  # 2 < 3.0 <= 3, 6 < 6.5 <= 7
    assert train["events"] == 4
    assert train["events_per_clip"] == {"1": 1, "3": 1}
    assert train["mean_events_per_clip"] == 2.0
    assert train["classes"] == {"Bell": 1, "Dog": 1, "Rain": 1, "Siren": 1}
    assert train["num_classes"] == 4
    assert train["modifiers"] == {"volume": {"up": 1, "down": 1}, "pitch": {"up": 0, "down": 1},
                                  "speed": {"up": 1, "down": 0}, "duration": {"up": 0, "down": 0},
                                  "filter": {"up": 0, "down": 0}}
    assert train["modifier_names"]["louder"] == 1 and train["modifier_names"]["lower-pitched"] == 1
    assert train["transform_rates"] == {"volume": 0.5, "pitch": 0.25, "speed": 0.25, "duration": 0.0, "filter": 0.0}
    assert train["modifiers_per_event"] == {"1": 4}
    assert train["clips_with_modifier"] == 2
    assert train["relations"] == {"follow": 1, "overlap": 1, "background": 0}
    assert train["negative_kinds"] == {"missing": 1, "modifier": 1, "order": 1, "relation": 1}
    assert train["negatives_per_row"] == {"1": 1, "3": 1}
    assert train["caption_sources"] == {"template": 2}
    captions = train["captions"]
    assert captions["count"] == 2
    assert captions["length_histogram"] == {"4": 1, "17": 1}
    assert captions["words"]["mean"] == 10.5 and captions["words"]["min"] == 4 and captions["words"]["max"] == 17
    # {a, loud, siren, wails} + the 16 distinct words of the second caption, "a" shared
    assert captions["vocabulary_size"] == 19
    assert captions["tokens"] == 21
    assert captions["top_words"][0] == ["a", 3]
    assert captions["word_group_counts"] == {"volume": 2, "pitch": 1, "speed": 1, "duration": 0, "filter": 0, "order": 1, "overlap": 1}
    assert captions["word_groups"]["volume"] == 1.0 and captions["word_groups"]["order"] == 0.5


def test_dataset_statistics_per_split_and_all():
    stats = dataset_stats(hand_rows(), caption_report={"accepted": 0.9}, reference=caption_stats(["A dog barks loudly."]),
                          reference_name="mini")
    test = stats["splits"]["test"]
    assert test["relations"] == {"follow": 0, "overlap": 1, "background": 0}
    assert test["caption_sources"] == {"llm:tiny": 1}
    assert test["duration_seconds"]["mean"] == 4.0
    everything = stats["all"]
    assert everything["rows"] == 3 and everything["events"] == 6
    assert everything["events_per_clip"] == {"1": 1, "2": 1, "3": 1}
    assert everything["classes"] == {"Bell": 2, "Dog": 2, "Rain": 1, "Siren": 1}  # most frequent first
    assert list(everything["classes"]) == ["Bell", "Dog", "Rain", "Siren"]
    assert everything["relations"] == {"follow": 1, "overlap": 2, "background": 0}
    assert everything["caption_sources"] == {"template": 2, "llm:tiny": 1}
    assert everything["captions"]["word_group_counts"]["overlap"] == 2
    assert stats["caption_report"] == {"accepted": 0.9}
    assert stats["reference"]["name"] == "mini" and stats["reference"]["word_groups"]["volume"] == 1.0
    text = stats_markdown(stats)
    assert "| rows | 2 | 1 | 3 |" in text
    assert "| overlap | 1 (50.0 %) | 1 (100.0 %) | 2 (66.7 %) |" in text
    assert "reference: mini" in text and '"accepted": 0.9' in text
    json.dumps(stats)  # plain JSON


def test_background_threshold_is_read_from_each_recipe():
    def without_speed(row: dict) -> dict:  # the dog at its own level: the rain 12 dB under it is "background"
        recipe = json.loads(row["recipe"])
        for event in recipe["events"]:
            event["transforms"].pop("speed", None)
        return {**row, "recipe": json.dumps(recipe)}

    rows = [without_speed(row) for row in hand_rows()["train"]]
    assert split_stats(rows)["relations"]["background"] == 1
    strict = [{**row, "recipe": json.dumps({**json.loads(row["recipe"]), "describe": {"background_db": 15.0}})} for row in rows]
    assert split_stats(strict)["relations"] == {"follow": 1, "overlap": 1, "background": 0}


def test_word_groups_match_whole_words_and_phrases():
    assert words("A high-pitched, LOUD beep; then silence.") == ["a", "high-pitched", "loud", "beep", "then", "silence"]
    assert word_groups_in("A high-pitched whine") == {"pitch"}
    assert word_groups_in("a high pitched whine") == {"pitch"}
    assert word_groups_in("Gas hisses along the road") == set()  # not "as", not "long"
    assert word_groups_in("A dog barks, followed by a car") == {"order"}
    assert word_groups_in("A man speaks with music in the background") == {"overlap"}
    assert word_groups_in("Wind blows as birds chirp briefly") == {"overlap", "duration"}
    assert word_groups_in("A beep sounds for a long time") == {"duration"}


def test_every_template_word_is_counted_in_its_group():
    from audiosetmix_lib.captions import template
    from audiosetmix_lib.transforms import MODIFIER_KEYS
    from audiosetmix_lib.transforms import words as modifier_words

    for transform, direction in MODIFIER_KEYS:
        for word in modifier_words((transform, direction)).adj + modifier_words((transform, direction)).adv:
            assert transform in word_groups_in(f"a {word} sound"), (transform, word)
    fill = {"clause": "a dog barks", "ing": "a dog barking", "np": "a dog"}
    for joiner in template.FOLLOW_JOINERS:
        assert "order" in word_groups_in(joiner.format(**fill)), joiner
    for joiner in template.OVERLAP_JOINERS + template.BACKGROUND_JOINERS:
        assert "overlap" in word_groups_in(joiner.format(**fill)), joiner
    # the AudioCaps reference was measured before the filter existed: a group it lacks reads "n/a"
    assert set(AUDIOCAPS_REFERENCE["word_groups"]) <= set(word_groups())
    assert {"volume", "pitch", "speed", "duration", "order", "overlap"} <= set(AUDIOCAPS_REFERENCE["word_groups"])


def _write_hand_dataset(root: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    (root / "data").mkdir(parents=True)
    for split, rows in hand_rows().items():
        pq.write_table(pa.Table.from_pylist(rows), root / "data" / f"{split}-00000-of-00001.parquet")
    return root


def test_stats_command_writes_json_markdown_and_plots(tmp_path):
    from audiosetmix_lib.cli import main

    dataset = _write_hand_dataset(tmp_path / "hand")
    (dataset / "caption_report.json").write_text(json.dumps({"acceptance_rate": 0.875, "fallbacks": 1}))
    reference = tmp_path / "ref.csv"
    reference.write_text('audiocap_id,caption\n1,"A dog barks loudly, then a car passes"\n2,A woman speaks\n'
                         '3,"Rain falls as thunder rumbles"\n4,A bell rings\n', encoding="utf-8")
    out = tmp_path / "out"
    assert main(["stats", "--dataset_dir", str(dataset), "--reference_captions", str(reference), "--output_dir", str(out)]) == 0
    stats = json.loads((out / "stats.json").read_text())
    assert list(stats["splits"]) == ["train", "test"]
    assert stats["splits"]["train"]["rows"] == 2 and stats["all"]["rows"] == 3
    assert stats["caption_report"] == {"acceptance_rate": 0.875, "fallbacks": 1}
    ref = stats["reference"]
    assert ref["name"] == "ref.csv" and ref["count"] == 4
    assert ref["word_groups"] == {"volume": 0.25, "pitch": 0.0, "speed": 0.0, "duration": 0.0, "filter": 0.0, "order": 0.25,
                                  "overlap": 0.25}
    assert ref["length_histogram"] == {"3": 2, "5": 1, "8": 1}
    markdown = (out / "stats.md").read_text()
    assert "## Caption validation report" in markdown and '"acceptance_rate": 0.875' in markdown
    assert "reference: ref.csv" in markdown
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert len(pngs) == 6
    for name in pngs:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({name})" in markdown


def test_stats_command_prints_markdown_without_output_dir(tmp_path, capsys):
    from audiosetmix_lib.cli import main

    dataset = _write_hand_dataset(tmp_path / "hand")
    assert main(["stats", "--dataset_dir", str(dataset)]) == 0
    printed = capsys.readouterr().out
    assert "| rows | 2 | 1 | 3 |" in printed and AUDIOCAPS_REFERENCE["name"] in printed
    assert not (dataset / "stats.json").exists()


def test_stats_of_a_built_dataset_agree_with_its_columns(tiny_dataset_dir):
    from audiosetmix_lib.stats_cli import compute, dataset_splits, iter_rows
    from audiosetmix_lib.transforms import MODIFIER_NAMES

    stats = compute(tiny_dataset_dir)
    assert {s: v["rows"] for s, v in stats["splits"].items()} == {"train": 24, "validation": 8, "test": 8}
    for split, paths in dataset_splits(tiny_dataset_dir).items():
        rows = list(iter_rows(paths))
        s = stats["splits"][split]
        assert sum(s["events_per_clip"].values()) == len(rows)
        assert s["events"] == sum(len(r["labels"]) for r in rows)
        assert s["hours"] == pytest.approx(sum(r["duration"] for r in rows) / 3600, abs=1e-4)
        names = [m for r in rows for m in r["modifiers"]]
        for (transform, direction), name in MODIFIER_NAMES.items():
            assert s["modifiers"][transform][direction] == names.count(name)
        assert sum(s["negative_kinds"].values()) == sum(len(r["negatives"]) for r in rows)
        assert sum(s["relations"].values()) == s["events"] - s["rows"]
        assert max(int(k) for k in s["events_per_clip"]) <= 5


def test_card_carries_the_statistics_and_hub_metadata(tiny_dataset_dir):
    import yaml

    from audiosetmix_lib.stats import stats_markdown
    from audiosetmix_lib.stats_cli import compute

    card = (tiny_dataset_dir / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\n")
    header = yaml.safe_load(card.split("---\n")[1])
    for key in ("configs", "dataset_info", "license", "task_categories", "tags"):
        assert key in header, key
    assert "\n## Statistics\n" in card
    assert "$statistics" not in card and "Not computed" not in card
    # the build's statistics (from the prepared dataset) equal the stats command's (from the Parquet files)
    assert stats_markdown(compute(tiny_dataset_dir), level=3, max_classes=30).strip() in card
    assert "| rows | 24 | 8 | 8 | 40 |" in card
    statistics = card.split("\n## Statistics\n", 1)[1]
    for later in ("## Licence", "## Intended uses", "## Known limitations", "## Citation"):
        assert later in statistics
    assert "2405.11093" in card and "| seed | 7 |" in card
    assert not (tiny_dataset_dir / "stats.json").exists()


def test_stats_of_a_folder_without_shards_raises_and_the_cli_says_why(tmp_path, capsys):
    """`compute` is called by other code: it raises; only the CLI prints `error:` and exits non-zero."""
    from audiosetmix_lib.cli import main
    from audiosetmix_lib.stats_cli import DatasetError, compute

    with pytest.raises(DatasetError, match="no data/"):
        compute(tmp_path)
    assert main(["stats", "--dataset_dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error: no data/*.parquet")
