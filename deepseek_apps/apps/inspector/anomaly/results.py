"""Typed results of the anomaly task: one ``AnomalyInspection`` per image, ``AnomalyMetrics`` per evaluation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class AnomalyRegion:
    """A connected area of the heat map at or above the threshold; ``box`` is ``(x0, y0, x1, y1)`` in image pixels."""

    box: tuple[float, float, float, float]
    score: float  # the heat map's maximum inside the box

    label: str = "anomaly"

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "score": round(self.score, 5), "box": [round(v, 2) for v in self.box]}


@dataclass
class AnomalyInspection:
    """The verdict for one image: NG when ``score`` reaches ``threshold``.

    ``heat_map`` is the ``(height, width)`` anomaly map at the image's own size (same units
    as ``score``); ``to_dict`` leaves it out unless asked, as it is as large as the image.
    """

    score: float = 0.0
    threshold: float = 0.0
    heat_map: np.ndarray | None = field(default=None, repr=False)
    regions: list[AnomalyRegion] = field(default_factory=list)
    latency_ms: float = 0.0
    source: str = ""
    width: int = 0
    height: int = 0
    error: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.score < self.threshold

    @property
    def verdict(self) -> str:
        return "ERROR" if self.error else ("OK" if self.ok else "NG")

    @property
    def defects(self) -> list[AnomalyRegion]:
        """The regions, under the name the detection results use."""
        return self.regions

    def to_dict(self, heat_map: bool = False) -> dict[str, Any]:
        out = {
            "source": self.source,
            "task": "anomaly",
            "verdict": self.verdict,
            "ok": self.ok,
            "score": round(float(self.score), 6),
            "threshold": round(float(self.threshold), 6),
            "width": self.width,
            "height": self.height,
            "defects": [r.to_dict() for r in self.regions],  # the regions, in the detection results' schema
            "latency_ms": round(self.latency_ms, 3),
            "error": self.error,
        }
        if heat_map and self.heat_map is not None:
            out["heat_map"] = np.round(self.heat_map, 5).tolist()
        return out


@dataclass
class AnomalyMetrics:
    """Image- and pixel-level quality of an anomaly model on labelled images."""

    image_auroc: float
    pixel_auroc: float | None  # None when no image has a mask
    region_overlap: float | None  # mean share of each true defect region flagged at the threshold (PRO at one point)
    mask_iou: float | None  # mean IoU of flagged pixels vs the mask, over defective images
    false_reject_rate: float  # good images called NG at the threshold
    miss_rate: float  # defective images called OK at the threshold
    threshold: float
    images: int
    defective: int
    latency_ms: float
    per_image: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        def r(v: float | None) -> float | None:
            return None if v is None else round(float(v), 5)

        return {
            "task": "anomaly",
            "image_auroc": r(self.image_auroc),
            "pixel_auroc": r(self.pixel_auroc),
            "region_overlap": r(self.region_overlap),
            "mask_iou": r(self.mask_iou),
            "false_reject_rate": r(self.false_reject_rate),
            "miss_rate": r(self.miss_rate),
            "threshold": r(self.threshold),
            "images": self.images,
            "defective": self.defective,
            "latency_ms": round(self.latency_ms, 3),
        }
