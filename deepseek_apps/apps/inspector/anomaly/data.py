"""Images for the anomaly task: the good ones to fit on, and labelled ones (with masks) to evaluate on.

Layouts read by folder (``split`` picks ``train`` / ``val`` / ``test`` where the data has them):

- YOLO: ``images/<split>/`` + ``labels/<split>/<stem>.txt``; an absent or empty label file
  is a good part; polygon lines are rasterised into the defect mask, box lines as rectangles.
- masks: ``images/`` + ``masks/<stem>.png`` (or ``<stem>_mask.png``, or ``masks/<class>/``); an
  image without a mask is good.
- MVTec AD: ``train/good/``; ``test/<kind>/`` with ``test/good/`` good and
  ``ground_truth/<kind>/<stem>_mask.png``.
- any other folder: its images (and those of a ``good/`` sub-folder) are good; for evaluation,
  sub-folders name the kind (``good`` or a defect), without masks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from ....datasets.io import IMAGE_SUFFIXES, image_size
from ....errors import ErrorCode, InvalidInputError, MissingResourceError


@dataclass(eq=False)
class LabelledImage:
    """An evaluation image: ``defective`` per image, ``mask`` (bool, image size) when known."""

    path: Path
    defective: bool
    mask_source: Path | None = None
    kind: str = "yolo"  # how mask_source is read: yolo polygons or a mask image

    def mask(self) -> np.ndarray | None:
        """The defect mask ``(height, width)`` as bool; all False for a good image; None when unknown."""
        width, height = image_size(self.path)
        if not self.defective:
            return np.zeros((height, width), dtype=bool)
        if self.mask_source is None:
            return None
        if self.kind == "yolo":
            return polygon_mask(self.mask_source, width, height)
        with Image.open(self.mask_source) as image:
            pixels = np.asarray(image.convert("L")) > 0
        if pixels.shape != (height, width):
            raise InvalidInputError(
                ErrorCode.ANOMALY_MASK_INVALID,
                f"mask is {pixels.shape[1]}x{pixels.shape[0]} but its image is {width}x{height}",
                value=str(self.mask_source),
                hint="masks must have the same width and height as their images",
            )
        return pixels


def polygon_mask(label_path: Path, width: int, height: int) -> np.ndarray:
    """Rasterise the polygons (and boxes) of a YOLO label file into a ``(height, width)`` bool mask."""
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    for number, line in enumerate(label_path.read_text(encoding="utf-8").splitlines(), start=1):
        values = line.split()
        if not values:
            continue
        try:
            numbers = [float(v) for v in values[1:]]
        except ValueError:
            numbers = []
        if len(numbers) == 4:
            cx, cy, w, h = numbers
            draw.rectangle(
                [(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height], 1
            )
        elif len(numbers) >= 6 and len(numbers) % 2 == 0:
            draw.polygon([(x * width, y * height) for x, y in zip(numbers[0::2], numbers[1::2])], fill=1, outline=1)
        else:
            raise InvalidInputError(
                ErrorCode.ANNOTATION_INVALID,
                f"malformed label line '{line.strip()[:80]}'",
                value=f"{label_path}:{number}",
                hint="each line is 'class cx cy w h' or 'class x1 y1 x2 y2 ...' (normalised)",
            )
    return np.asarray(canvas, dtype=bool)


def _images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _split_folder(root: Path, split: str) -> tuple[Path, str | None]:
    """``images/<split>`` when the data set has its own split, else ``images``."""
    split_dir = root / "images" / split
    return (split_dir, split) if split_dir.is_dir() else (root / "images", None)


def _yolo_label(root: Path, split: str | None, image: Path) -> Path:
    folder = root / "labels" / split if split else root / "labels"
    return folder / f"{image.stem}.txt"


def _mask_files(root: Path) -> dict[str, Path]:
    masks: dict[str, Path] = {}
    for folder in [root / "masks", *sorted(p for p in (root / "masks").glob("*") if p.is_dir())]:
        for path in _images(folder):
            masks.setdefault(path.stem.removesuffix("_mask"), path)
    return masks


def labelled_images(data: str | Path, split: str = "val") -> list[LabelledImage]:
    """Every image of ``data`` (its ``split`` where it has one) with its good / defective label and mask."""
    root = _existing(data)
    if (root / "test").is_dir() and (root / "train").is_dir() and not (root / "images").is_dir():
        return _mvtec(root)
    if (root / "images").is_dir():
        splits = sorted(p.name for p in (root / "images").iterdir() if p.is_dir())
        if split == "all" and splits:
            return [item for name in splits for item in labelled_images(root, name)]
        folder, own_split = _split_folder(root, split)
        images = _images(folder)
        if (root / "labels").is_dir():
            out = []
            for path in images:
                label = _yolo_label(root, own_split, path)
                defective = label.is_file() and bool(label.read_text(encoding="utf-8").strip())
                out.append(LabelledImage(path, defective, label if defective else None))
            return _non_empty(out, folder)
        masks = _mask_files(root)
        out = [LabelledImage(p, p.stem in masks, masks.get(p.stem), "image") for p in images]
        return _non_empty(out, folder)
    out = [LabelledImage(p, False) for p in _images(root)]
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        out += [LabelledImage(p, sub.name.lower() not in ("good", "ok"), None) for p in _images(sub)]
    return _non_empty(out, root)


def _mvtec(root: Path) -> list[LabelledImage]:
    out = []
    for kind in sorted(p for p in (root / "test").iterdir() if p.is_dir()):
        for path in _images(kind):
            good = kind.name == "good"
            mask = root / "ground_truth" / kind.name / f"{path.stem}_mask.png"
            out.append(LabelledImage(path, not good, None if good or not mask.is_file() else mask, "image"))
    return _non_empty(out, root / "test")


def good_images(data: Any, split: str = "train") -> tuple[list[Any], int]:
    """The good images to fit on, and how many defective ones were left out.

    ``data``: a list of images (all taken as good) or a folder in one of the module's layouts.
    """
    if isinstance(data, list | tuple):
        return list(data), 0
    root = _existing(data)
    if (root / "train" / "good").is_dir():
        return _non_empty(_images(root / "train" / "good"), root / "train" / "good"), 0
    if (root / "images").is_dir():
        labelled = labelled_images(root, split)
        good = [item.path for item in labelled if not item.defective]
        return _non_empty(good, root / "images"), len(labelled) - len(good)
    images = _images(root) + _images(root / "good")
    return _non_empty(images, root), 0


def _existing(data: Any) -> Path:
    root = Path(data)
    if not root.is_dir():
        raise MissingResourceError(
            ErrorCode.DIRECTORY_NOT_FOUND,
            "image folder not found",
            value=str(root),
            hint="pass a folder of good images, or a YOLO / masks / MVTec-style data set",
        )
    return root


def _non_empty(items: list, where: Path) -> list:
    if not items:
        raise InvalidInputError(
            ErrorCode.DATASET_EMPTY,
            "no images found",
            value=str(where),
            hint=f"put images ({', '.join(IMAGE_SUFFIXES)}) there, or check the folder layout",
        )
    return items
