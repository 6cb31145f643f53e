"""Numpy post-processing shared by every backend (PyTorch, ONNX Runtime, edge runtime)."""

from __future__ import annotations

import numpy as np


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one box (4,) against many (M, 4)."""
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def pairwise_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix (N, M) of boxes a (N, 4) and b (M, 4).

    Column by column on (N, M) arrays: 4-5x faster than broadcasting (N, M, 2) corners and
    reducing them at the sizes NMS sees (50-100 boxes), where it was a tenth of the edge
    detector's time per image.
    """
    ax0, ay0, ax1, ay1 = a.T
    bx0, by0, bx1, by1 = b.T
    w = np.minimum(ax1[:, None], bx1[None, :]) - np.maximum(ax0[:, None], bx0[None, :])
    h = np.minimum(ay1[:, None], by1[None, :]) - np.maximum(ay0[:, None], by0[None, :])
    inter = np.clip(w, 0, None) * np.clip(h, 0, None)
    area_a = (ax1 - ax0) * (ay1 - ay0)
    area_b = (bx1 - bx0) * (by1 - by0)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression over one IoU matrix; returns kept indices, best first."""
    order = np.argsort(-scores, kind="stable")
    overlaps = pairwise_iou(boxes[order], boxes[order]) > iou_threshold
    suppressed = np.zeros(len(order), dtype=bool)
    keep = []
    for i in range(len(order)):
        if not suppressed[i]:
            keep.append(i)
            suppressed |= overlaps[i]
    return order[np.asarray(keep, dtype=np.int64)]


def batched_nms(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Class-wise NMS by offsetting each class's boxes apart (one NMS call)."""
    if boxes.size == 0:
        return np.zeros(0, dtype=np.int64)
    offset = labels.astype(boxes.dtype)[:, None] * (boxes.max() + 1.0)
    return nms(boxes + offset, scores, iou_threshold)


def select_detections(
    boxes: np.ndarray,
    scores: np.ndarray,
    labels: np.ndarray,
    score_threshold: float,
    iou_threshold: float = 0.5,
    max_detections: int = 100,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Threshold, class-wise NMS and cap the top-k candidates of one image."""
    mask = scores >= score_threshold
    boxes, scores, labels = boxes[mask], scores[mask], labels[mask]
    keep = batched_nms(boxes, scores, labels, iou_threshold)[:max_detections]
    return boxes[keep], scores[keep], labels[keep]
