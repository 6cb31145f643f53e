"""GroupNorm -> per-level BatchNorm: conversion, exact statistics, folding for INT8, clear errors."""

from pathlib import Path

import pytest
import torch
from torch import nn

from deepseek_apps.core.compress.norm import (
    LevelBatchNorm2d,
    LevelConv2d,
    fold_level_batchnorm,
    groupnorm_to_batchnorm,
    recompute_batchnorm_stats,
)
from deepseek_apps.errors import InvalidInputError, ModelFormatError

NORM_OPS = {"GroupNormalization", "InstanceNormalization", "BatchNormalization"}


class SharedHead(nn.Module):
    """An FCOS-like head shared by two pyramid levels (16x16 and 8x8)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, padding=1)
        self.down = nn.Conv2d(16, 16, 3, stride=2, padding=1)
        self.tower = nn.Sequential(
            nn.Conv2d(16, 16, 3, padding=1),
            nn.GroupNorm(4, 16),
            nn.ReLU(),
            nn.Conv2d(16, 16, 3, padding=1),
            nn.GroupNorm(4, 16),
            nn.ReLU(),
        )
        self.out = nn.Conv2d(16, 4, 1)

    def forward(self, x):
        p3 = torch.relu(self.stem(x))
        p4 = torch.relu(self.down(p3))
        return torch.cat([self.out(self.tower(p)).mean((2, 3)) for p in (p3, p4)], dim=1)


def _batches(n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(8, 3, 16, 16, generator=g) for _ in range(n)]


def test_conversion_keeps_one_batchnorm_per_level_and_folds_exactly():
    torch.manual_seed(0)
    model = SharedHead()
    gamma = model.tower[1].weight.detach().clone().uniform_(0.5, 1.5)
    model.tower[1].weight.data.copy_(gamma)
    batches = _batches()
    assert groupnorm_to_batchnorm(model, model, batches) == 2
    norm = model.tower[1]
    assert isinstance(norm, LevelBatchNorm2d) and sorted(norm.norms) == ["16x16", "8x8"]
    assert torch.equal(norm.norms["8x8"].weight.detach(), gamma)  # the GroupNorm's affine carried over
    assert not torch.allclose(norm.norms["8x8"].running_mean, norm.norms["16x16"].running_mean)
    assert not any(isinstance(m, nn.GroupNorm) for m in model.modules())

    model.eval()
    folded = fold_level_batchnorm(model)
    assert isinstance(folded.tower[0], LevelConv2d) and isinstance(folded.tower[1], nn.Identity)
    assert not any(isinstance(m, (nn.GroupNorm, LevelBatchNorm2d, nn.BatchNorm2d)) for m in folded.modules())
    x = batches[0]
    with torch.no_grad():
        assert torch.allclose(model(x), folded(x), atol=1e-5)
    assert isinstance(model.tower[1], LevelBatchNorm2d)  # folding worked on a copy


def test_recomputed_statistics_are_the_exact_average_over_the_batches():
    bn = nn.BatchNorm2d(3, momentum=0.1)
    batches = [torch.randn(4, 3, 5, 5) * (i + 1) + i for i in range(5)]
    recompute_batchnorm_stats(bn, bn, batches)
    means = torch.stack([b.mean((0, 2, 3)) for b in batches]).mean(0)
    assert torch.allclose(bn.running_mean, means, atol=1e-5)
    assert bn.momentum == 0.1 and not bn.training


def test_training_uses_each_levels_own_batch_statistics():
    norm = LevelBatchNorm2d(2, [(4, 4), (2, 2)]).train()
    big, small = torch.randn(8, 2, 4, 4) + 5, torch.randn(8, 2, 2, 2) - 5
    assert norm(big).mean().abs() < 1e-4 and norm(small).mean().abs() < 1e-4
    assert norm.norms["4x4"].running_mean.mean() > 0 > norm.norms["2x2"].running_mean.mean()


def test_clear_errors():
    model = SharedHead()
    with pytest.raises(InvalidInputError) as info:
        groupnorm_to_batchnorm(model, model, [])
    assert info.value.code == 1013

    class Unused(SharedHead):
        def __init__(self):
            super().__init__()
            self.spare = nn.GroupNorm(2, 16)

    unused = Unused()
    with pytest.raises(ModelFormatError) as info:
        groupnorm_to_batchnorm(unused, unused, _batches(1))
    assert info.value.code == 3005 and "spare" in str(info.value.value)

    groupnorm_to_batchnorm(model, model, _batches(1))
    with pytest.raises(InvalidInputError) as info:
        model.eval()(torch.randn(1, 3, 12, 12))  # 12x12 and 6x6 were never seen
    assert info.value.code == 1004 and "12x12" in str(info.value)

    strided = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), LevelBatchNorm2d(4, [(4, 4)]))
    with pytest.raises(ModelFormatError) as info:
        fold_level_batchnorm(strided)
    assert info.value.code == 3005


def test_converted_head_exports_with_no_norm_ops_and_no_float_round_trips(tmp_path: Path):
    onnx = pytest.importorskip("onnx")
    from deepseek_apps.core.compress.pipeline import OptimizeTarget, _export
    from deepseek_apps.core.compress.quantize import integer_kernel_coverage, quantize_static_onnx

    torch.manual_seed(0)
    batches = _batches()
    calibration = [{"x": b.numpy()} for b in batches]
    coverage = {}
    for name in ("gn", "bn"):
        model = SharedHead().eval()
        if name == "bn":
            groupnorm_to_batchnorm(model, model, batches)
        target = OptimizeTarget(model, (batches[0][:2],), ["x"], ["y"], calibration, evaluate=lambda p: 0.0)
        path = tmp_path / f"{name}.onnx"
        _export(target, model, path)  # folds per-level BatchNorm, checks parity with the unfolded model
        ops = {n.op_type for n in onnx.load(str(path)).graph.node}
        assert (ops & NORM_OPS == set()) == (name == "bn")
        coverage[name] = integer_kernel_coverage(
            quantize_static_onnx(path, tmp_path / f"{name}_int8.onnx", calibration)
        )
    assert coverage["bn"].requantize == 0 and coverage["bn"].fraction == 1.0
    assert coverage["gn"].requantize > 0  # each GroupNorm is a float island between integer convs
    assert coverage["bn"].integer >= coverage["gn"].integer
