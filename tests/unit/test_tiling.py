"""Tiled detection (core.runtime.tiling): windows, training boxes, merging across tiles, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from scipy import ndimage

from deepseek_apps.core.runtime.postprocess import pairwise_iou
from deepseek_apps.core.runtime.tiling import Tiling, detect_images, tile_boxes, windows
from deepseek_apps.errors import ErrorCode, InvalidInputError


@given(
    width=st.integers(1, 5000),
    height=st.integers(1, 5000),
    tile=st.integers(64, 1024),
    overlap=st.floats(0.0, 0.6),
)
def test_windows_cover_the_image_with_at_least_the_overlap(width, height, tile, overlap):
    wins = windows(width, height, Tiling(tile, overlap))
    assert (wins[:, :2] >= 0).all() and (wins[:, 2] <= width).all() and (wins[:, 3] <= height).all()
    assert ((wins[:, 2] - wins[:, 0]) == min(tile, width)).all() and (
        (wins[:, 3] - wins[:, 1]) == min(tile, height)
    ).all()
    covered = np.zeros((min(height, 400), min(width, 400)), dtype=bool)  # coverage checked on a corner
    for x0, y0, x1, y1 in wins:
        covered[y0:y1, x0:x1] = True
    assert covered.all()
    xs = np.unique(wins[:, 0])
    if len(xs) > 1:  # neighbours share at least the requested overlap (rounding: one pixel)
        assert (np.diff(xs) <= tile * (1 - overlap) + 1).all()
        assert xs[-1] + tile == width


def test_small_images_are_one_window_and_not_tiled():
    tiling = Tiling(640)
    assert windows(500, 300, tiling).tolist() == [[0, 0, 500, 300]]
    assert not tiling.applies(640, 640) and tiling.applies(641, 10)


def test_training_boxes_are_clipped_to_the_tile_and_kept_when_mostly_visible():
    boxes = np.array([[10, 10, 30, 30], [630, 10, 650, 30], [600, 10, 700, 30], [900, 900, 910, 910]], np.float32)
    labels = np.array([0, 1, 2, 3])
    kept, kept_labels = tile_boxes(boxes, labels, np.array([0, 0, 640, 640]))
    assert kept_labels.tolist() == [0, 1]  # box 1: half of it inside (kept); box 2: 40% (dropped)
    assert kept[1].tolist() == [630, 10, 640, 30]
    kept, kept_labels = tile_boxes(boxes, labels, np.array([0, 0, 640, 640]), min_visible=0.6)
    assert kept_labels.tolist() == [0]
    kept, kept_labels = tile_boxes(boxes, labels, np.array([480, 0, 1120, 640]))
    assert kept_labels.tolist() == [1, 2] and kept[0].tolist() == [150, 10, 170, 30]  # in the tile's own frame


@pytest.mark.parametrize("tile, overlap", [(10, 0.25), (True, 0.25), (640.5, 0.25), (640, 0.95), (640, -0.1)])
def test_bad_tiling_is_a_coded_error(tile, overlap):
    with pytest.raises(InvalidInputError) as err:
        Tiling(tile, overlap)
    assert err.value.code == ErrorCode.DETECTOR_TILING_INVALID and err.value.hint


def _blob_detector(threshold: float = 128.0):
    """A stand-in model: boxes of the bright blobs of each input, scored by their size in the input.

    It sees what a detector sees (the resized model input), so a defect shrunk by resizing
    gets a small, coarse box and a low score, as a real model would.
    """

    def forward(pixels: np.ndarray):
        out_b, out_s, out_l = [], [], []
        for img in pixels[:, 0]:
            found, _ = ndimage.label(img > threshold)
            boxes = [
                [s[1].start, s[0].start, s[1].stop, s[0].stop] for s in ndimage.find_objects(found) if s is not None
            ]
            b = np.array(boxes, np.float32).reshape(-1, 4)
            area = np.prod(b[:, 2:] - b[:, :2], axis=1)
            out_b.append(np.pad(b, ((0, 100 - len(b)), (0, 0))))
            out_s.append(np.pad(np.minimum(1.0, area / 300.0), (0, 100 - len(b))))
            out_l.append(np.zeros(100, np.int64))
        return np.stack(out_b), np.stack(out_s).astype(np.float32), np.stack(out_l)

    return forward


def _scratches(width=2000, height=1500, count=40, side=20, seed=0):
    rng = np.random.default_rng(seed)
    canvas = np.full((height, width), 40, np.uint8)
    truth = []
    while len(truth) < count:
        x, y = int(rng.integers(0, width - side)), int(rng.integers(0, height - side))
        box = np.array([x, y, x + side, y + side], np.float32)
        if truth and (pairwise_iou(box[None] + [-30, -30, 30, 30], np.array(truth)) > 0).any():
            continue  # keep defects apart
        canvas[y : y + side, x : x + side] = 230
        truth.append(box)
    for x in (480 * k for k in range(1, 4)):  # defects straddling tile borders on purpose
        canvas[700:720, x - 8 : x + 12] = 230
        truth.append(np.array([x - 8, 700, x + 12, 720], np.float32))
    return Image.fromarray(canvas), np.array(truth)


def test_a_2000_pixel_image_with_20_pixel_defects_finds_each_defect_once_at_native_precision():
    image, truth = _scratches()
    forward = _blob_detector()
    whole = detect_images([image], forward, 640, 1, None, score_threshold=0.3)[0]
    assert len(whole[0]) == 0  # shrunk to 640, every defect is ~6 px: scored below threshold
    boxes, scores, _ = detect_images([image], forward, 640, 1, Tiling(640, 0.25), score_threshold=0.3)[0]
    iou = pairwise_iou(truth, boxes)
    assert len(boxes) == len(truth)  # every defect once: no duplicates from overlapping tiles
    assert (iou.max(axis=1) > 0.8).all()  # each found at native precision
    assert (scores > 0.9).all()


def test_defects_larger_than_the_overlap_come_from_the_whole_image_view():
    canvas = np.full((1200, 1200), 40, np.uint8)
    canvas[300:900, 300:900] = 230  # 600 px: cut by every tile edge
    image = Image.fromarray(canvas)
    forward = _blob_detector()
    boxes, _, _ = detect_images([image], forward, 400, 1, Tiling(400, 0.25), score_threshold=0.3)[0]
    assert len(boxes) == 1 and pairwise_iou(boxes, np.array([[300, 300, 900, 900]]))[0, 0] > 0.95
    cut, _, _ = detect_images([image], forward, 400, 1, Tiling(400, 0.25, whole_image=False), score_threshold=0.3)[0]
    assert len(cut) == 0  # without the whole-image view a defect larger than the overlap is lost (documented)


def test_mixed_sizes_small_images_whole_large_ones_tiled_in_input_order():
    small, _ = _scratches(width=300, height=300, count=2, seed=3)
    large, truth = _scratches(seed=4)
    results = detect_images([small, large, small], _blob_detector(), 640, 1, Tiling(640), score_threshold=0.3)
    assert [len(r[0]) for r in results] == [2, len(truth), 2]


def test_views_are_the_tiles_and_the_whole_image_and_int8_calibrates_on_them():
    from deepseek_apps.apps.inspector.export import calibration_pixels
    from deepseek_apps.apps.inspector.model import DetectorConfig
    from deepseek_apps.core.runtime.tiling import views

    large = Image.fromarray(np.arange(500 * 1260, dtype=np.uint32).reshape(1260, 500).astype(np.uint8))
    small = Image.new("RGB", (200, 200), (9, 9, 9))
    tiling = Tiling(640, 0.25)
    seen = views(large, tiling)
    assert [w.tolist() for w, _ in seen] == [
        [0, 0, 500, 640],
        [0, 310, 500, 950],
        [0, 620, 500, 1260],
        [0, 0, 500, 1260],
    ]
    assert np.array_equal(np.asarray(seen[1][1]), np.asarray(large)[310:950])  # a tile is a crop at native resolution
    assert len(views(large, Tiling(640, 0.25, whole_image=False))) == 3
    assert [w.tolist() for w, _ in views(small, tiling)] == [[0, 0, 200, 200]]  # not larger than a tile: whole
    assert [w.tolist() for w, _ in views(large, None)] == [[0, 0, 500, 1260]]  # no tiling: whole
    cfg = DetectorConfig(input_size=64, in_channels=1)
    assert calibration_pixels([large, small], cfg, tiling=tiling).shape == (5, 1, 64, 64)
    assert calibration_pixels([large, small], cfg).shape == (2, 1, 64, 64)  # an untiled model: whole images
    spread = calibration_pixels([large] * 3, cfg, limit=4, tiling=tiling)
    assert spread.shape == (4, 1, 64, 64)  # at most `limit` views, taken evenly from all of them
