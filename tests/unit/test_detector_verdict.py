"""The detector judged as an OK/NG classifier: image AUROC in its metrics, the training check and export."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pytest
import torch
from torchmetrics.functional.classification import binary_auroc

from deepseek_apps.apps.inspector.backend import DetectorBackend
from deepseek_apps.apps.inspector.export import refuse_unlearned
from deepseek_apps.apps.inspector.health import VERDICT_AUROC, diagnose
from deepseek_apps.apps.inspector.metrics import detection_metrics
from deepseek_apps.apps.inspector.model import DetectorConfig
from deepseek_apps.apps.inspector.train import check_monitor, train_detector, verdict_score
from deepseek_apps.core.train import TrainConfig
from deepseek_apps.datasets import DetectionDataset
from deepseek_apps.datasets.synthetic import generate_samples
from deepseek_apps.errors import DeepSeekAppsWarning, ErrorCode, InvalidInputError, RuntimeFailure

NAMES = ("crack",)
NO_BOXES = np.zeros((0, 4), np.float32)


def _found(scores):
    """Predictions with one detection per score (an empty list: nothing found)."""
    n = len(scores)
    return (np.tile([[1.0, 1.0, 9.0, 9.0]], (n, 1)).astype(np.float32), np.asarray(scores, np.float32), np.zeros(n))


def _truth(defective: bool):
    return (np.array([[1.0, 1.0, 9.0, 9.0]], np.float32), np.zeros(1)) if defective else (NO_BOXES, np.zeros(0))


def test_image_auroc_ranks_each_image_by_its_most_confident_detection():
    rng = np.random.default_rng(0)
    defective = rng.random(60) < 0.3
    detections = [rng.random(rng.integers(0, 4)) * (1.5 if d else 1.0) for d in defective]
    metrics = detection_metrics([_found(s) for s in detections], [_truth(d) for d in defective], NAMES)
    best = torch.tensor([float(max(s, default=0.0)) for s in detections])
    oracle = float(binary_auroc(best, torch.tensor(defective).long()))
    assert metrics.image_auroc == pytest.approx(oracle, abs=1e-6)
    assert metrics.good_images == int((~defective).sum()) and metrics.defect_images == int(defective.sum())
    assert 0.0 < metrics.image_ap <= 1.0
    assert metrics.to_dict()["image_auroc"] == metrics.image_auroc


def test_no_ranking_without_both_kinds_of_image():
    metrics = detection_metrics([_found([0.9]), _found([0.2])], [_truth(True), _truth(True)], NAMES)
    assert metrics.image_auroc is None and metrics.image_ap is None and metrics.good_images == 0
    assert metrics.to_dict()["image_auroc"] is None


CHECKS = {"train_boxes": 119, "train_images": 1152, "train_images_with_defects": 119, "boxes_per_class": {"c": 119}}


def _history(aurocs, good=28, defective=4, map50=0.03):
    return [
        {
            "epoch": e,
            "loss": 2.0 - 0.1 * e,
            "map50": map50,
            "image_auroc": a,
            "good_images": good,
            "defect_images": defective,
        }
        for e, a in enumerate(aurocs, start=1)
    ]


def test_failed_boxes_with_a_good_verdict_in_the_kept_epoch_is_verdict_only():
    health = diagnose(_history([0.7, 0.95, 0.8]), CHECKS, kept_epoch=2, backbone="efficientnet_lite0")
    assert health.status == "verdict_only" and not health.failed and health.verdict_only
    assert "stayed near zero" in health.problems[0]
    assert (
        "image AUROC 0.950" in health.verdict
        and "epoch 2" in health.verdict
        and "28 good, 4 defective" in health.verdict
    )
    text = health.summary()
    assert "BOXES UNRELIABLE" in text and "4111" in text and "not its boxes" in text


def test_a_good_verdict_in_another_epoch_is_named_but_the_run_fails():
    health = diagnose(_history([0.6, 0.95, 0.7]), CHECKS, kept_epoch=1)
    assert health.failed and health.verdict is None
    assert any("--monitor image_auroc" in c and "0.950" in c for c in health.likely_causes)


@pytest.mark.parametrize(
    "history, why",
    [
        (_history([0.95, 0.96], good=5), "too few good validation images"),
        (_history([0.95, 0.96], defective=2), "too few defective validation images"),
        (_history([VERDICT_AUROC - 0.01] * 3), "ranking below the bar"),
        ([{**h, "loss": 2.0} for h in _history([0.99] * 4)], "the loss did not fall"),
        ([{"epoch": e, "loss": 2.0 - 0.1 * e, "map50": 0.0} for e in (1, 2, 3)], "no ranking measured"),
    ],
    ids=["few-good", "few-defective", "weak", "flat-loss", "unmeasured"],
)
def test_still_failed(history, why):
    assert diagnose(history, CHECKS, kept_epoch=2).failed, why


def test_learned_boxes_stay_ok_whatever_the_ranking():
    assert diagnose(_history([0.5, 0.5, 0.5], map50=0.6), CHECKS, kept_epoch=3).status == "ok"


def _backend(health: dict) -> DetectorBackend:
    return DetectorBackend(lambda x: (x, x, x), NAMES, 64, 1, {"training_health": health})


def test_export_warns_instead_of_refusing_a_verdict_only_model():
    health = diagnose(_history([0.97]), CHECKS, kept_epoch=1).to_dict()
    with pytest.warns(DeepSeekAppsWarning) as caught:
        refuse_unlearned(_backend(health), force=False)
    assert caught[0].message.code == ErrorCode.DETECTOR_BOXES_UNRELIABLE and "0.970" in caught[0].message.message
    failed = diagnose(_history([0.6]), CHECKS, kept_epoch=1).to_dict()
    with pytest.raises(RuntimeFailure) as err, warnings.catch_warnings():
        warnings.simplefilter("error")
        refuse_unlearned(_backend(failed), force=False)
    assert err.value.code == ErrorCode.DETECTOR_NOT_LEARNED


@pytest.mark.parametrize(
    "monitor, val_images, val_defective",
    [("loss", 10, 3), ("image_auroc", 10, 10), ("image_auroc", 10, 0)],
    ids=["unknown", "no-good-images", "no-defective-images"],
)
def test_an_unmeasurable_monitor_is_refused_before_training(monitor, val_images, val_defective):
    with pytest.raises(InvalidInputError) as err:
        check_monitor(monitor, {"val_images": val_images, "val_images_with_defects": val_defective})
    assert err.value.code == ErrorCode.DETECTOR_MONITOR_UNAVAILABLE


def test_training_keeps_the_epoch_with_the_best_ranking(tmp_path):
    samples = generate_samples(32, seed=5)
    good = [replace(s, boxes=NO_BOXES, labels=np.zeros(0, np.int64)) for s in samples[12:]]
    dataset = DetectionDataset(
        samples[:12] + good, ("crazing", "inclusion", "patches", "pitted", "rolled", "scratches")
    )
    detector = DetectorConfig(input_size=64, backbone="tiny", head_convs=1, num_classes=6)
    config = TrainConfig(epochs=3, batch_size=8, out_dir=str(tmp_path / "run"), progress=False, monitor="image_auroc")
    _, result, meta = train_detector(dataset, detector, config, val_fraction=0.25, test_fraction=0.0)
    aurocs = [h["image_auroc"] for h in result.history]
    assert all(a is not None and 0.0 <= a <= 1.0 for a in aurocs)
    assert aurocs[result.best_epoch - 1] == max(aurocs) and result.best_metric == pytest.approx(max(aurocs), abs=1e-6)
    record = result.history[result.best_epoch - 1]
    assert record["good_images"] + record["defect_images"] == meta["split"]["val"]
    card = (tmp_path / "run" / "MODEL_CARD.md").read_text()
    assert f"Kept epoch {result.best_epoch} (best validation image_auroc)" in card and "image AUROC" in card
    with pytest.raises(InvalidInputError) as err:  # every image has a defect: nothing to rank against
        train_detector(
            DetectionDataset(samples, dataset.class_names), detector, replace(config, out_dir=str(tmp_path / "r2"))
        )
    assert err.value.code == ErrorCode.DETECTOR_MONITOR_UNAVAILABLE


def test_ties_in_the_ranking_go_to_better_boxes_then_to_the_later_epoch():
    records = [
        {"epoch": 1, "image_auroc": 1.0, "map50": 0.0},
        {"epoch": 2, "image_auroc": 1.0, "map50": 0.2},
        {"epoch": 3, "image_auroc": 1.0, "map50": 0.0},
        {"epoch": 4, "image_auroc": 1.0, "map50": 0.2},
        {"epoch": 5, "image_auroc": 1.0 - 1e-6, "map50": 1.0},  # one ranking step worse at 1,000 x 1,000 images
    ]
    assert max(records, key=verdict_score)["epoch"] == 4
