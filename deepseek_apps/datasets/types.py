"""Plain data types shared by every detection loader."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

NEU_CLASSES: tuple[str, ...] = (
    "crazing",
    "inclusion",
    "patches",
    "pitted_surface",
    "rolled-in_scale",
    "scratches",
)


@dataclass(eq=False)
class DetectionSample:
    """One image with its boxes (x0, y0, x1, y1 in pixels) and integer labels.

    Either ``image`` is held in memory or ``path`` points at a file read on ``load()``,
    so a loader can describe a large folder without decoding every image up front.
    Samples compare by identity: field-wise ``==`` is ambiguous on numpy arrays.
    """

    image: Image.Image | None
    boxes: np.ndarray
    labels: np.ndarray
    name: str = ""
    path: Path | None = None
    meta: dict = field(default_factory=dict)

    def load(self) -> Image.Image:
        """Return the image as RGB, reading it from ``path`` when not in memory."""
        if self.image is not None:
            return self.image.convert("RGB")
        from .io import read_image

        return read_image(self.path)


@dataclass
class DetectionDataset:
    """An in-memory list of samples plus the class names the labels index into."""

    samples: list[DetectionSample]
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> DetectionSample:
        return self.samples[index]
