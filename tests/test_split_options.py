"""Both labelled-file sources (folder, hf) refuse the same bad split settings with the same message, naming themselves."""

from __future__ import annotations

import pytest

from audiosetmix_lib.sources.base import SourceError
from audiosetmix_lib.sources.folder import FolderSource
from audiosetmix_lib.sources.hf import HFSource


@pytest.mark.parametrize("make, who", [(lambda tmp, **kw: FolderSource(str(tmp), **kw), "folder source"),
                                       (lambda tmp, **kw: HFSource(str(tmp), **kw), "hf source")])
def test_bad_fractions_and_split_maps_are_refused_by_both_sources(tmp_path, make, who):
    with pytest.raises(SourceError, match=f"^{who}: fractions must be three non-negative numbers, got \\(1, 1\\)$"):
        make(tmp_path, fractions=(1, 1))
    with pytest.raises(SourceError, match=f"^{who}: fractions must be"):
        make(tmp_path, fractions=(0, 0, 0))
    with pytest.raises(SourceError, match=f"^{who}: split_map needs split_column$"):
        make(tmp_path, split_map={"1": "train"})
    with pytest.raises(SourceError, match=f"^{who}: split_map: unknown split name 'nope'"):
        make(tmp_path, split_column="fold", split_map={"1": "nope"})
    source = make(tmp_path, split_column="fold", split_map={" 5 ": "val", "1": "train"}, fractions=(8, 1, 1))
    assert source.split_map == {"1": "train", "5": "validation"} and source.fractions == (8.0, 1.0, 1.0)
