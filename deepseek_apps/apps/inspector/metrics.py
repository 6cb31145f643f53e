"""The inspector's evaluation result: VOC mAP@0.5 from ``core.metrics``, as a typed object.

Where the evaluated images include good ones (no annotated defect) and defective ones, the
result also judges the detector as an OK/NG classifier: each image's score is its most
confident detection (0 without one), ranked against "has a defect" (image AUROC and AP).
On good-heavy lines this is the number that says whether the model is useful as a verdict
even when its boxes do not match the annotations (``health.py`` reads it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...core.metrics import average_precision, detection_map, roc_auc


@dataclass(frozen=True)
class DetectionMetrics:
    """mAP@0.5 (Pascal VOC all-point AP) of a detector on a set of images.

    Attributes:
        map50: mean AP at IoU 0.5 over the classes that have ground truth.
        per_class: AP per class name; ``None`` for a class without ground truth (left out of the mean).
        num_images: images evaluated.
        split: ``all``, or the model's recorded ``val`` / ``test`` split.
        image_auroc: OK/NG ranking quality: each image scored by its most confident
            detection against whether it has an annotated defect; ``None`` unless the set
            holds both good and defective images.
        image_ap: average precision of the same ranking (defective images are the positives).
        good_images / defect_images: images without / with an annotated defect.
    """

    map50: float
    per_class: dict[str, float | None] = field(default_factory=dict)
    num_images: int = 0
    split: str = "all"
    image_auroc: float | None = None
    image_ap: float | None = None
    good_images: int = 0
    defect_images: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "map50": self.map50,
            "per_class": dict(self.per_class),
            "num_images": self.num_images,
            "split": self.split,
            "image_auroc": self.image_auroc,
            "image_ap": self.image_ap,
            "good_images": self.good_images,
            "defect_images": self.defect_images,
        }


def image_verdict_metrics(
    predictions: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], ground_truth: Sequence[tuple[np.ndarray, Any]]
) -> dict[str, Any]:
    """Image AUROC / AP of "most confident detection" against "has a defect", with the counts."""
    defective = np.array([len(boxes) > 0 for boxes, _ in ground_truth], dtype=bool)
    scores = np.array([float(np.max(s)) if len(s) else 0.0 for _, s, _ in predictions], dtype=np.float64)
    good, bad = int((~defective).sum()), int(defective.sum())
    auroc = roc_auc(defective, scores) if good and bad else math.nan
    ap = average_precision(defective, scores) if good and bad else math.nan
    return {
        "image_auroc": None if math.isnan(auroc) else auroc,
        "image_ap": None if math.isnan(ap) else ap,
        "good_images": good,
        "defect_images": bad,
    }


def detection_metrics(
    predictions: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    ground_truth: Sequence[tuple[np.ndarray, np.ndarray]],
    class_names: Sequence[str],
    split: str = "all",
) -> DetectionMetrics:
    """``core.metrics.detection_map`` at IoU 0.5, and the OK/NG ranking, as a ``DetectionMetrics``."""
    raw = detection_map(predictions, ground_truth, class_names, iou_threshold=0.5)
    verdict = image_verdict_metrics(predictions, ground_truth)
    return DetectionMetrics(float(raw["map50"]), raw["per_class"], int(raw["num_images"]), split, **verdict)
