"""Training augmentation: flips always, 90-degree turns only for views of square images."""

from __future__ import annotations

import numpy as np
from PIL import Image

from deepseek_apps.apps.inspector.model import DetectorConfig
from deepseek_apps.apps.inspector.train import _prepared, make_collate

CFG = DetectorConfig(input_size=64, in_channels=1)
WIDE_BOX = np.array([[10, 50, 190, 60]], np.float32)  # a long horizontal crack


def _orientations(image: Image.Image, draws: int = 200) -> set[str]:
    item = _prepared(image, WIDE_BOX, np.zeros(1, np.int64), CFG)
    collate, rng, seen = make_collate(True), np.random.default_rng(0), set()
    for _ in range(draws):
        _, targets = collate([item], rng)
        for x0, y0, x1, y1 in targets[0]["boxes"].tolist():
            seen.add("wide" if x1 - x0 > y1 - y0 else "tall")
    return seen


def test_a_part_photographed_upright_is_never_turned():
    part = Image.new("RGB", (200, 500))  # like KolektorSDD's 500x1260 commutators, or a 500x640 tile of one
    assert not _prepared(part, WIDE_BOX, np.zeros(1, np.int64), CFG).turnable
    assert _orientations(part) == {"wide"}  # flipped and zoomed, but the crack stays horizontal


def test_square_images_are_turned_as_before():
    square = Image.new("RGB", (200, 200))  # NEU-DET
    assert _prepared(square, WIDE_BOX, np.zeros(1, np.int64), CFG).turnable
    assert _orientations(square) == {"wide", "tall"}
