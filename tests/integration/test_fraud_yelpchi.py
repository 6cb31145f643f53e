"""YelpChi loaders on the real files (skipped when ../shared/data/yelpchi is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch_geometric", reason="the fraud extra is not installed (pip install deepseek-apps[fraud])")

from deepseek_apps.apps.fraud.yelpchi import load_homo_subsample, load_review_graph  # noqa: E402

YELPCHI = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "yelpchi"
pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def root() -> Path:
    if not (YELPCHI / "review_graph" / "metadata.gz").exists():
        pytest.skip(f"real data not found at {YELPCHI} (see ../shared/data/README.md)")
    return YELPCHI


def test_review_graph_is_shuffled_and_labelled(root):
    table = load_review_graph(root)
    assert len(table) == 67_395 and int(table.label.sum()) == 8_919
    assert len(set(table.src)) == 38_063 and len(set(table.dst)) == 201
    assert table.time is None
    # the file's order leaks the label; after loading, row position carries none of it
    pos = np.arange(len(table))
    corr = np.corrcoef(pos, table.label)[0, 1]
    assert abs(corr) < 0.02
    assert not np.array_equal(table.row, np.sort(table.row))


def test_homo_subsample_loads(root):
    table, labels = load_homo_subsample(root)
    assert labels.shape == (11_473,) and int(labels.sum()) == 1_657
    assert len(table) > 200_000 and table.src.dtype == object
