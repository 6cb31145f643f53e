"""Loaders for the annotation formats users have, and a synthetic generator.

``load_dataset(path, format)`` is the one entry point the apps and the CLI use.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..errors import ErrorCode, InvalidInputError
from .types import NEU_CLASSES, DetectionDataset, DetectionSample

FORMATS = ("voc", "yolo", "coco", "masks")


def load_dataset(
    path: str | Path, format: str = "voc", class_names: Sequence[str] | None = None, exclude: Sequence[str] = ()
) -> DetectionDataset:
    """Load a detection dataset in one of ``FORMATS``.

    Example:
        >>> from deepseek_apps.datasets import load_dataset
        >>> ds = load_dataset("../shared/data/neu_det", "voc")  # doctest: +SKIP
    """
    if format == "voc":
        from .voc import load_voc

        return load_voc(path, class_names, exclude=exclude)
    if format == "yolo":
        from .yolo import load_yolo

        return load_yolo(path, class_names)
    if format == "coco":
        from .coco import load_coco

        return load_coco(path, class_names)
    if format == "masks":
        from .masks import load_masks

        return load_masks(path, class_names)
    raise InvalidInputError(
        ErrorCode.INVALID_ARGUMENT,
        f"unknown dataset format '{format}'",
        value=format,
        hint=f"use one of: {', '.join(FORMATS)}",
    )


__all__ = ["FORMATS", "NEU_CLASSES", "DetectionDataset", "DetectionSample", "load_dataset"]
