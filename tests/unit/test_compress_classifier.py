"""A torchvision classifier: train a few steps, then optimize it like any other target."""

import numpy as np
import pytest

from deepseek_apps.apps.classifier import (
    ClassifierGraph,
    build_classifier,
    classifier_target,
    prepare_pixels,
    train_classifier,
)
from deepseek_apps.core.compress.pipeline import optimize
from deepseek_apps.core.train import TrainConfig
from deepseek_apps.datasets.classification import from_detection, stratified_split
from deepseek_apps.datasets.synthetic import generate_samples
from deepseek_apps.datasets.types import NEU_CLASSES, DetectionDataset
from deepseek_apps.errors import ErrorCode, InvalidInputError


def test_unknown_architecture_is_clear():
    with pytest.raises(InvalidInputError) as info:
        build_classifier("resnet1000", 3)
    assert info.value.code == ErrorCode.INVALID_ARGUMENT and "resnet1000" in str(info.value)


def test_train_then_optimize_a_classifier(tmp_path):
    data = from_detection(DetectionDataset(generate_samples(48, seed=2), NEU_CLASSES))
    train_idx, val_idx = stratified_split(data.labels, 0.25, seed=0)
    pixels = prepare_pixels(data, 32)
    graph = ClassifierGraph(build_classifier("mobilenet_v3_small", len(NEU_CLASSES)))
    cfg = TrainConfig(epochs=2, batch_size=8, lr=1e-3, out_dir=str(tmp_path / "run"), progress=False, threads=2)
    result = train_classifier(
        graph, pixels[train_idx], data.labels[train_idx], pixels[val_idx], data.labels[val_idx], cfg
    )
    assert len(result["history"]) == 2 and 0 <= result["best_metric"] <= 100
    target = classifier_target(
        graph.eval(), pixels[train_idx], data.labels[train_idx], pixels[val_idx], data.labels[val_idx], calib_images=16
    )
    onnx_bytes, report = optimize(target, level=1, max_accuracy_drop=1.0, repeat=5, progress=False)
    assert report.metric_name == "accuracy %" and abs(report.metric_drop) < 1e-6  # level 1 changes no numerics
    assert np.isfinite(report.result.p50_ms_b1) and len(onnx_bytes) > 1000


def test_finetune_distils_the_student_in_place(tmp_path):
    import copy

    import torch

    data = from_detection(DetectionDataset(generate_samples(24, seed=4), NEU_CLASSES))
    pixels = prepare_pixels(data, 32)
    teacher = ClassifierGraph(build_classifier("resnet18", len(NEU_CLASSES))).eval()
    target = classifier_target(teacher, pixels, data.labels, pixels, data.labels, finetune_epochs=1, calib_images=8)
    student = copy.deepcopy(teacher)
    before = [p.detach().clone() for p in student.parameters()]
    target.finetune(student, teacher)
    assert not student.training
    assert any(not torch.equal(a, b) for a, b in zip(before, student.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(before, teacher.parameters()))  # the teacher is left alone
