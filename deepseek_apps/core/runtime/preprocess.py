"""Image pre-processing shared by training, PyTorch inference and the edge runtime (numpy + Pillow only).

Decoding and depth reduction live in ``datasets.pixels`` (the lowest layer, so dataset
readers use the same rules) and are re-exported here.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ...datasets.pixels import (
    DECOMPRESSION_BOMB,
    EIGHT_BIT_MODES,
    MAX_PIXELS,
    check_image_size,
    decode_image,
    image_too_large,
    scalable,
    scale_to_uint8,
    to_8bit,
)

__all__ = [
    "DECOMPRESSION_BOMB",
    "EIGHT_BIT_MODES",
    "MAX_PIXELS",
    "check_image_size",
    "decode_image",
    "image_too_large",
    "scalable",
    "scale_boxes_back",
    "scale_to_uint8",
    "to_8bit",
    "to_model_input",
]


def to_model_input(image: Image.Image, size: int, channels: int) -> np.ndarray:
    """PIL image -> ``(C, S, S)`` uint8: the one resize every path uses (bilinear, Pillow)."""
    mode = "L" if channels == 1 else "RGB"
    arr = np.array(to_8bit(image).convert(mode).resize((size, size), Image.BILINEAR), dtype=np.uint8)
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)


def scale_boxes_back(boxes: np.ndarray, size: int, width: int, height: int) -> np.ndarray:
    """Boxes in the ``size x size`` model frame -> pixels of the original ``width x height`` image."""
    scale = np.array([width, height, width, height], dtype=np.float32) / size
    return np.clip(boxes * scale, 0, np.array([width, height, width, height], dtype=np.float32))
