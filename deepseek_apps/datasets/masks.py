"""Binary-mask loader: each 8-connected blob of non-zero mask pixels becomes one box.

Layouts under ``root``:

- ``images/`` + ``masks/<stem>.png`` (or ``<stem>_mask.png``): one class, named
  ``class_names[0]`` if given, else ``"defect"``;
- ``images/`` + ``masks/<class_name>/<stem>.png``: one mask per class and image.

An image without a mask has no defects. Blobs under ``min_area`` pixels are dropped as noise.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import ErrorCode, InvalidInputError, MissingResourceError
from .io import IMAGE_SUFFIXES, image_size, list_images
from .types import DetectionDataset, DetectionSample

MASK_SUFFIX = "_mask"


def load_masks(root: str | Path, class_names: Sequence[str] | None = None, min_area: int = 4) -> DetectionDataset:
    """Load images with binary defect masks as a detection dataset.

    Example:
        >>> ds = load_masks("data/kolektor", class_names=["crack"])  # doctest: +SKIP
    """
    root = Path(root)
    image_dir, mask_root = root / "images", root / "masks"
    for folder in (root, image_dir, mask_root):
        if not folder.is_dir():
            raise MissingResourceError(
                ErrorCode.DIRECTORY_NOT_FOUND,
                "mask dataset folder not found",
                value=str(folder),
                hint="expected root/images/ and root/masks/ (or masks/<class_name>/)",
            )
    names, mask_dirs = _class_folders(mask_root, class_names)
    images = list_images(image_dir)
    if not images:
        raise InvalidInputError(
            ErrorCode.DATASET_EMPTY, "no images found", value=str(image_dir), hint="check the folder layout"
        )
    stems = {p.stem for p in images}
    masks_by_class = [_masks_by_stem(folder, stems) for folder in mask_dirs]
    samples = []
    for image_path in images:
        boxes, labels = [], []
        for label, masks in enumerate(masks_by_class):
            if image_path.stem in masks:
                found = mask_boxes(_read_mask(masks[image_path.stem], image_path), min_area)
                boxes += found
                labels += [label] * len(found)
        samples.append(
            DetectionSample(
                image=None,
                boxes=np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
                labels=np.asarray(labels, dtype=np.int64),
                name=image_path.stem,
                path=image_path,
            )
        )
    return DetectionDataset(samples, names)


def mask_boxes(mask: np.ndarray, min_area: int = 4) -> list[list[float]]:
    """Boxes ``[x0, y0, x1, y1]`` (pixel edges) of the 8-connected blobs of a 2-D mask."""
    components, count = _label_components(mask > 0)
    ys, xs = np.nonzero(components)
    ids = components[ys, xs]
    areas = np.bincount(ids, minlength=count + 1)
    x0, y0 = np.full(count + 1, mask.shape[1]), np.full(count + 1, mask.shape[0])
    x1, y1 = np.zeros(count + 1, dtype=np.int64), np.zeros(count + 1, dtype=np.int64)
    np.minimum.at(x0, ids, xs)
    np.minimum.at(y0, ids, ys)
    np.maximum.at(x1, ids, xs + 1)
    np.maximum.at(y1, ids, ys + 1)
    keep = [i for i in range(1, count + 1) if areas[i] >= min_area]
    return [[float(x0[i]), float(y0[i]), float(x1[i]), float(y1[i])] for i in keep]


def _label_components(binary: np.ndarray) -> tuple[np.ndarray, int]:
    try:
        from scipy import ndimage
    except ImportError:
        return _label_bfs(binary)
    labels, count = ndimage.label(binary, structure=np.ones((3, 3), dtype=bool))
    return labels, int(count)


def _label_bfs(binary: np.ndarray) -> tuple[np.ndarray, int]:
    """8-connected component labelling without scipy (breadth-first flood fill)."""
    labels = np.zeros(binary.shape, dtype=np.int32)
    height, width = binary.shape
    count = 0
    for y, x in zip(*np.nonzero(binary), strict=True):
        if labels[y, x]:
            continue
        count += 1
        labels[y, x] = count
        queue = deque([(y, x)])
        while queue:
            cy, cx = queue.popleft()
            for ny in range(max(cy - 1, 0), min(cy + 2, height)):
                for nx in range(max(cx - 1, 0), min(cx + 2, width)):
                    if binary[ny, nx] and not labels[ny, nx]:
                        labels[ny, nx] = count
                        queue.append((ny, nx))
    return labels, count


def _class_folders(mask_root: Path, class_names: Sequence[str] | None) -> tuple[tuple[str, ...], list[Path]]:
    """Class names and, per class, the folder its masks are in."""
    subdirs = sorted(p for p in mask_root.iterdir() if p.is_dir())
    if not subdirs:
        return (class_names[0] if class_names else "defect",), [mask_root]
    if class_names is None:
        return tuple(p.name for p in subdirs), subdirs
    names = tuple(class_names)
    for folder in subdirs:
        if folder.name not in names:
            raise InvalidInputError(
                ErrorCode.UNKNOWN_CLASS,
                f"mask folder '{folder.name}' is not a known class",
                value=str(folder),
                hint=f"known classes: {', '.join(names)}; pass class_names to include it",
            )
    return names, [mask_root / name for name in names]


def _masks_by_stem(folder: Path, image_stems: set[str]) -> dict[str, Path]:
    """Map image stem to mask file; a mask whose image is missing is an error."""
    if not folder.is_dir():
        return {}
    masks = {}
    for mask in sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        stem = mask.stem
        if stem not in image_stems and stem.endswith(MASK_SUFFIX):
            stem = stem.removesuffix(MASK_SUFFIX)
        if stem not in image_stems:
            raise MissingResourceError(
                ErrorCode.FILE_NOT_FOUND,
                f"image for mask {mask.name} not found",
                value=str(mask),
                hint="name masks <image stem>.png or <image stem>_mask.png, or remove the stray mask",
            )
        masks[stem] = mask
    return masks


def _read_mask(mask_path: Path, image_path: Path) -> np.ndarray:
    image_wh = image_size(image_path)
    try:
        with Image.open(mask_path) as mask:
            pixels = np.asarray(mask.convert("L"))
    except OSError as exc:
        raise InvalidInputError(
            ErrorCode.IMAGE_UNREADABLE,
            f"cannot decode mask ({type(exc).__name__}: {exc})",
            value=str(mask_path),
            hint="re-export the mask as a single-channel PNG",
        ) from exc
    mask_wh = (pixels.shape[1], pixels.shape[0])
    if mask_wh != image_wh:
        raise InvalidInputError(
            ErrorCode.IMAGE_SHAPE,
            f"mask is {mask_wh[0]}x{mask_wh[1]} but its image {image_path.name} is {image_wh[0]}x{image_wh[1]}",
            value=str(mask_path),
            hint="masks must have the same width and height as their images",
        )
    return pixels
