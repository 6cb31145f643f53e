"""optimize(): levels 0-3 on a tiny classifier, the report, and bad arguments."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from deepseek_apps.core.compress.pipeline import OptimizeTarget, optimize
from deepseek_apps.core.runtime.session import OrtSession
from deepseek_apps.errors import ErrorCode, InvalidInputError


def _trained_classifier():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 3, 16, 16)).astype(np.float32)
    y = (x[:, 0].mean((1, 2)) > 0).astype(np.int64) + 2 * (x[:, 1].mean((1, 2)) > 0)
    model = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, 4),
    )
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(60):
        opt.zero_grad()
        nn.functional.cross_entropy(model(xt), yt).backward()
        opt.step()
    return model.eval(), x, y


@pytest.fixture(scope="module")
def target():
    model, x, y = _trained_classifier()

    def evaluate(path: Path) -> float:
        return 100.0 * float(np.mean(OrtSession(path).run({"x": x})[0].argmax(1) == y))

    def finetune(student, teacher):
        opt = torch.optim.Adam(student.parameters(), 5e-3)
        student.train()
        for _ in range(30):
            opt.zero_grad()
            nn.functional.cross_entropy(student(torch.from_numpy(x)), torch.from_numpy(y)).backward()
            opt.step()
        student.eval()

    return OptimizeTarget(
        module=model,
        example_inputs=(torch.from_numpy(x[:2]),),
        input_names=["x"],
        output_names=["y"],
        calibration=[{"x": x[i : i + 32]} for i in range(0, 128, 32)],
        evaluate=evaluate,
        metric_name="accuracy %",
        ignored_layers=[model[-1]],
        finetune=finetune,
    )


@pytest.mark.parametrize("level", [0, 1, 2])
def test_levels_produce_a_working_model_and_a_complete_report(target, level):
    data, report = optimize(target, level=level, max_accuracy_drop=2.0, repeat=10, progress=False)
    assert data[:2] and report.level == level
    assert report.baseline.metric > 60  # the tiny model did learn
    assert report.metric_drop <= 2.0 and report.within_budget
    assert report.result.p50_ms_b1 > 0 and report.result.throughput_b16 > 0 and report.result.file_mb > 0
    assert {s.step for s in report.steps} >= {"export"}
    if level == 2:
        assert report.size_ratio > 2 and set(report.layer_plan.values()) <= {"int8", "fp32"}
    assert "speed-up" in report.table() and set(report.to_dict()) >= {"baseline", "result", "steps", "metric_drop"}
    if importlib.util.find_spec("openvino") is not None:  # the other runtime, timed on the same file
        check = next(s.detail for s in report.steps if s.step == "runtime check")
        assert "OpenVINO on this CPU" in check and "faster at batch 1 here:" in check


def test_leaves_no_work_files_behind_on_success_or_error(target, tmp_path, monkeypatch):
    import dataclasses
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where optimize's work folder goes
    data, _ = optimize(target, level=0, repeat=2, progress=False)
    assert data[:2] and list(tmp_path.iterdir()) == []

    def broken(path: Path) -> float:
        assert path.is_file() and path.parent.parent == tmp_path  # the export was written in the work folder
        raise RuntimeError("metric failed")

    with pytest.raises(RuntimeError, match="metric failed"):
        optimize(dataclasses.replace(target, evaluate=broken), level=0, repeat=2, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_level3_prunes_finetunes_and_quantizes(target):
    pytest.importorskip("torch_pruning")
    data, report = optimize(target, level=3, max_accuracy_drop=3.0, prune_ratios=(0.5,), repeat=10, progress=False)
    steps = [s.step for s in report.steps]
    assert "prune" in steps and "int8" in steps
    if "back off" not in steps:
        assert report.result.params < report.baseline.params and report.result.macs < report.baseline.macs


def test_bad_arguments(target):
    with pytest.raises(InvalidInputError) as info:
        optimize(target, level=7)
    assert info.value.code == ErrorCode.INVALID_ARGUMENT and "7" in str(info.value)
    with pytest.raises(InvalidInputError):
        optimize(target, level=1, max_accuracy_drop=-1)
    with pytest.raises(InvalidInputError) as info:
        optimize(target, level=3, prune_ratios=(0.5, 1.5))
    assert info.value.code == ErrorCode.INVALID_ARGUMENT and "1.5" in str(info.value)


def test_level3_groupnorm_to_batchnorm_leaves_no_norm_ops_in_the_int8_model(target, tmp_path):
    pytest.importorskip("torch_pruning")
    import dataclasses

    import onnx

    from deepseek_apps.core.compress.quantize import integer_kernel_coverage

    torch.manual_seed(0)
    x = target.calibration[0]["x"]
    xs = np.concatenate([b["x"] for b in target.calibration])
    gn = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1),
        nn.GroupNorm(8, 32),
        nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1),
        nn.GroupNorm(8, 32),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, 4),
    )
    target.finetune(gn, None)  # trained on the same task as the BatchNorm model
    gn_target = dataclasses.replace(
        target,
        module=gn.eval(),
        example_inputs=(torch.from_numpy(x[:2]),),
        ignored_layers=[gn[-1]],
        groupnorm_to_batchnorm=True,
        norm_batches=[{"x": xs[i : i + 64]} for i in range(0, len(xs), 64)],
    )
    data, report = optimize(gn_target, level=3, max_accuracy_drop=100.0, prune_ratios=(0.25,), repeat=5, progress=False)
    steps = [s.step for s in report.steps]
    assert steps.index("prune") < steps.index("groupnorm -> batchnorm") < steps.index("fine-tune")
    assert steps.index("fine-tune") < steps.index("batchnorm statistics") < steps.index("int8")
    assert "over 128 inputs" in report.steps[steps.index("batchnorm statistics")].detail
    path = tmp_path / "level3.onnx"
    path.write_bytes(data)
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert not ops & {"GroupNormalization", "InstanceNormalization", "BatchNormalization"}
    coverage = integer_kernel_coverage(path)
    assert coverage.fraction == 1.0 and coverage.ops["QLinearConv"] == 2
    assert coverage.requantize == 1  # only the average pool before the Linear; no norm between the convs
    assert report.result.metric > 60  # still solves the task after swap, fine-tune and INT8


def test_level3_retries_a_ratio_without_the_groupnorm_swap_when_the_swap_misses_the_budget(target):
    pytest.importorskip("torch_pruning")
    import dataclasses

    import onnx

    torch.manual_seed(0)
    x = target.calibration[0]["x"]
    gn = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.GroupNorm(4, 16),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 4),
    )

    def evaluate(path: Path) -> float:  # a metric that punishes the swapped model, whatever its accuracy
        swapped = any("x16/Conv" in n.name for n in onnx.load(str(path)).graph.node)  # a LevelConv2d copy
        return 0.0 if swapped else target.evaluate(path)

    target.finetune(gn, None)
    gn_target = dataclasses.replace(
        target,
        module=gn.eval(),
        example_inputs=(torch.from_numpy(x[:2]),),
        ignored_layers=[gn[-1]],
        evaluate=evaluate,
        groupnorm_to_batchnorm=True,
    )
    _, report = optimize(gn_target, level=3, max_accuracy_drop=30.0, prune_ratios=(0.25,), repeat=3, progress=False)
    steps = [s.step for s in report.steps]
    assert steps.count("prune") == 2 and steps.count("groupnorm -> batchnorm") == 1
    back_off = report.steps[steps.index("back off")].detail
    assert back_off.startswith("ratio 0.25 with GroupNorm -> BatchNorm lost")
    assert steps.index("int8") > steps.index("back off") and steps.count("back off") == 1
    assert report.within_budget and "no pruning ratio" not in str(report.steps)  # kept: pruned, GroupNorm
