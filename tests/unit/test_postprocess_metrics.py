import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torchvision.ops import batched_nms as tv_batched_nms
from torchvision.ops import box_iou

from deepseek_apps.apps.inspector.metrics import DetectionMetrics, detection_metrics
from deepseek_apps.core.metrics import detection_map
from deepseek_apps.core.runtime.postprocess import batched_nms, nms, pairwise_iou, select_detections


def _boxes(seed: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    corner = rng.uniform(0, 180, (n, 2))
    return np.hstack([corner, corner + rng.uniform(1, 60, (n, 2))]).astype(np.float32)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(1, 120), m=st.integers(1, 40))
def test_pairwise_iou_and_classwise_nms_match_torchvision(seed, n, m):
    a, b = _boxes(seed, n), _boxes(seed + 1, m)
    np.testing.assert_allclose(pairwise_iou(a, b), box_iou(torch.from_numpy(a), torch.from_numpy(b)).numpy(), atol=1e-5)
    rng = np.random.default_rng(seed)
    scores = rng.permutation(n).astype(np.float32) / n  # distinct: one right order
    labels = rng.integers(0, 3, n)
    expected = tv_batched_nms(torch.from_numpy(a), torch.from_numpy(scores), torch.from_numpy(labels), 0.5)
    assert batched_nms(a, scores, labels, 0.5).tolist() == expected.tolist()


def test_nms_keeps_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], dtype=np.float32)
    scores = np.array([0.9, 0.8, 0.7], dtype=np.float32)
    assert nms(boxes, scores, 0.5).tolist() == [0, 2]


def test_batched_nms_is_classwise():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], dtype=np.float32)
    scores = np.array([0.9, 0.8], dtype=np.float32)
    assert sorted(batched_nms(boxes, scores, np.array([0, 1]), 0.5).tolist()) == [0, 1]
    assert batched_nms(boxes, scores, np.array([1, 1]), 0.5).tolist() == [0]


def test_select_detections_thresholds_and_caps():
    boxes = np.array([[i * 20, 0, i * 20 + 10, 10] for i in range(5)], dtype=np.float32)
    scores = np.array([0.9, 0.1, 0.8, 0.7, 0.6], dtype=np.float32)
    b, s, lab = select_detections(boxes, scores, np.zeros(5, dtype=np.int64), 0.5, max_detections=2)
    assert s.tolist() == [np.float32(0.9), np.float32(0.8)] and len(b) == 2 and len(lab) == 2


def test_map_perfect_and_empty():
    gt = [(np.array([[0, 0, 10, 10]], dtype=np.float32), np.array([0]))]
    perfect = [(gt[0][0], np.array([0.9]), np.array([0]))]
    assert detection_map(perfect, gt, ["a"])["map50"] == 1.0
    empty = [(np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=int))]
    assert detection_map(empty, gt, ["a"])["map50"] == 0.0


def test_map_false_positive_ranked_first_halves_precision():
    gt = [(np.array([[0, 0, 10, 10]], dtype=np.float32), np.array([0]))]
    preds = [(np.array([[50, 50, 60, 60], [0, 0, 10, 10]], dtype=np.float32), np.array([0.9, 0.8]), np.array([0, 0]))]
    result = detection_map(preds, gt, ["a", "b"])
    assert abs(result["per_class"]["a"] - 0.5) < 1e-9
    assert result["per_class"]["b"] is None  # no ground truth: left out of the mean
    assert abs(result["map50"] - 0.5) < 1e-9


def test_inspector_metrics_are_typed_and_match_core():
    gt = [(np.array([[0, 0, 10, 10]], dtype=np.float32), np.array([0]))]
    preds = [(np.array([[50, 50, 60, 60], [0, 0, 10, 10]], dtype=np.float32), np.array([0.9, 0.8]), np.array([0, 0]))]
    metrics = detection_metrics(preds, gt, ["a", "b"], split="test")
    assert isinstance(metrics, DetectionMetrics)
    core = detection_map(preds, gt, ["a", "b"])
    verdict = {"image_auroc": None, "image_ap": None, "good_images": 0, "defect_images": 1}  # no good image to rank
    assert metrics.to_dict() == {**core, "split": "test", **verdict}
