"""The metrics every application reports, written once and checked against reference libraries.

- ``roc_auc``: Mann-Whitney AUC, ties counted one half (scikit-learn's ``roc_auc_score``).
- ``average_precision``: AUPRC, step-wise as scikit-learn's ``average_precision_score``.
- ``gauc``: AUC per user, weighted by the user's impressions (the DIN paper's GAUC).
- ``log_loss``: binary cross-entropy of probabilities.
- ``voc_ap`` / ``detection_map``: Pascal VOC all-point AP and mAP at an IoU threshold.

Scores with only one class present give ``nan`` for the ranking metrics: callers that need
both classes check first and raise their own coded error.

Example:
    >>> import numpy as np
    >>> y, p = np.array([1, 0, 1, 0]), np.array([0.9, 0.1, 0.4, 0.6])
    >>> roc_auc(y, p), gauc(y, p, np.array([1, 1, 2, 2])), round(average_precision(y, p), 4)
    (0.75, 0.5, 0.8333)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .runtime.postprocess import box_iou


def _binary(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(labels, np.float64).ravel(), np.asarray(scores, np.float64).ravel()


def roc_auc(labels, scores) -> float:
    """Area under the ROC curve with average ranks for ties; ``nan`` when one class is missing."""
    y, p = _binary(labels, scores)
    n_pos = float(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(p, kind="mergesort")
    _, first, counts = np.unique(p[order], return_index=True, return_counts=True)
    ranks = np.empty(len(p), np.float64)
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(labels, scores) -> float:
    """Area under the precision-recall curve (step-wise); ``nan`` without a positive."""
    y, s = _binary(labels, scores)
    if y.sum() == 0:
        return float("nan")
    order = np.argsort(-s, kind="mergesort")
    y_sorted, s_sorted = y[order], s[order]
    distinct = np.r_[np.flatnonzero(np.diff(s_sorted)), len(s) - 1]
    tp = np.cumsum(y_sorted)[distinct]
    precision = tp / (distinct + 1)
    recall = tp / y.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def gauc(labels, scores, users) -> float:
    """AUC per user weighted by the user's number of impressions (users with one class skipped)."""
    y, p = _binary(labels, scores)
    u = np.asarray(users).ravel()
    order = np.argsort(u, kind="mergesort")
    y, p, u = y[order], p[order], u[order]
    bounds = np.flatnonzero(np.r_[True, u[1:] != u[:-1], True])
    total, weight = 0.0, 0
    for a, b in zip(bounds[:-1], bounds[1:]):
        value = roc_auc(y[a:b], p[a:b])
        if not np.isnan(value):
            total += value * (b - a)
            weight += b - a
    return float(total / weight) if weight else float("nan")


def log_loss(labels, scores, eps: float = 1e-7) -> float:
    """Mean binary cross-entropy of probabilities ``scores`` (clipped to ``[eps, 1 - eps]``)."""
    y, p = _binary(labels, scores)
    p = np.clip(p, eps, 1 - eps)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def voc_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """Pascal VOC all-point interpolated AP of one class's precision-recall points."""
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    idx = np.where(r[1:] != r[:-1])[0]
    return float(np.sum((r[idx + 1] - r[idx]) * p[idx + 1]))


def _class_records(predictions, ground_truth, c: int, iou_threshold: float) -> tuple[list, int]:
    """(score, is_true_positive) of every class-``c`` prediction, greedy by score per image, and the GT count."""
    records: list[tuple[float, int]] = []
    n_gt = 0
    for (pb, ps, pl), (gb, gl) in zip(predictions, ground_truth):
        gtc = gb[gl == c]
        n_gt += len(gtc)
        sel = pl == c
        boxes, scores = pb[sel], ps[sel]
        used = np.zeros(len(gtc), dtype=bool)
        for i in np.argsort(-scores, kind="stable"):
            hit = 0
            if len(gtc):
                ious = box_iou(boxes[i], gtc)
                j = int(np.argmax(ious))
                if ious[j] >= iou_threshold and not used[j]:
                    used[j] = True
                    hit = 1
            records.append((float(scores[i]), hit))
    return records, n_gt


def detection_map(
    predictions: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    ground_truth: Sequence[tuple[np.ndarray, np.ndarray]],
    class_names: Sequence[str],
    iou_threshold: float = 0.5,
) -> dict:
    """VOC mAP over images.

    Args:
        predictions: per image ``(boxes (N, 4), scores (N,), labels (N,))``.
        ground_truth: per image ``(boxes (M, 4), labels (M,))``.
        class_names: names indexed by label.

    Returns:
        ``{"map50": float, "per_class": {name: ap}, "num_images": int}`` (the key follows the
        IoU threshold, ``map75`` at 0.75); a class with no ground truth is reported as ``None``
        and left out of the mean.
    """
    per_class: dict[str, float | None] = {}
    for c, name in enumerate(class_names):
        records, n_gt = _class_records(predictions, ground_truth, c, iou_threshold)
        if n_gt == 0:
            per_class[name] = None
            continue
        if not records:
            per_class[name] = 0.0
            continue
        records.sort(key=lambda r: -r[0])
        tp = np.cumsum([r[1] for r in records])
        fp = np.cumsum([1 - r[1] for r in records])
        per_class[name] = voc_ap(tp / n_gt, tp / np.maximum(tp + fp, 1e-9))
    valid = [v for v in per_class.values() if v is not None]
    key = "map50" if abs(iou_threshold - 0.5) < 1e-9 else f"map{int(round(iou_threshold * 100))}"
    return {key: float(np.mean(valid)) if valid else 0.0, "per_class": per_class, "num_images": len(predictions)}
