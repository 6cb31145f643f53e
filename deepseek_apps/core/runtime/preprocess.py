"""Image pre-processing shared by training, PyTorch inference and the edge runtime (numpy + Pillow only)."""

from __future__ import annotations

import numpy as np
from PIL import Image


def to_model_input(image: Image.Image, size: int, channels: int) -> np.ndarray:
    """PIL image -> ``(C, S, S)`` uint8: the one resize every path uses (bilinear, Pillow)."""
    mode = "L" if channels == 1 else "RGB"
    arr = np.array(image.convert(mode).resize((size, size), Image.BILINEAR), dtype=np.uint8)
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)


def scale_boxes_back(boxes: np.ndarray, size: int, width: int, height: int) -> np.ndarray:
    """Boxes in the ``size x size`` model frame -> pixels of the original ``width x height`` image."""
    scale = np.array([width, height, width, height], dtype=np.float32) / size
    return np.clip(boxes * scale, 0, np.array([width, height, width, height], dtype=np.float32))
