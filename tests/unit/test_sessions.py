"""The three inference backends give the same outputs on the same exported model."""

import numpy as np
import pytest
import torch
from torch import nn

from deepseek_apps.core.runtime.export import export_onnx
from deepseek_apps.core.runtime.session import create_session
from deepseek_apps.errors import ErrorCode, InvalidInputError, MissingResourceError, RuntimeFailure


@pytest.fixture(scope="module")
def model_and_onnx(tmp_path_factory):
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3)
    ).eval()
    path = tmp_path_factory.mktemp("s") / "m.onnx"
    report = export_onnx(model, (torch.randn(2, 1, 12, 12),), path, ["x"], ["y"])
    assert report.max_abs_diff < 1e-4
    return model, path


def test_backends_agree(model_and_onnx):
    model, path = model_and_onnx
    x = np.random.default_rng(0).normal(size=(5, 1, 12, 12)).astype(np.float32)  # other batch size: dynamic axis
    ref = create_session(model, "torch", input_names=["x"], output_names=["y"]).run({"x": x})[0]
    ort = create_session(path, "onnxruntime", threads=1).run({"x": x})[0]
    assert np.allclose(ref, ort, atol=1e-5)
    pytest.importorskip("openvino", reason="the openvino extra is not installed")
    ov = create_session(path, "openvino").run({"x": x})[0]
    assert np.allclose(ref, ov, atol=1e-4)  # f32 precision forced (bf16 is OpenVINO's default here)


def test_export_parity_failure_is_loud(tmp_path):
    class Noisy(nn.Module):
        def forward(self, x):
            return x + torch.rand_like(x)  # different every run: ONNX cannot match

    with pytest.raises(RuntimeFailure) as info:
        export_onnx(Noisy(), (torch.zeros(1, 4),), tmp_path / "n.onnx", ["x"], ["y"], tolerance=1e-6)
    assert info.value.code == ErrorCode.EXPORT_PARITY


def test_bad_backend_and_missing_file(tmp_path):
    with pytest.raises(InvalidInputError):
        create_session(tmp_path / "m.onnx", "tensorrt")
    with pytest.raises(MissingResourceError):
        create_session(tmp_path / "missing.onnx", "onnxruntime")
