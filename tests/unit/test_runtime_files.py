"""Batch input expansion shared by the inspector's and the contract parser's batch jobs."""

from __future__ import annotations

import pytest

from deepseek_apps.core.runtime.files import expand_inputs
from deepseek_apps.errors import InvalidInputError


def test_folders_globs_and_named_files(tmp_path):
    (tmp_path / "docs" / "sub").mkdir(parents=True)
    for name in ("docs/a.pdf", "docs/sub/b.PDF", "docs/notes.md", "c.pdf", "d.pdf"):
        (tmp_path / name).write_bytes(b"x")
    found = expand_inputs(
        [tmp_path / "docs", str(tmp_path / "c.*"), tmp_path / "missing.pdf", tmp_path / "docs" / "a.pdf"], {".pdf"}
    )
    names = [p.relative_to(tmp_path).as_posix() for p in found]
    # folders keep only wanted suffixes (any case); named files stay even when missing; no duplicates; sorted
    assert names == ["c.pdf", "docs/a.pdf", "docs/sub/b.PDF", "missing.pdf"]


def test_a_glob_that_matches_nothing_is_a_clear_error(tmp_path):
    with pytest.raises(InvalidInputError) as err:
        expand_inputs([str(tmp_path / "*.tiff")], {".tiff"})
    assert err.value.code == 1000 and "*.tiff" in str(err.value.value)
