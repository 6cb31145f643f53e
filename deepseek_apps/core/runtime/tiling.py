"""Tiled detection: large images with small defects, at (close to) native resolution.

A detector sees one ``S x S`` input. Shrinking a 2,000-pixel image to 640 makes a 20-pixel
scratch 6 pixels wide, too small for the finest feature level. Tiling cuts the image into
overlapping ``tile x tile`` windows, runs the model on each window (resized to ``S``: no
resize at all when ``tile == S``), maps the boxes back and merges them:

- a box touching a window's *inner* edge (one that is not the image border) is cut by that
  edge; it is dropped, because the overlap shows the same defect whole in the neighbouring
  window (defects up to ``overlap * tile`` pixels across);
- with ``whole_image`` the image is also run whole (resized to ``S``), which finds the
  defects larger than the overlap;
- class-wise NMS then merges the duplicates of overlapping windows, and a box lying mostly
  inside a better one of its class (intersection over the smaller box >= ``SAME_DEFECT_IOS``:
  the whole-image view of a small defect, coarser than the tile's) is merged into it.

The same functions serve training (``tile_boxes`` cuts the labelled boxes), PyTorch and
ONNX Runtime inference, evaluation and the edge runtime: numpy and Pillow only.

Example:
    >>> windows(2000, 500, Tiling(tile=640, overlap=0.25)).tolist()[:2]
    [[0, 0, 640, 500], [453, 0, 1093, 500]]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

from ...errors import ErrorCode, InvalidInputError
from .postprocess import select_detections
from .preprocess import scale_boxes_back, to_model_input

Forward = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]
EDGE_MARGIN = 2.0  # px: a box this close to an inner window edge was cut by it
MIN_TILE = 64
SAME_DEFECT_IOS = 0.7  # a box this much inside a better box of its class is the same defect seen twice


@dataclass(frozen=True)
class Tiling:
    """How a model tiles large images (stored with the model and in the bundle manifest).

    ``tile``: window side in image pixels; ``overlap``: fraction of ``tile`` that neighbouring
    windows share; ``whole_image``: also run the image whole (for defects larger than the
    overlap). Images whose sides are both at most ``tile`` are run whole, as without tiling.
    """

    tile: int
    overlap: float = 0.25
    whole_image: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.tile, bool) or not isinstance(self.tile, int | np.integer) or self.tile < MIN_TILE:
            raise InvalidInputError(
                ErrorCode.DETECTOR_TILING_INVALID,
                f"tile must be a whole number of pixels >= {MIN_TILE}",
                value=self.tile,
                hint="pass --tile 640 (or 0 to turn tiling off)",
            )
        if not 0.0 <= float(self.overlap) < 0.9:
            raise InvalidInputError(
                ErrorCode.DETECTOR_TILING_INVALID,
                "tile overlap must be in [0, 0.9)",
                value=self.overlap,
                hint="0.25 (a quarter of the tile) suits defects up to a quarter of the tile across",
            )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> Tiling | None:
        if not data:
            return None
        return cls(int(data["tile"]), float(data.get("overlap", 0.25)), bool(data.get("whole_image", True)))

    def applies(self, width: int, height: int) -> bool:
        """True when the image is larger than one tile."""
        return max(width, height) > self.tile


def _starts(side: int, tile: int, overlap: float) -> list[int]:
    """Window origins along one axis: evenly spread, the last one flush with the far edge."""
    if side <= tile:
        return [0]
    count = math.ceil((side - tile) / max(1.0, tile * (1.0 - overlap))) + 1
    return [round(i * (side - tile) / (count - 1)) for i in range(count)]


def windows(width: int, height: int, tiling: Tiling) -> np.ndarray:
    """``(K, 4)`` int windows ``x0, y0, x1, y1`` covering the image, row by row."""
    xs, ys = _starts(width, tiling.tile, tiling.overlap), _starts(height, tiling.tile, tiling.overlap)
    return np.array(
        [[x, y, min(x + tiling.tile, width), min(y + tiling.tile, height)] for y in ys for x in xs], dtype=np.int64
    )


def tile_boxes(
    boxes: np.ndarray, labels: np.ndarray, window: np.ndarray, min_visible: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Labelled boxes inside ``window`` in its own frame: clipped, kept when ``min_visible`` of the box shows."""
    if not len(boxes):
        return boxes.reshape(0, 4).astype(np.float32), labels[:0]
    x0, y0, x1, y1 = (float(v) for v in window)
    clipped = np.clip(boxes, [x0, y0, x0, y0], [x1, y1, x1, y1])
    area = np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 0, None), axis=1)
    seen = np.prod(np.clip(clipped[:, 2:] - clipped[:, :2], 0, None), axis=1)
    keep = (seen > 0) & (seen >= min_visible * np.maximum(area, 1e-9))
    return (clipped[keep] - [x0, y0, x0, y0]).astype(np.float32), labels[keep]


def _not_cut(boxes: np.ndarray, window: np.ndarray, width: int, height: int) -> np.ndarray:
    """Mask of boxes (image frame) that touch none of ``window``'s inner edges."""
    x0, y0, x1, y1 = window
    keep = np.ones(len(boxes), dtype=bool)
    if x0 > 0:
        keep &= boxes[:, 0] > x0 + EDGE_MARGIN
    if y0 > 0:
        keep &= boxes[:, 1] > y0 + EDGE_MARGIN
    if x1 < width:
        keep &= boxes[:, 2] < x1 - EDGE_MARGIN
    if y1 < height:
        keep &= boxes[:, 3] < y1 - EDGE_MARGIN
    return keep


def views(image: Image.Image, tiling: Tiling | None) -> list[tuple[np.ndarray, Image.Image]]:
    """What the model sees of one image: ``(window, crop)`` for each tile, and the whole image.

    An image the tiling does not apply to (or ``tiling=None``) is one whole view.
    """
    width, height = image.size
    whole = (np.array([0, 0, width, height]), image)
    if tiling is None or not tiling.applies(width, height):
        return [whole]
    out = [(np.asarray(w), image.crop(tuple(int(v) for v in w))) for w in windows(width, height, tiling)]
    return [*out, whole] if tiling.whole_image else out


def detect_tiled(
    image: Image.Image,
    forward: Forward,
    size: int,
    channels: int,
    tiling: Tiling,
    score_threshold: float,
    iou_threshold: float = 0.5,
    max_detections: int = 100,
    batch_size: int = 16,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Detections of one large image in its own pixels: windows (and the whole image) in batches, merged."""
    width, height = image.size
    seen = views(image, tiling)
    found_b, found_s, found_l = [], [], []
    for start in range(0, len(seen), batch_size):
        chunk = seen[start : start + batch_size]
        pixels = np.stack([to_model_input(view, size, channels) for _, view in chunk]).astype(np.float32)
        boxes, scores, labels = forward(pixels)
        for (window, view), b, s, lab in zip(chunk, boxes, scores, labels):
            keep = s >= score_threshold
            b = scale_boxes_back(b[keep], size, view.width, view.height) + window[[0, 1, 0, 1]].astype(np.float32)
            inner = _not_cut(b, window, width, height)
            found_b.append(b[inner])
            found_s.append(s[keep][inner])
            found_l.append(lab[keep][inner])
    boxes, scores, labels = select_detections(
        np.concatenate(found_b).reshape(-1, 4),
        np.concatenate(found_s),
        np.concatenate(found_l),
        score_threshold,
        iou_threshold,
        len(found_b) * max_detections,
    )
    keep = _contained_merged(boxes, labels)[:max_detections]
    return boxes[keep], scores[keep], labels[keep]


def _contained_merged(boxes: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Indices (best first, as given) of boxes not lying mostly inside a better box of their class."""
    if len(boxes) < 2:
        return np.arange(len(boxes))
    lt = np.maximum(boxes[:, None, :2], boxes[None, :, :2])
    rb = np.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 0, None), axis=1)
    ios = inter / np.maximum(np.minimum(area[:, None], area[None, :]), 1e-9)
    same = (ios >= SAME_DEFECT_IOS) & (labels[:, None] == labels[None, :])
    keep: list[int] = []
    for i in range(len(boxes)):  # boxes come best first from select_detections
        if not any(same[i, j] for j in keep):
            keep.append(i)
    return np.asarray(keep, dtype=np.int64)


def detect_images(
    images: list[Image.Image],
    forward: Forward,
    size: int,
    channels: int,
    tiling: Tiling | None,
    score_threshold: float,
    iou_threshold: float = 0.5,
    max_detections: int = 100,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Detections of each image in its own pixels: small images in one batch, large ones tiled."""
    results: list = [None] * len(images)
    whole = [i for i, im in enumerate(images) if tiling is None or not tiling.applies(*im.size)]
    if whole:
        pixels = np.stack([to_model_input(images[i], size, channels) for i in whole]).astype(np.float32)
        boxes, scores, labels = forward(pixels)
        for i, b, s, lab in zip(whole, boxes, scores, labels):
            b, s, lab = select_detections(b, s, lab, score_threshold, iou_threshold, max_detections)
            results[i] = (scale_boxes_back(b, size, images[i].width, images[i].height), s, lab)
    for i, im in enumerate(images):
        if results[i] is None:
            results[i] = detect_tiled(
                im, forward, size, channels, tiling, score_threshold, iou_threshold, max_detections
            )
    return results
