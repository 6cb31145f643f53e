"""Image classification datasets: a folder per class, or a detection set read as classes.

Example:
    >>> from deepseek_apps.datasets.classification import from_detection
    >>> from deepseek_apps.datasets import load_dataset
    >>> cls = from_detection(load_dataset("../shared/data/neu_det", "voc"))  # doctest: +SKIP
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import ErrorCode, InvalidInputError, MissingResourceError
from .io import list_images, read_image
from .types import DetectionDataset


@dataclass
class ClassificationDataset:
    """Images (paths or PIL) with one integer label each."""

    images: list[Path | Image.Image]
    labels: np.ndarray
    class_names: tuple[str, ...]
    names: list[str]

    def __len__(self) -> int:
        return len(self.images)

    def load(self, index: int) -> Image.Image:
        item = self.images[index]
        return item.convert("RGB") if isinstance(item, Image.Image) else read_image(item)

    def subset(self, indices) -> ClassificationDataset:
        idx = list(indices)
        return ClassificationDataset(
            [self.images[i] for i in idx], self.labels[idx], self.class_names, [self.names[i] for i in idx]
        )


def from_detection(dataset: DetectionDataset) -> ClassificationDataset:
    """NEU-CLS style: the class of an image is the most frequent class of its boxes."""
    images, labels, names = [], [], []
    for s in dataset.samples:
        if len(s.labels) == 0:
            continue
        labels.append(Counter(s.labels.tolist()).most_common(1)[0][0])
        images.append(s.path if s.path is not None else s.image)
        names.append(s.name)
    if not images:
        raise InvalidInputError(
            ErrorCode.DATASET_EMPTY,
            "no image has a box to take its class from",
            value=len(dataset),
            hint="check the annotations",
        )
    return ClassificationDataset(images, np.asarray(labels, dtype=np.int64), tuple(dataset.class_names), names)


def load_image_folder(root: str | Path) -> ClassificationDataset:
    """``root/<class>/<image>``: one sub-folder per class, sorted names = label order."""
    root = Path(root)
    if not root.is_dir():
        raise MissingResourceError(
            ErrorCode.DIRECTORY_NOT_FOUND,
            "dataset folder not found",
            value=str(root),
            hint="pass a folder with one sub-folder of images per class",
        )
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    images, labels, names = [], [], []
    for label, cls in enumerate(classes):
        for path in list_images(root / cls):
            images.append(path)
            labels.append(label)
            names.append(f"{cls}/{path.stem}")
    if not images:
        raise InvalidInputError(
            ErrorCode.DATASET_EMPTY,
            "no images found in class folders",
            value=str(root),
            hint="expected root/<class>/<image>.png",
        )
    return ClassificationDataset(images, np.asarray(labels, dtype=np.int64), tuple(classes), names)


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Seeded split keeping each class's share; returns ``(train, held_out)`` indices."""
    rng = np.random.default_rng(seed)
    train, held = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c)).tolist()
        k = int(round(len(idx) * fraction))
        held += idx[:k]
        train += idx[k:]
    return sorted(train), sorted(held)
