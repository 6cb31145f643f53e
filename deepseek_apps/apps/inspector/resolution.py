"""The working resolution of a detector, chosen from its training boxes.

Every image is resized to one square ``S x S`` model input, so a defect that covers a small
part of its image shrinks with it. ``choose_input_size`` picks the smallest multiple of 32
at which the smaller defects (the 10th percentile of the boxes' short sides, relative to
their image) keep ``MIN_DEFECT_PX`` pixels, i.e. two cells of the finest (stride-8) level,
between a floor (never below today's 192 unless the images are smaller) and a cap (640,
and at most twice the images' own size).

Example:
    >>> from deepseek_apps.datasets.synthetic import generate_samples
    >>> from deepseek_apps.datasets import DetectionDataset
    >>> ds = DetectionDataset(generate_samples(20, seed=0), ("a",) * 6)
    >>> choose_input_size(ds).size
    192
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from ...datasets.types import DetectionDataset
from ...errors import ErrorCode, InvalidInputError

MIN_DEFECT_PX = 16  # short side the smaller defects should keep at the model input
SMALL_QUANTILE = 10  # "the smaller defects": this percentile of the boxes' relative short sides
SIZE_FLOOR, SIZE_CAP, STEP = 192, 640, 32


@dataclass
class ResolutionChoice:
    """What ``choose_input_size`` picked and why (stored in the model's config and card)."""

    size: int
    reason: str
    chosen: str = "auto"  # "auto" (from the boxes) or "given" (--input-size)
    small_box_relative: float | None = None  # 10th percentile of box short side / image side
    small_box_px: float | None = None  # the same box at the chosen size, in pixels
    image_side: int | None = None  # median longer side of the training images

    def to_dict(self) -> dict:
        return asdict(self)


def check_input_size(size: int) -> int:
    """Refuse a model input side that is not a positive multiple of 32 (the coarsest stride)."""
    if not isinstance(size, int) or size < STEP or size % STEP:
        raise InvalidInputError(
            ErrorCode.DETECTOR_INPUT_SIZE,
            "input size must be a positive multiple of 32",
            value=size,
            hint="try 192, 320 or 640, or leave it out to choose it from the training boxes",
        )
    return size


def _round_up(value: float) -> int:
    return int(math.ceil(value / STEP) * STEP)


def relative_short_sides(dataset: DetectionDataset, indices: Sequence[int] | None = None) -> tuple[np.ndarray, list]:
    """Each box's short side relative to its image (width / W or height / H), and the images' sizes."""
    from ...datasets.io import image_size

    rel, sizes = [], []
    for i in range(len(dataset)) if indices is None else indices:
        sample = dataset.samples[i]
        width, height = sample.image.size if sample.image is not None else image_size(sample.path)
        sizes.append((width, height))
        if len(sample.boxes):
            b = sample.boxes
            rel.append(np.minimum((b[:, 2] - b[:, 0]) / width, (b[:, 3] - b[:, 1]) / height))
    return (np.concatenate(rel) if rel else np.zeros(0)), sizes


def choose_input_size(dataset: DetectionDataset, indices: Sequence[int] | None = None) -> ResolutionChoice:
    """The model input side for the training images ``indices`` of ``dataset`` (all when ``None``)."""
    rel, sizes = relative_short_sides(dataset, indices)
    side = int(np.median([max(w, h) for w, h in sizes])) if sizes else SIZE_FLOOR
    floor, cap = min(SIZE_FLOOR, _round_up(side)), max(min(SIZE_CAP, _round_up(2 * side)), STEP)
    if not len(rel):
        return ResolutionChoice(floor, "no training boxes: kept the default size", image_side=side)
    small = float(np.percentile(rel, SMALL_QUANTILE))
    wanted = _round_up(MIN_DEFECT_PX / max(small, 1e-6))
    size = int(min(max(wanted, floor), cap))
    why = (
        f"the smaller defects (10th percentile of box short sides) span {small:.1%} of their image; "
        f"{MIN_DEFECT_PX} px at the model input needs {wanted}"
    )
    if size < wanted:
        why += f", capped at {size} (images of ~{side} px; at most {SIZE_CAP} and twice the image side)"
        why += ": consider tiled inference for large images"
    elif size > wanted:
        why += f", raised to the floor {size}"
    return ResolutionChoice(size, why, "auto", round(small, 5), round(small * size, 1), side)
