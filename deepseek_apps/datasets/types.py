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

SPLIT_ALIASES: dict[str, str] = {
    "train": "train",
    "training": "train",
    "trainval": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
    "testing": "test",
}  # folder / file / key names a data set uses for its own split -> our split name


def split_name(name: str) -> str | None:
    """Our split name (train / val / test) for a folder, file or key name, or ``None``."""
    return SPLIT_ALIASES.get(name.strip().lower())


@dataclass(eq=False)
class DetectionSample:
    """One image with its boxes (x0, y0, x1, y1 in pixels) and integer labels.

    Either ``image`` is held in memory or ``path`` points at a file read on ``load()``,
    so a loader can describe a large folder without decoding every image up front.
    Samples compare by identity: field-wise ``==`` is ambiguous on numpy arrays.
    ``meta["split"]`` (train / val / test) is set when the data set defines its own split.
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

    @property
    def own_splits(self) -> dict[str, int]:
        """Images per split the data set defines itself (empty when it defines none)."""
        counts: dict[str, int] = {}
        for sample in self.samples:
            split = sample.meta.get("split")
            if split:
                counts[split] = counts.get(split, 0) + 1
        return counts
