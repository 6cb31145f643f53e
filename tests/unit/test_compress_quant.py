"""INT8 static/dynamic, 4-bit weights, per-layer sensitivity and the mixed-precision plan."""

import numpy as np
import pytest
import torch
from torch import nn

from deepseek_apps.core.compress.mixed import (
    layer_sensitivity,
    plan_mixed_precision,
    quantizable_nodes,
    quantize_dynamic_onnx,
    quantize_weights_4bit,
)
from deepseek_apps.core.compress.quantize import quantize_static_onnx
from deepseek_apps.core.runtime.export import export_onnx
from deepseek_apps.core.runtime.session import OrtSession
from deepseek_apps.errors import DeepSeekAppsError, ErrorCode, InvalidInputError


def _cnn():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, 5),
    ).eval()


@pytest.fixture(scope="module")
def cnn_onnx(tmp_path_factory):
    path = tmp_path_factory.mktemp("q") / "cnn.onnx"
    export_onnx(_cnn(), (torch.randn(2, 3, 16, 16),), path, ["x"], ["y"])
    return path


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 3, 16, 16)).astype(np.float32)
    return x, [{"x": x[i : i + 8]} for i in range(0, 32, 8)]


def _agreement(path, x, ref):
    out = OrtSession(path).run({"x": x})[0]
    return float(np.mean(out.argmax(1) == ref.argmax(1))) - float(np.abs(out - ref).mean())


def test_static_int8_stays_close_to_fp32(tmp_path, cnn_onnx, data):
    x, batches = data
    ref = OrtSession(cnn_onnx).run({"x": x})[0]
    for method in ("minmax", "entropy", "percentile"):
        q = quantize_static_onnx(cnn_onnx, tmp_path / f"{method}.onnx", iter(batches), method=method)
        out = OrtSession(q).run({"x": x})[0]
        assert np.abs(out - ref).max() < 0.1 * np.abs(ref).max() + 0.05, method


def test_only_nodes_quantizes_just_those_layers(tmp_path, cnn_onnx, data):
    from deepseek_apps.core.compress.quantize import integer_kernel_coverage

    first = quantizable_nodes(cnn_onnx)[0][0]
    one = integer_kernel_coverage(quantize_static_onnx(cnn_onnx, tmp_path / "one.onnx", data[1], only_nodes=[first]))
    every = integer_kernel_coverage(quantize_static_onnx(cnn_onnx, tmp_path / "all.onnx", data[1]))
    assert one.ops.get("QLinearConv", 0) == 1 and every.ops.get("QLinearConv", 0) == 2


def test_sensitivity_and_plan(tmp_path, cnn_onnx, data):
    x, batches = data
    ref = OrtSession(cnn_onnx).run({"x": x})[0]

    def evaluate(path):
        return _agreement(path, x, ref)

    sens = layer_sensitivity(cnn_onnx, batches, evaluate, progress=False)
    assert {s.name for s in sens} == {n for n, _ in quantizable_nodes(cnn_onnx)}
    assert [s.drop for s in sens] == sorted((s.drop for s in sens), reverse=True)

    easy = plan_mixed_precision(
        cnn_onnx, tmp_path / "easy.onnx", batches, evaluate, max_drop=1.0, sensitivity=sens, progress=False
    )
    assert set(easy.layers.values()) == {"int8"} and len(easy.steps) == 1
    impossible = plan_mixed_precision(
        cnn_onnx,
        tmp_path / "hard.onnx",
        batches,
        evaluate,
        max_drop=-1.0,
        sensitivity=sens,
        max_fp32_layers=1,
        progress=False,
    )
    assert "not met" in impossible.steps[-1]["note"]
    assert (tmp_path / "hard.onnx").exists() and impossible.to_dict()["drop"] == impossible.drop


def test_dynamic_int8_and_4bit_weights_for_linear_models(tmp_path):
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 64)).eval()
    path = tmp_path / "mlp.onnx"
    export_onnx(mlp, (torch.randn(4, 8, 64),), path, ["x"], ["y"], opset=21)  # 3-D input: Linear -> MatMul
    x = np.random.default_rng(1).normal(size=(16, 8, 64)).astype(np.float32)
    ref = OrtSession(path).run({"x": x})[0]
    for q in (quantize_dynamic_onnx(path, tmp_path / "dyn.onnx"), quantize_weights_4bit(path, tmp_path / "w4.onnx")):
        out = OrtSession(q).run({"x": x})[0]
        assert np.corrcoef(out.ravel(), ref.ravel())[0, 1] > 0.98, q.name  # 4-bit is lossy, but close
        assert q.stat().st_size < path.stat().st_size
    flat = tmp_path / "gemm.onnx"
    export_onnx(mlp, (torch.randn(4, 64),), flat, ["x"], ["y"])  # 2-D input exports Gemm: nothing to do
    with pytest.raises(DeepSeekAppsError) as info:
        quantize_weights_4bit(flat, tmp_path / "none.onnx")
    assert info.value.code == ErrorCode.UNSUPPORTED_FORMAT


def test_bad_arguments_are_clear(tmp_path, cnn_onnx, data):
    with pytest.raises(InvalidInputError) as info:
        layer_sensitivity(cnn_onnx, [], lambda p: 0.0)
    assert info.value.code == ErrorCode.DATASET_EMPTY
    with pytest.raises(InvalidInputError) as info:
        layer_sensitivity(cnn_onnx, data[1], lambda p: 0.0, nodes=["nope"])
    assert info.value.code == ErrorCode.INVALID_ARGUMENT and "nope" in str(info.value)
    with pytest.raises(InvalidInputError):
        quantize_static_onnx(cnn_onnx, tmp_path / "x.onnx", iter(data[1]), method="magic")
    with pytest.raises(InvalidInputError) as info:
        quantize_static_onnx(cnn_onnx, tmp_path / "x.onnx", iter([]))
    assert info.value.code == ErrorCode.DATASET_EMPTY
    wrong = [{"x": np.zeros((4, 1, 16, 16), np.float32)}]  # one channel where the model takes three
    with pytest.raises(InvalidInputError) as info:
        quantize_static_onnx(cnn_onnx, tmp_path / "x.onnx", wrong)
    assert info.value.code == ErrorCode.IMAGE_SHAPE and "[4, 1, 16, 16]" in str(info.value)
    with pytest.raises(InvalidInputError) as info:
        quantize_static_onnx(cnn_onnx, tmp_path / "x.onnx", [{"pixels": data[0]}])
    assert info.value.code == ErrorCode.INVALID_ARGUMENT and "pixels" in str(info.value)
    with pytest.raises(InvalidInputError) as info:
        quantize_static_onnx(cnn_onnx, tmp_path / "x.onnx", [{"x": data[0].astype(str)}])
    assert info.value.code == ErrorCode.IMAGE_DTYPE


def test_sensitivity_runs_only_when_the_budget_needs_it(tmp_path, cnn_onnx, data):
    x, batches = data
    ref = OrtSession(cnn_onnx).run({"x": x})[0]
    calls = []

    def evaluate(path):
        calls.append(path)
        return _agreement(path, x, ref)

    plan = plan_mixed_precision(cnn_onnx, tmp_path / "p.onnx", batches, evaluate, max_drop=10.0, progress=False)
    assert plan.sensitivity == [] and len(calls) == 2  # baseline + all-INT8, no per-layer runs
    assert "not needed" in plan.steps[-1]["note"]
    forced = plan_mixed_precision(
        cnn_onnx, tmp_path / "q.onnx", batches, evaluate, max_drop=10.0, progress=False, always_analyze=True
    )
    assert len(forced.sensitivity) == len(quantizable_nodes(cnn_onnx))


class _Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU())
        self.body = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1))
        self.head = nn.Sequential(nn.Conv2d(16, 8, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def forward(self, x):
        y = self.stem(x)
        return self.head(torch.relu(y + self.body(y)))


def test_our_qdq_fuses_into_integer_kernels_where_the_default_does_not(tmp_path, data):
    from onnxruntime.quantization import quantize_static

    from deepseek_apps.core.compress.quantize import integer_kernel_coverage

    torch.manual_seed(0)
    fp32 = export_onnx(_Residual().eval(), (torch.randn(2, 3, 16, 16),), tmp_path / "res.onnx", ["x"], ["y"]).path
    batches = data[1]
    ours = integer_kernel_coverage(quantize_static_onnx(fp32, tmp_path / "ours.onnx", batches))
    assert ours.fraction == 1.0 and ours.float_fed_by_dequantize == 0 and ours.ops.get("QLinearConv", 0) == 4
    assert ours.requantize == 0  # Relu folded into the convs' output ranges: no float round trip left
    relu_left = quantize_static_onnx(fp32, tmp_path / "relu.onnx", batches, op_types=("Conv", "Add"))
    assert integer_kernel_coverage(relu_left).requantize > 0  # DequantizeLinear -> Relu -> QuantizeLinear

    class Reader:
        def __init__(self):
            self.it = iter(batches)

        def get_next(self):
            return next(self.it, None)

    quantize_static(str(fp32), str(tmp_path / "default.onnx"), Reader())  # S8S8 QDQ, per tensor
    default = integer_kernel_coverage(tmp_path / "default.onnx")
    assert default.float_fed_by_dequantize > 0 and default.fraction < ours.fraction
    assert integer_kernel_coverage(fp32).fraction == 0.0  # the FP32 model has nothing quantized


def test_full_range_int8_weights_warn_on_cpus_whose_kernels_saturate(cnn_onnx, tmp_path, monkeypatch):
    import warnings

    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    from deepseek_apps.core.runtime import session
    from deepseek_apps.core.runtime.session import full_range_int8_weights
    from deepseek_apps.errors import DeepSeekAppsWarning

    batches = [{"x": np.random.default_rng(i).normal(size=(4, 3, 16, 16)).astype(np.float32)} for i in range(4)]
    ours = quantize_static_onnx(cnn_onnx, tmp_path / "ours.onnx", iter(batches))
    full = tmp_path / "full.onnx"  # what bundles exported before 2026-12-06 held: all 8 bits of the weights
    quantize_static(
        str(cnn_onnx),
        str(full),
        iter_reader(batches),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        extra_options={"WeightSymmetric": True},
    )
    assert full_range_int8_weights(ours) == [] and full_range_int8_weights(cnn_onnx) == []
    assert len(full_range_int8_weights(full)) == 3  # two convolutions and the linear layer
    monkeypatch.setattr(session, "int8_saturates", lambda: True)  # an AVX2 CPU without VNNI
    with pytest.warns(DeepSeekAppsWarning, match=r"\[DSA-3012\] 3 INT8 weight tensors use all 8 bits") as caught:
        OrtSession(full.read_bytes())
    assert caught[0].message.code == ErrorCode.INT8_WEIGHTS_SATURATE and "re-export" in caught[0].message.hint
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        OrtSession(ours)  # 7-bit weights: silent
        monkeypatch.setattr(session, "int8_saturates", lambda: False)  # a CPU with VNNI: no check
        OrtSession(full)


def iter_reader(batches):
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter(batches)

        def get_next(self):
            return next(self._it, None)

    return Reader()
