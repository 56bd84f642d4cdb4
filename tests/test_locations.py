"""Build destinations and source paths as URLs: file:// is a local path, hf:// is refused, an object store needs its
fsspec backend (builds into object stores: test_object_store_output.py)."""

from __future__ import annotations

import importlib.util

import pytest

from audiosetmix_lib.cli import main
from audiosetmix_lib.locations import LocationError, local_path


def test_file_urls_are_local_paths(tmp_path):
    assert local_path(tmp_path.as_uri(), "--output_dir") == tmp_path.resolve()
    assert local_path(str(tmp_path / "a" / ".." / "b"), "--output_dir") == (tmp_path / "b").resolve()
    with pytest.raises(LocationError, match="s3:// is not supported"):  # sources are read from paths
        local_path("s3://bucket/out", "--source_path")


@pytest.mark.parametrize("destination, words", [("hf://datasets/me/asm", "not a build destination"),
                                                ("gs://bucket/asm", "pip install gcsfs")])
def test_refused_destinations_stop_with_one_error_line(destination, words, capsys):
    if destination.startswith("gs://") and importlib.util.find_spec("gcsfs") is not None:
        pytest.skip("gcsfs is installed here: gs:// is a build destination")
    code = main(["build", "--output_dir", destination, "--train", "2", "--validation", "0", "--test", "0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: --output_dir") and words in err[0]
