"""``core.metrics`` against the reference implementations (scikit-learn, pycocotools)."""

from __future__ import annotations

import numpy as np
import pytest

from deepseek_apps.core import metrics

sk = pytest.importorskip("sklearn.metrics")


def _scores(seed: int, n: int = 300, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    s = rng.random(n) + 0.4 * y
    if ties:
        s = np.round(s, 1)  # many tied scores
    return y, s


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("ties", [False, True])
def test_rank_metrics_match_scikit_learn(seed, ties):
    y, s = _scores(seed, ties=ties)
    assert metrics.roc_auc(y, s) == pytest.approx(sk.roc_auc_score(y, s), abs=1e-12)
    assert metrics.average_precision(y, s) == pytest.approx(sk.average_precision_score(y, s), abs=1e-12)
    p = np.clip(s / s.max(), 0.01, 0.99)
    assert metrics.log_loss(y, p) == pytest.approx(sk.log_loss(y, p), abs=1e-12)


def test_gauc_is_the_impression_weighted_mean_of_per_user_auc():
    y, s = _scores(7, n=400)
    users = np.random.default_rng(1).integers(0, 25, len(y))
    total = weight = 0.0
    for u in np.unique(users):
        m = users == u
        if 0 < y[m].sum() < m.sum():  # users with one class are skipped
            total += sk.roc_auc_score(y[m], s[m]) * m.sum()
            weight += m.sum()
    assert metrics.gauc(y, s, users) == pytest.approx(total / weight, abs=1e-12)


def test_one_class_gives_nan_not_an_exception():
    assert np.isnan(metrics.roc_auc([1, 1, 1], [0.1, 0.2, 0.3]))
    assert np.isnan(metrics.average_precision([0, 0], [0.1, 0.2]))


def _detections(seed: int, n_images: int = 12, n_classes: int = 3):
    """Separated ground-truth boxes (so greedy VOC and COCO matching agree) and noisy predictions."""
    rng = np.random.default_rng(seed)
    predictions, truth = [], []
    for _ in range(n_images):
        n = int(rng.integers(1, 5))
        cells = rng.choice(16, size=n, replace=False)  # one box per 100x100 cell of a 400x400 image
        xy = np.stack([cells % 4 * 100 + 10, cells // 4 * 100 + 10], 1).astype(float)
        gb = np.hstack([xy, xy + rng.uniform(40, 80, (n, 2))])
        gl = rng.integers(0, n_classes, n)
        keep = rng.random(n) < 0.85  # some ground truth is missed
        pb = gb[keep] + rng.normal(0, 8, (keep.sum(), 4))
        pl = gl[keep].copy()
        flip = rng.random(len(pl)) < 0.15
        pl[flip] = (pl[flip] + 1) % n_classes  # some wrong classes
        extra = int(rng.integers(0, 3))  # false positives in empty space
        fxy = rng.uniform(0, 300, (extra, 2))
        pb = np.vstack([pb, np.hstack([fxy, fxy + 30])])
        pl = np.concatenate([pl, rng.integers(0, n_classes, extra)])
        ps = rng.random(len(pl))
        predictions.append((pb, ps, pl))
        truth.append((gb, gl))
    return predictions, truth


@pytest.mark.parametrize("seed", range(3))
def test_detection_map_matches_pycocotools_all_point(seed):
    coco_mod = pytest.importorskip("pycocotools.coco")
    cocoeval = pytest.importorskip("pycocotools.cocoeval")
    predictions, truth = _detections(seed)
    names = ["a", "b", "c"]
    ours = metrics.detection_map(predictions, truth, names)

    images, annotations, results = [], [], []
    for i, ((pb, ps, pl), (gb, gl)) in enumerate(zip(predictions, truth)):
        images.append({"id": i, "width": 400, "height": 400})
        for box, label in zip(gb, gl):
            w, h = box[2] - box[0], box[3] - box[1]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i,
                    "category_id": int(label),
                    "bbox": [*box[:2], w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
        for box, score, label in zip(pb, ps, pl):
            results.append(
                {
                    "image_id": i,
                    "category_id": int(label),
                    "bbox": [*box[:2], box[2] - box[0], box[3] - box[1]],
                    "score": float(score),
                }
            )
    gt = coco_mod.COCO()
    gt.dataset = {"images": images, "annotations": annotations, "categories": [{"id": c} for c in range(3)]}
    gt.createIndex()
    ev = cocoeval.COCOeval(gt, gt.loadRes(results), "bbox")
    ev.params.iouThrs = np.array([0.5])
    ev.params.recThrs = np.linspace(0, 1, 100001)  # dense: COCO's sampled AP becomes VOC's all-point AP
    ev.params.maxDets = [1000]
    ev.params.areaRng, ev.params.areaRngLbl = [[0, 1e10]], ["all"]
    ev.evaluate()
    ev.accumulate()
    precision = ev.eval["precision"][0, :, :, 0, 0]  # (recall thresholds, classes)
    for c, name in enumerate(names):
        column = precision[:, c]
        coco_ap = float(np.mean(np.where(column < 0, 0, column)))
        assert ours["per_class"][name] == pytest.approx(coco_ap, abs=2e-4), name
    assert ours["num_images"] == len(predictions)
