"""The three inference backends give the same outputs on the same exported model."""

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from deepseek_apps.core.runtime.export import export_onnx
from deepseek_apps.core.runtime.session import amx_bf16, create_session
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
    assert np.allclose(ref, ov, atol=1e-4)  # f32 precision forced (bf16 is OpenVINO's default on AMX CPUs)
    bf16 = create_session(path, "openvino", precision="bf16").run({"x": x})[0]
    assert np.allclose(ref, bf16, atol=0.05)  # bf16 keeps 8 mantissa bits: close, not exact


def test_openvino_precision_is_checked(model_and_onnx):
    pytest.importorskip("openvino", reason="the openvino extra is not installed")
    with pytest.raises(InvalidInputError) as info:
        create_session(model_and_onnx[1], "openvino", precision="fp8")
    assert info.value.code == ErrorCode.INVALID_ARGUMENT and info.value.value == "fp8"


def test_amx_bf16_reads_the_cpu_flags():
    flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), "")
    assert amx_bf16() == ("amx_bf16" in flags.split())


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


def test_batch_preserving_reshapes_get_constant_targets(tmp_path):
    import onnx

    class Grouped(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 8, 3, padding=1)
            self.norm = nn.GroupNorm(4, 8)  # exported as Reshape -> InstanceNorm -> Reshape

        def forward(self, x):
            y = self.norm(self.conv(x))
            n = y.shape[0]
            per_pixel = y.view(n, 8, -1).permute(0, 2, 1).reshape(n, -1, 8)  # like the FCOS head outputs
            return per_pixel, y.reshape(-1)  # the flat one loses the batch axis: must stay dynamic

    torch.manual_seed(0)
    model = Grouped().eval()
    path = tmp_path / "g.onnx"
    report = export_onnx(model, (torch.randn(2, 1, 6, 6),), path, ["x"], ["y", "flat"], tolerance=1e-5)
    graph = onnx.load(str(path)).graph
    reshapes = [n for n in graph.node if n.op_type == "Reshape"]
    static = [n for n in reshapes if n.input[1].endswith("__static_shape")]
    # all but y.reshape(-1), whose length depends on the batch
    assert report.static_reshapes == len(static) == len(reshapes) - 1 >= 3
    assert "Shape" not in {n.op_type for n in graph.node}  # the run-time shape arithmetic is gone
    session = create_session(path, "onnxruntime", threads=1)
    for batch in (1, 3):  # other batch sizes than the export's
        x = torch.randn(batch, 1, 6, 6)
        with torch.no_grad():
            ref = model(x)
        got = session.run({"x": x.numpy()})
        for r, g in zip(ref, got):
            assert r.shape == g.shape and np.allclose(r.numpy(), g, atol=1e-5)


def test_static_reshapes_on_a_graph_it_cannot_fully_infer(tmp_path, monkeypatch):
    import onnx
    from onnx import TensorProto, helper

    from deepseek_apps.core.runtime.export import static_reshapes

    def const(name, values):
        return helper.make_tensor(name, TensorProto.INT64, [len(values)], values)

    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "axes"], ["n1"]),
        helper.make_node("Concat", ["n1", "rest"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["y"]),
        helper.make_node("Mystery", ["x"], ["z"], domain="example.custom"),  # no shape inference for it
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("y", "z")],
        [helper.make_tensor("zero", TensorProto.INT64, [], [0]), const("axes", [0]), const("rest", [2, 4])],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("example.custom", 1)]
    )
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    monkeypatch.chdir(tmp_path)
    assert static_reshapes(path) == 1  # what it proved is used although "Mystery" stays unknown
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert ops == ["Reshape", "Mystery"]  # the shape arithmetic is gone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]  # nothing dumped into the working directory


def test_openvino_session_serves_several_threads(model_and_onnx):
    pytest.importorskip("openvino", reason="the openvino extra is not installed")
    from concurrent.futures import ThreadPoolExecutor

    model, path = model_and_onnx
    session = create_session(path, "openvino", threads=1)
    inputs = [np.random.default_rng(k).normal(size=(k + 1, 1, 12, 12)).astype(np.float32) for k in range(8)]
    expected = [session.run({"x": x})[0] for x in inputs]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda x: session.run({"x": x})[0], inputs * 4))
    assert all(np.allclose(g, e, atol=1e-6) for g, e in zip(got, expected * 4, strict=True))


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
@pytest.mark.parametrize("shape", [(1, 12, 12), (1, 3, 12, 12)], ids=["rank 3", "3 channels"])
def test_a_runtime_failure_is_our_coded_error(model_and_onnx, backend, shape):
    if backend == "openvino":
        pytest.importorskip("openvino", reason="the openvino extra is not installed")
    session = create_session(model_and_onnx[1], backend, threads=1)
    with pytest.raises(RuntimeFailure) as info:
        session.run({"x": np.zeros(shape, dtype=np.float32)})  # the model takes (batch, 1, 12, 12)
    assert info.value.code == ErrorCode.BACKEND_FAILURE and info.value.value == {"x": shape}
