"""Detection metrics: Pascal VOC style AP (all-point interpolation) at an IoU threshold."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...core.runtime.postprocess import box_iou


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    idx = np.where(r[1:] != r[:-1])[0]
    return float(np.sum((r[idx + 1] - r[idx]) * p[idx + 1]))


def mean_average_precision(
    predictions: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    ground_truth: Sequence[tuple[np.ndarray, np.ndarray]],
    class_names: Sequence[str],
    iou_threshold: float = 0.5,
) -> dict:
    """mAP over images.

    Args:
        predictions: per image ``(boxes (N, 4), scores (N,), labels (N,))``.
        ground_truth: per image ``(boxes (M, 4), labels (M,))``.
        class_names: names indexed by label.

    Returns:
        ``{"map50": float, "per_class": {name: ap}, "num_images": int}``; a class with no
        ground truth is left out of the mean (and reported as ``None``).
    """
    per_class = {}
    for c, name in enumerate(class_names):
        records = []  # (score, is_true_positive)
        n_gt = 0
        for (pb, ps, pl), (gb, gl) in zip(predictions, ground_truth):
            gtc = gb[gl == c]
            n_gt += len(gtc)
            sel = pl == c
            boxes, scores = pb[sel], ps[sel]
            used = np.zeros(len(gtc), dtype=bool)
            for i in np.argsort(-scores, kind="stable"):
                if len(gtc) == 0:
                    records.append((scores[i], 0))
                    continue
                ious = box_iou(boxes[i], gtc)
                j = int(np.argmax(ious))
                if ious[j] >= iou_threshold and not used[j]:
                    used[j] = True
                    records.append((scores[i], 1))
                else:
                    records.append((scores[i], 0))
        if n_gt == 0:
            per_class[name] = None
            continue
        if not records:
            per_class[name] = 0.0
            continue
        records.sort(key=lambda r: -r[0])
        tp = np.cumsum([r[1] for r in records])
        fp = np.cumsum([1 - r[1] for r in records])
        per_class[name] = average_precision(tp / n_gt, tp / np.maximum(tp + fp, 1e-9))
    valid = [v for v in per_class.values() if v is not None]
    return {
        "map50" if abs(iou_threshold - 0.5) < 1e-9 else f"map{int(iou_threshold * 100)}": float(np.mean(valid))
        if valid
        else 0.0,
        "per_class": per_class,
        "num_images": len(predictions),
    }
