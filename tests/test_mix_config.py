"""Settings that would make captions untrue of their sound are refused at MixConfig, each naming its field.

Through the CLI: `build --mix ...` with one bad field ends with one `error:` line naming the field,
exit code 2, no traceback, before any work (in-process `main`, and one case in a fresh process).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from audiosetmix_lib.cli import main
from audiosetmix_lib.config import MixConfig

ROOT = Path(__file__).resolve().parents[1]

# (--mix JSON, the field the error must name): every field, and each transform's settings
BAD = [
    ('{"transforms": {"reverb": {}}}', "reverb"),
    ('{"transforms": {"volume": 3}}', "volume"),
    ('{"transforms": {"volume": {"up": [0, 1]}}}', "volume.up"),  # a 0 dB "louder"
    ('{"transforms": {"volume": {"up": "loud"}}}', "volume.up"),
    ('{"transforms": {"pitch": {"down": [-1, -0.5]}}}', "pitch.down"),
    ('{"transforms": {"speed": {"up": [1.0, 1.1]}}}', "speed.up"),
    ('{"transforms": {"duration": {"down": [0.8, 0.9]}}}', "duration.down"),
    ('{"transforms": {"filter": {"up": [0.9, 0.95]}}}', "filter.up"),
    ('{"transforms": {"filter": {"probability": "often"}}}', "filter.probability"),
    ('{"transforms": {"pitch": {"probability": 2}}}', "pitch.probability"),
    ('{"overlap_onset": [1.5, 3.0]}', "overlap_onset"),  # "while" over events that never meet
    ('{"overlap_onset": 0.3}', "overlap_onset"),
    ('{"follow_gap": [-1, 0.5]}', "follow_gap"),
    ('{"fade_seconds": -1}', "fade_seconds"),
    ('{"background_db": -3}', "background_db"),  # "in the background" over a louder event
    ('{"reference_dbfs": 10}', "reference_dbfs"),
    ('{"limiter_threshold_dbfs": -40}', "limiter_threshold_dbfs"),
    ('{"active_range_db": 0}', "active_range_db"),
    ('{"max_duration": 0}', "max_duration"),
    ('{"min_event_share": -1}', "min_event_share"),
    ('{"overlap_probability": 1.5}', "overlap_probability"),
    ('{"max_events": "x"}', "max_events"),
    ('{"min_events": 3, "max_events": 2}', "min_events"),
    ('{"min_events": true}', "min_events"),
]


@pytest.mark.parametrize("mix, field", BAD, ids=[field for _, field in BAD])
def test_each_bad_field_is_one_error_line_naming_it(tmp_path, capsys, mix, field):
    out = tmp_path / "out"
    assert main(["build", "--output_dir", str(out), "--mix", mix]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --mix: ") and field in lines[0], err
    assert "Traceback" not in err and not out.exists()  # refused before any work


def test_an_unknown_transform_is_one_line_in_a_fresh_process(tmp_path):
    done = subprocess.run([sys.executable, "audiosetmix.py", "build", "--output_dir", str(tmp_path / "o"),
                           "--mix", '{"transforms": {"reverb": {}}}'], cwd=ROOT, capture_output=True, text=True,
                          timeout=180, env={**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert done.stderr.strip().splitlines() == [done.stderr.strip()] and "reverb" in done.stderr


def test_the_defaults_and_the_edges_of_each_range_are_accepted():
    MixConfig()
    MixConfig(overlap_onset=(0.0, 0.9), follow_gap=(0, 5), background_db=3, fade_seconds=0, reference_dbfs=0,
              limiter_threshold_dbfs=0, transforms={"volume": {"up": [3, 3]}, "speed": {"up": [1.15, 4]},
                                                      "filter": {"down": [0.5, 0.5]}})


def test_numbers_come_out_as_their_declared_types():
    config = MixConfig.from_dict({"overlap_onset": [0, 1 / 2], "background_db": 9, "max_events": 3})
    assert config.overlap_onset == (0.0, 0.5) and isinstance(config.background_db, float) and config.max_events == 3
