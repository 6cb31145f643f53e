"""Level-3 recovery of the inspector's detector: detection loss plus output distillation."""

import copy

import torch

from deepseek_apps.apps.inspector.optimize import _finetune_detector, _head_outputs, _output_kd, inspector_target


def test_distilled_finetune_trains_the_student_and_leaves_the_teacher_alone(synthetic_voc, default_torch_path):
    from deepseek_apps import QualityInspector

    loaded = QualityInspector(model_path=default_torch_path).model_
    target = inspector_target(loaded, synthetic_voc, "voc", finetune_epochs=1, calib_images=8)
    assert "output distillation" in target.finetune_description
    teacher = target.prunable
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    student = copy.deepcopy(teacher)
    items = target.finetune.__closure__[target.finetune.__code__.co_freevars.index("train_items")].cell_contents
    _finetune_detector(student, items[:8], epochs=1, seed=0, lr=1e-3, teacher=teacher)
    after = teacher.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # the teacher is frozen
    assert any(not torch.equal(before[k], v) for k, v in student.state_dict().items())  # the student learned
    heads = (teacher.head.classification_head, teacher.head.regression_head)
    assert not any(h._forward_hooks for h in heads) and not student.training  # hooks removed, eval mode

    x = torch.rand(2, 1, 192, 192) * 255
    with _head_outputs(teacher) as t_out, _head_outputs(student) as s_out, torch.no_grad():
        teacher.eval()(list(x))
        student(list(x))
        same = _output_kd(t_out, t_out).item()
        different = _output_kd(s_out, t_out).item()
    assert different > same >= 0


def test_level3_with_groupnorm_to_batchnorm_on_the_real_detector(synthetic_voc, default_torch_path, tmp_path):
    """The FCOS head's GroupNorms become per-level BatchNorms; the INT8 graph has no norm op and no float island."""
    import onnx
    import pytest

    pytest.importorskip("torch_pruning")
    from deepseek_apps import QualityInspector
    from deepseek_apps.core.compress.pipeline import optimize
    from deepseek_apps.core.compress.quantize import integer_kernel_coverage

    loaded = QualityInspector(model_path=default_torch_path).model_
    target = inspector_target(loaded, synthetic_voc, "voc", finetune_epochs=1, calib_images=8, fold_norms=True)
    assert "GroupNorm -> per-level BatchNorm" in target.finetune_description and target.norm_batches
    data, report = optimize(target, level=3, max_accuracy_drop=100.0, prune_ratios=(0.2,), repeat=3, progress=False)
    steps = {s.step: s.detail for s in report.steps}
    assert steps["groupnorm -> batchnorm"].startswith("8 GroupNorm layers")  # 4 convs x (class, box) towers
    path = tmp_path / "level3.onnx"
    path.write_bytes(data)
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert not ops & {"GroupNormalization", "InstanceNormalization", "BatchNormalization"}
    coverage = integer_kernel_coverage(path)
    convs = lambda m: sum(isinstance(c, torch.nn.Conv2d) for c in m.modules())  # noqa: E731
    detector = loaded.metadata["torch_module"]
    levels = len(loaded.metadata["detector_config"].strides)  # the shared head's convs run once per FPN level
    expected = convs(detector) + (levels - 1) * convs(detector.head)  # 58 on the tiny backbone
    assert coverage.float_fed_by_dequantize == 0 and coverage.ops["QLinearConv"] == expected
    assert coverage.requantize == 1  # only the box decode after the head (the GroupNorm head has 25)
