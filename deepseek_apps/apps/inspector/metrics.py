"""The inspector's evaluation result: VOC mAP@0.5 from ``core.metrics``, as a typed object."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...core.metrics import detection_map


@dataclass(frozen=True)
class DetectionMetrics:
    """mAP@0.5 (Pascal VOC all-point AP) of a detector on a set of images.

    Attributes:
        map50: mean AP at IoU 0.5 over the classes that have ground truth.
        per_class: AP per class name; ``None`` for a class without ground truth (left out of the mean).
        num_images: images evaluated.
        split: ``all``, or the model's recorded ``val`` / ``test`` split.
    """

    map50: float
    per_class: dict[str, float | None] = field(default_factory=dict)
    num_images: int = 0
    split: str = "all"

    def to_dict(self) -> dict[str, Any]:
        return {
            "map50": self.map50,
            "per_class": dict(self.per_class),
            "num_images": self.num_images,
            "split": self.split,
        }


def detection_metrics(
    predictions: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    ground_truth: Sequence[tuple[np.ndarray, np.ndarray]],
    class_names: Sequence[str],
    split: str = "all",
) -> DetectionMetrics:
    """``core.metrics.detection_map`` at IoU 0.5 as a ``DetectionMetrics``."""
    raw = detection_map(predictions, ground_truth, class_names, iou_threshold=0.5)
    return DetectionMetrics(float(raw["map50"]), raw["per_class"], int(raw["num_images"]), split)
