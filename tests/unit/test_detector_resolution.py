"""The working resolution follows the training boxes when no input size is given."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from deepseek_apps.apps.inspector.resolution import MIN_DEFECT_PX, check_input_size, choose_input_size
from deepseek_apps.datasets import DetectionDataset, DetectionSample
from deepseek_apps.errors import ErrorCode, InvalidInputError


def _dataset(image_side: int, box_side: float, count: int = 10) -> DetectionDataset:
    samples = []
    for i in range(count):
        box = np.array([[10, 10, 10 + box_side, 10 + box_side * 3]], np.float32)
        samples.append(DetectionSample(Image.new("RGB", (image_side, image_side)), box, np.zeros(1, np.int64), f"i{i}"))
    return DetectionDataset(samples, ("defect",))


def test_small_defects_on_large_images_raise_the_resolution():
    choice = choose_input_size(_dataset(640, 20))  # 20 px on 640 px: the PCB case
    assert choice.size == 512 and choice.chosen == "auto"
    assert choice.small_box_px >= MIN_DEFECT_PX and "512" in choice.reason


def test_large_defects_keep_the_default_size():
    assert choose_input_size(_dataset(200, 60)).size == 192  # NEU-DET-like: never below today's 192


def test_the_cap_is_said_and_small_images_are_not_blown_up():
    capped = choose_input_size(_dataset(2000, 10))
    assert capped.size == 640 and "capped" in capped.reason and "tiled" in capped.reason
    small = choose_input_size(_dataset(64, 4))
    assert small.size == 128  # at most twice the image side


def test_no_boxes_keeps_the_default_and_says_so():
    empty = DetectionDataset(
        [DetectionSample(Image.new("RGB", (300, 300)), np.zeros((0, 4), np.float32), np.zeros(0, np.int64))], ("d",)
    )
    choice = choose_input_size(empty)
    assert choice.size == 192 and "no training boxes" in choice.reason


@pytest.mark.parametrize("size", [100, 0, -32])
def test_bad_input_sizes_are_coded_errors(size):
    with pytest.raises(InvalidInputError) as err:
        check_input_size(size)
    assert err.value.code == ErrorCode.DETECTOR_INPUT_SIZE and err.value.value == size
