"""The anomaly task's parts alone: coreset, nearest-neighbour search, smoothing, threshold, masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepseek_apps.apps.inspector.anomaly.config import AnomalyConfig, auto_long_side
from deepseek_apps.apps.inspector.anomaly.data import polygon_mask
from deepseek_apps.apps.inspector.anomaly.maps import gaussian_blur, image_scores, regions_above
from deepseek_apps.apps.inspector.anomaly.memory import greedy_coreset, grouped_coreset, nearest_distances
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


def test_grouped_coreset_keeps_each_images_outliers_and_covers_like_greedy():
    rng = np.random.default_rng(4)
    groups = [rng.normal(0, 0.1, (200, 8)) for _ in range(5)]
    groups[1][17] = 30.0  # one far patch in image 1, another in image 3
    groups[3][150] = -30.0
    features = torch.tensor(np.concatenate(groups), dtype=torch.float32)
    chosen = grouped_coreset(features, 10, group_rows=200, projection_dim=8, seed=0, exact_work=0)
    assert {217, 750} <= set(chosen.tolist())
    assert len(set(chosen.tolist())) == 10
    points = np.concatenate([rng.normal(c, 0.3, (300, 4)) for c in range(6)]).astype(np.float32)
    grouped = grouped_coreset(torch.tensor(points), 12, group_rows=100, projection_dim=4, exact_work=0).numpy()
    full = greedy_coreset(torch.tensor(points), 12, projection_dim=4).numpy()
    assert nearest_distances(points, points[grouped]).max() < 1.5 * nearest_distances(points, points[full]).max()
    # cheap enough, one group, or groups too small to reduce: the plain greedy pass
    assert grouped_coreset(features, 10, group_rows=200).tolist() == greedy_coreset(features, 10).tolist()
    assert grouped_coreset(features, 10, 1000, exact_work=0).tolist() == greedy_coreset(features, 10).tolist()


def test_automatic_working_size_follows_the_images_within_limits():
    auto = AnomalyConfig(long_side=None)
    kolektor = auto.with_size_for(1255 / 500, 1255)
    assert kolektor.size == (1248, 496) and kolektor.patch_stride == 16  # native, sides on 16; 31 patches across
    assert auto.with_size_for(1.0, 4000).size == (816, 816)  # shrunk to about the pixel budget
    assert auto.with_size_for(1.0, 100).size == (224, 224)  # small parts enlarged
    assert AnomalyConfig().with_size_for(1255 / 500, 1255).size == (640, 256)  # the default: 640
    assert AnomalyConfig(long_side=640).with_size_for(2.5).patch_stride == 8  # 16 patches at 16 px: too few
    assert AnomalyConfig(long_side=640, patch_stride=16).with_size_for(2.5).patch_stride == 16
    assert auto_long_side(5000, 0.25) == 1280


def test_old_configs_keep_their_patch_grid_and_bad_grids_have_a_code():
    assert AnomalyConfig.from_dict({"long_side": 640, "strides": [8, 16]}).patch_stride == 8
    assert AnomalyConfig.from_dict(AnomalyConfig().to_dict()) == AnomalyConfig()
    fitted = AnomalyConfig(long_side=None).with_size_for(1.0, 1000)
    assert AnomalyConfig.from_dict(fitted.to_dict()) == fitted
    with pytest.raises(InvalidInputError) as info:
        AnomalyConfig(strides=(8,), patch_stride=16).validated()
    assert info.value.code == ErrorCode.ANOMALY_BAD_OPTION
    with pytest.raises(InvalidInputError):
        AnomalyConfig(long_side=16).validated()


def test_patch_grid_averages_finer_levels_and_upsamples_coarser():
    from torch.nn import functional as F

    from deepseek_apps.apps.inspector.anomaly.features import PatchEmbedder
    from deepseek_apps.apps.inspector.efficientnet_lite import normalize_pixels

    class Levels(torch.nn.Module):
        out_strides, out_channels = (8, 16), (2, 3)

        def forward(self, x):
            return [x[:, :2, ::8, ::8], x[:, :3, ::16, ::16]]

    pixels = torch.rand(1, 3, 64, 32) * 255
    coarse = PatchEmbedder(Levels(), pool=1, patch_stride=16)(pixels)
    fine = PatchEmbedder(Levels(), pool=1)(pixels)
    assert coarse.shape == (1, 5, 4, 2) and fine.shape == (1, 5, 8, 4)
    torch.testing.assert_close(coarse[:, :2], F.avg_pool2d(fine[:, :2], 2))
    torch.testing.assert_close(coarse[:, 2:], Levels()(normalize_pixels(pixels))[1])


def test_a_model_saved_before_the_backbone_setting_opens_on_lite0():
    old = AnomalyConfig().to_dict()
    del old["backbone"]
    assert AnomalyConfig.from_dict(old).backbone == "efficientnet_lite0"
    assert AnomalyConfig().backbone == "efficientnet_lite1"
    with pytest.raises(InvalidInputError) as info:
        AnomalyConfig(backbone="tiny").validated()
    assert info.value.code == ErrorCode.ANOMALY_BAD_OPTION


def test_image_score_is_the_mean_of_the_maps_top_share():
    maps = np.zeros((2, 10, 10), dtype=np.float32)
    maps[0, 0, 0] = 9.0  # one bright pixel
    maps[1, 4:6, 4:6] = 3.0  # a 4-pixel blob
    np.testing.assert_allclose(image_scores(maps, 0.0), [9.0, 3.0])
    np.testing.assert_allclose(image_scores(maps, 0.04), [9.0 / 4, 3.0])  # top 4 of 100 pixels
    np.testing.assert_allclose(image_scores(maps, 0.001), [9.0, 3.0])  # never fewer than one pixel
    ranked = image_scores(np.random.default_rng(0).random((5, 20, 20)).astype(np.float32), 0.05)
    brute = [np.sort(m.ravel())[-20:].mean() for m in np.random.default_rng(0).random((5, 20, 20)).astype(np.float32)]
    np.testing.assert_allclose(ranked, brute, rtol=1e-6)


def test_a_model_saved_before_the_score_setting_keeps_the_max():
    old = AnomalyConfig().to_dict()
    del old["score_top"]
    assert AnomalyConfig.from_dict(old).score_top == 0.0
    assert AnomalyConfig().score_top == 0.01
    with pytest.raises(InvalidInputError) as info:
        AnomalyConfig(score_top=0.9).validated()
    assert info.value.code == ErrorCode.ANOMALY_BAD_OPTION and info.value.value == 0.9
