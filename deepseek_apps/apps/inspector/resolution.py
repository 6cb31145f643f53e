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
from dataclasses import asdict, dataclass, replace

import numpy as np

from ...core.runtime.tiling import MIN_TILE, Tiling
from ...datasets.types import DetectionDataset
from ...errors import ErrorCode, InvalidInputError

MIN_DEFECT_PX = 16  # short side the smaller defects should keep at the model input
SMALL_QUANTILE = 10  # "the smaller defects": this percentile of the boxes' relative short sides
SIZE_FLOOR, SIZE_CAP, STEP = 192, 640, 32
TILE_BELOW_PX = 12.0  # tiles cost (tiles + 1)x the compute: only when whole images leave the defects under this
MAX_ENLARGE = 2.0  # tiles are enlarged at most this much (thin scratches need length, not width)


@dataclass
class ResolutionChoice:
    """What ``choose_input_size`` picked and why (stored in the model's config and card)."""

    size: int
    reason: str
    chosen: str = "auto"  # "auto" (from the boxes) or "given" (--input-size)
    small_box_relative: float | None = None  # 10th percentile of box short side / image side
    small_box_px: float | None = None  # the same box at the chosen size, in pixels
    image_side: int | None = None  # median longer side of the training images
    small_box_native_px: float | None = None  # 10th percentile of the boxes' short sides in image pixels

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


def relative_short_sides(
    dataset: DetectionDataset, indices: Sequence[int] | None = None, native: list | None = None
) -> tuple[np.ndarray, list]:
    """Each box's short side relative to its image (width / W or height / H), and the images' sizes.

    ``native``: a list that receives each box's short side in image pixels.
    """
    from ...datasets.io import image_size

    rel, sizes = [], []
    for i in range(len(dataset)) if indices is None else indices:
        sample = dataset.samples[i]
        width, height = sample.image.size if sample.image is not None else image_size(sample.path)
        sizes.append((width, height))
        if len(sample.boxes):
            b = sample.boxes
            rel.append(np.minimum((b[:, 2] - b[:, 0]) / width, (b[:, 3] - b[:, 1]) / height))
            if native is not None:
                native.extend(np.minimum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]).tolist())
    return (np.concatenate(rel) if rel else np.zeros(0)), sizes


def choose_input_size(dataset: DetectionDataset, indices: Sequence[int] | None = None) -> ResolutionChoice:
    """The model input side for the training images ``indices`` of ``dataset`` (all when ``None``)."""
    native: list[float] = []
    rel, sizes = relative_short_sides(dataset, indices, native)
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
        why += ": large images are tiled where that keeps the defects larger (--tile 0: never)"
    elif size > wanted:
        why += f", raised to the floor {size}"
    native_px = round(float(np.percentile(native, SMALL_QUANTILE)), 1)
    return ResolutionChoice(size, why, "auto", round(small, 5), round(small * size, 1), side, native_px)


def plan_tiling(
    choice: ResolutionChoice, tile: int | None, overlap: float = 0.25
) -> tuple[ResolutionChoice, Tiling | None]:
    """Whether to train and predict on tiles, and the input size that goes with it.

    ``tile``: ``0`` never; ``N`` tiles of ``N`` image pixels (an automatic input size then
    becomes ``N``, within 192..640: tiles run at native resolution); ``None`` decides from the
    boxes: when whole images at the capped size leave the smaller defects under
    ``TILE_BELOW_PX`` and the images are larger than the cap, tiles are cut so that those defects keep
    ``MIN_DEFECT_PX`` at the capped size (native resolution, or enlarged when even that is
    too small, at most ``MAX_ENLARGE`` times).
    """
    if tile == 0:
        return choice, None
    if tile:
        tiling = Tiling(tile, overlap)
        if choice.chosen != "auto":
            return replace(choice, reason=f"{choice.reason}; tiles of {tile} px (given)"), tiling
        size = int(min(max(_round_up(tile), SIZE_FLOOR), SIZE_CAP))
        why = f"tiles of {tile} px (given), each run at {size}x{size}"
        return replace(choice, size=size, reason=why), tiling
    small, side = choice.small_box_relative, choice.image_side
    if choice.chosen != "auto" or not small or not side or side <= choice.size:
        return choice, None
    if small * choice.size >= TILE_BELOW_PX:
        return choice, None  # whole images keep the defects (nearly) large enough: not worth the tiles
    native = choice.small_box_native_px or small * side  # the smaller defects' short side in image pixels
    scale = min(MAX_ENLARGE, max(1.0, MIN_DEFECT_PX / max(native, 1e-6)))
    size_tile = max(MIN_TILE, int(choice.size / scale) // STEP * STEP)
    if size_tile >= side:
        return choice, None
    why = (
        f"the smaller defects are ~{native:.0f} px in images of ~{side} px: tiles of {size_tile} px "
        f"({overlap:.0%} overlap) run at {choice.size}x{choice.size} keep them at ~{native * choice.size / size_tile:.0f} px"
    )
    return replace(choice, reason=why, small_box_px=round(native * choice.size / size_tile, 1)), Tiling(
        size_tile, overlap
    )
