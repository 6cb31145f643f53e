"""The anomaly task's parts alone: coreset, nearest-neighbour search, smoothing, threshold, masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepseek_apps.apps.inspector.anomaly.data import polygon_mask
from deepseek_apps.apps.inspector.anomaly.maps import gaussian_blur, regions_above
from deepseek_apps.apps.inspector.anomaly.memory import greedy_coreset, nearest_distances
from deepseek_apps.apps.inspector.anomaly.model import threshold_for
from deepseek_apps.errors import ErrorCode, InvalidInputError


def test_nearest_distances_match_brute_force():
    rng = np.random.default_rng(0)
    queries, bank = rng.normal(size=(300, 16)), rng.normal(size=(70, 16))
    brute = np.sqrt(((queries[:, None, :] - bank[None]) ** 2).sum(-1)).min(1)
    got = nearest_distances(queries, bank, max_elements=500)  # forces several chunks
    np.testing.assert_allclose(got, brute, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(torch.cdist(torch.tensor(queries), torch.tensor(bank)).min(1).values, got, atol=1e-4)


def test_greedy_coreset_reaches_the_outliers_first():
    rng = np.random.default_rng(1)
    cluster = rng.normal(0, 0.1, (500, 8))
    outliers = np.eye(8)[:3] * 20
    features = torch.tensor(np.concatenate([cluster, outliers]), dtype=torch.float32)
    chosen = greedy_coreset(features, 5, projection_dim=8, seed=0)
    assert set(range(500, 503)) <= set(chosen.tolist())
    assert len(set(chosen.tolist())) == 5
    assert greedy_coreset(features, 10_000).tolist() == list(range(503))


def test_coreset_covers_better_than_random():
    rng = np.random.default_rng(2)
    points = np.concatenate([rng.normal(c, 0.3, (200, 4)) for c in range(6)]).astype(np.float32)
    chosen = greedy_coreset(torch.tensor(points), 12, projection_dim=4).numpy()
    random = rng.choice(len(points), 12, replace=False)
    assert nearest_distances(points, points[chosen]).max() < nearest_distances(points, points[random]).max()


def test_blur_matches_scipy_reflect():
    ndimage = pytest.importorskip("scipy.ndimage")
    image = np.random.default_rng(3).random((40, 25)).astype(np.float32)
    ours = gaussian_blur(image, 2.0)
    np.testing.assert_allclose(ours, ndimage.gaussian_filter(image, 2.0, mode="reflect", truncate=4.0), atol=1e-5)
    assert gaussian_blur(image, 0) is image


def test_threshold_allows_the_target_false_reject_rate():
    scores = np.arange(100, dtype=float)
    assert 98 < threshold_for(scores, 0.01) <= 99  # one good image in 100 may be rejected
    assert threshold_for(scores, 0.0) > 99
    assert (scores >= threshold_for(scores, 0.1)).sum() == 10


def test_regions_are_the_blobs_above_threshold():
    heat = np.zeros((20, 30), np.float32)
    heat[2:5, 3:7] = 2.0
    heat[10:12, 20:29] = 3.0
    assert sorted(regions_above(heat, 1.0)) == [[3.0, 2.0, 7.0, 5.0], [20.0, 10.0, 29.0, 12.0]]
    assert regions_above(heat, 5.0) == []


def test_polygon_mask_rasterises_yolo_lines(tmp_path):
    label = tmp_path / "a.txt"
    label.write_text("0 0.1 0.1 0.5 0.1 0.5 0.5 0.1 0.5\n0 0.8 0.8 0.1 0.1\n")
    mask = polygon_mask(label, 100, 50)
    assert mask.shape == (50, 100)
    assert mask[15, 30] and mask[40, 80] and not mask[45, 5]
    label.write_text("0 0.1 0.2 0.3\n")
    with pytest.raises(InvalidInputError) as info:
        polygon_mask(label, 100, 50)
    assert info.value.code == ErrorCode.ANNOTATION_INVALID
