"""Image AUROC, pixel AUROC and region overlap of an anomaly model on labelled images.

Pixel metrics are computed at the model's working size: each mask is reduced with a box
filter and a pixel counts as defective when at least half of it was (so thin cracks
survive the downscale). ``region_overlap`` is the share of each true defect region (an
8-connected blob) that the map flags at the threshold, averaged over regions: the
per-region overlap (PRO) at the operating point.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from PIL import Image

from ....core.metrics import roc_auc
from ..images import to_pil
from .data import LabelledImage, labelled_images
from .maps import to_pixels
from .model import AnomalyModel
from .results import AnomalyMetrics

PIXEL_SAMPLE = 2_000_000  # pixels kept (stratified: every defective one, good ones at random) for pixel AUROC


def _small_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    image = Image.fromarray(mask.astype(np.float32), mode="F").resize((size[1], size[0]), Image.BOX)
    return np.asarray(image) >= 0.5


def _regions(mask: np.ndarray) -> list[np.ndarray]:
    from scipy import ndimage

    components, count = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    return [components == i for i in range(1, count + 1)]


def evaluate_anomaly(model: AnomalyModel, data: Any, split: str = "val", batch_size: int = 8) -> AnomalyMetrics:
    """Score every labelled image of ``data`` (``split`` where it has its own) and compare with labels and masks."""
    items = labelled_images(data, split)
    scores, labels, per_image = [], [], []
    pixel_scores, pixel_labels, overlaps, ious = [], [], [], []
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for start in range(0, len(items), batch_size):
        chunk: list[LabelledImage] = items[start : start + batch_size]
        pixels = np.stack([to_pixels(to_pil(item.path), model.size) for item in chunk])
        maps, chunk_scores = model.score_maps(pixels)
        for item, heat, score in zip(chunk, maps, chunk_scores):
            scores.append(float(score))
            labels.append(item.defective)
            per_image.append({"source": str(item.path), "defective": item.defective, "score": round(float(score), 6)})
            mask = item.mask()
            if mask is None:
                continue
            small = _small_mask(mask, model.size)
            pixel_scores.append(heat.ravel())
            pixel_labels.append(small.ravel())
            if small.any():
                flagged = heat >= model.threshold
                overlaps += [float(flagged[region].mean()) for region in _regions(small)]
                ious.append(float((flagged & small).sum() / max(1, (flagged | small).sum())))
    latency = (time.perf_counter() - t0) * 1000 / max(1, len(items))
    scores_a, labels_a = np.asarray(scores), np.asarray(labels, dtype=bool)
    return AnomalyMetrics(
        image_auroc=roc_auc(labels_a, scores_a),
        pixel_auroc=_pixel_auroc(pixel_scores, pixel_labels, rng),
        region_overlap=float(np.mean(overlaps)) if overlaps else None,
        mask_iou=float(np.mean(ious)) if ious else None,
        false_reject_rate=float((scores_a[~labels_a] >= model.threshold).mean()) if (~labels_a).any() else 0.0,
        miss_rate=float((scores_a[labels_a] < model.threshold).mean()) if labels_a.any() else 0.0,
        threshold=model.threshold,
        images=len(items),
        defective=int(labels_a.sum()),
        latency_ms=latency,
        per_image=per_image,
    )


def _pixel_auroc(scores: list[np.ndarray], labels: list[np.ndarray], rng: np.random.Generator) -> float | None:
    if not scores:
        return None
    s, y = np.concatenate(scores), np.concatenate(labels)
    if not y.any():
        return None
    if (
        len(s) > PIXEL_SAMPLE and y.sum() < PIXEL_SAMPLE // 2
    ):  # all defective pixels, a uniform sample of good ones: AUROC is unbiased
        good = np.flatnonzero(~y)
        keep = np.concatenate([np.flatnonzero(y), rng.choice(good, PIXEL_SAMPLE - int(y.sum()), replace=False)])
        s, y = s[keep], y[keep]
    return roc_auc(y, s)
