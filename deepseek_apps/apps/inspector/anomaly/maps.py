"""Patch distances -> heat maps -> image scores and regions (numpy and Pillow only, as on the edge).

The patch grid is upsampled bilinearly to the working size, smoothed with a Gaussian
(PatchCore / anomalib: sigma 4 pixels), and the mean of its highest pixels (a share of the
map; none: its maximum) is the image score. Regions are
the connected blobs of the map, brought to the image's own size, that reach the threshold.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image

from ....datasets.masks import mask_boxes


@lru_cache(maxsize=8)
def _blur_matrix(length: int, sigma: float) -> np.ndarray:
    """``(length, length)`` matrix applying a 1-D Gaussian with reflected borders (truncated at 4 sigma)."""
    radius = int(4.0 * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    matrix = np.zeros((length, length), dtype=np.float64)
    for i in range(length):
        for offset, weight in zip(offsets, kernel):
            j = i + offset
            while j < 0 or j >= length:  # reflect (scipy's "reflect": d c b a | a b c d | d c b a)
                j = -j - 1 if j < 0 else 2 * length - j - 1
            matrix[i, j] += weight
    return matrix.astype(np.float32)


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian smoothing of a 2-D float map (``sigma`` 0: unchanged)."""
    if sigma <= 0:
        return image
    rows, cols = image.shape
    return _blur_matrix(rows, float(sigma)) @ image @ _blur_matrix(cols, float(sigma)).T


def resize_map(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a 2-D float map to ``size`` (height, width)."""
    if values.shape == tuple(size):
        return values.astype(np.float32, copy=False)
    image = Image.fromarray(values.astype(np.float32), mode="F")
    return np.asarray(image.resize((size[1], size[0]), Image.BILINEAR), dtype=np.float32)


def anomaly_map(patch_scores: np.ndarray, size: tuple[int, int], sigma: float) -> np.ndarray:
    """The ``(h, w)`` patch-score grid as a smoothed ``size`` (height, width) heat map."""
    return gaussian_blur(resize_map(patch_scores, size), sigma)


def image_scores(maps: np.ndarray, top: float) -> np.ndarray:
    """``(N,)`` scores of ``(N, H, W)`` heat maps: the mean of each map's highest ``top`` share of pixels
    (at least one pixel; ``top`` 0: the maximum)."""
    flat = maps.reshape(len(maps), -1)
    count = max(1, int(round(top * flat.shape[1])))
    if count == 1:
        return flat.max(axis=1)
    return np.partition(flat, flat.shape[1] - count, axis=1)[:, -count:].mean(axis=1)


def regions_above(heat_map: np.ndarray, threshold: float, min_area: int = 1) -> list[list[float]]:
    """Boxes ``[x0, y0, x1, y1]`` (pixel edges) of the connected blobs of ``heat_map >= threshold``."""
    return mask_boxes((heat_map >= threshold).astype(np.uint8), min_area)


def to_pixels(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """An RGB PIL image as ``(3, height, width)`` float32 pixels 0..255 at ``size`` (height, width)."""
    height, width = size
    resized = image.convert("RGB").resize((width, height), Image.BILINEAR)
    return np.asarray(resized, dtype=np.float32).transpose(2, 0, 1).copy()
