"""Edge bundles: manifest and hashes, refusal of tampered files, and a PyTorch-free runtime."""

import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from deepseek_apps import QualityInspector
from deepseek_apps.core.runtime.bundle import read_bundle, write_bundle
from deepseek_apps.core.runtime.edge import EdgeRuntime
from deepseek_apps.errors import ErrorCode, InvalidInputError, ModelFormatError


def test_manifest_records_what_a_deployer_needs(fp32_bundle):
    manifest = read_bundle(fp32_bundle).manifest
    for key in ("application", "version", "class_names", "preprocessing", "input_spec", "metrics", "files"):
        assert key in manifest
    assert manifest["application"] == "inspector" and manifest["precision"] == "fp32"
    assert set(manifest["files"]) == {"model.onnx", "MODEL_CARD.md"}
    assert all(len(f["sha256"]) == 64 for f in manifest["files"].values())
    assert manifest["export"]["max_abs_diff"] <= manifest["export"]["tolerance"]


def test_tampered_bundle_is_refused(tmp_path, fp32_bundle):
    folder = tmp_path / "bundle"
    with zipfile.ZipFile(fp32_bundle) as zf:
        zf.extractall(folder)
    onnx_path = folder / "model.onnx"
    data = bytearray(onnx_path.read_bytes())
    data[-100] ^= 0xFF
    onnx_path.write_bytes(bytes(data))
    with pytest.raises(ModelFormatError) as info:
        EdgeRuntime(folder)
    assert info.value.code == ErrorCode.BUNDLE_HASH_MISMATCH and "model.onnx" in str(info.value)


def test_bundle_without_manifest_or_with_missing_file_is_refused(tmp_path):
    write_bundle(
        tmp_path / "b",
        {"application": "x", "version": "0", "class_names": [], "preprocessing": {}, "input_spec": {}, "metrics": {}},
        {"model.onnx": b"abc"},
    )
    (tmp_path / "b" / "model.onnx").unlink()
    with pytest.raises(ModelFormatError) as info:
        read_bundle(tmp_path / "b")
    assert info.value.code == ErrorCode.BUNDLE_INVALID
    (tmp_path / "c.zip").write_bytes(b"not a zip")
    with pytest.raises(ModelFormatError):
        read_bundle(tmp_path / "c.zip")


def test_edge_runtime_matches_pytorch(fp32_bundle, default_torch_path, sample_images):
    edge = EdgeRuntime(fp32_bundle, score_threshold=0.3).predict(sample_images)
    torch_results = QualityInspector(model_path=default_torch_path, confidence_threshold=0.3).predict(sample_images)
    for e, t in zip(edge, torch_results):
        assert e.labels == [d.label for d in t.defects]
        assert np.allclose(e.boxes, np.array([d.box for d in t.defects]).reshape(-1, 4), atol=0.05)
        assert np.allclose(e.scores, [d.score for d in t.defects], atol=1e-4)


def test_edge_runtime_on_openvino_matches_onnxruntime(fp32_bundle, sample_images):
    pytest.importorskip("openvino", reason="the openvino extra is not installed")
    ort = EdgeRuntime(fp32_bundle, score_threshold=0.3).predict(sample_images)
    ov = EdgeRuntime(fp32_bundle, score_threshold=0.3, backend="openvino").predict(sample_images)
    assert sum(len(e.labels) for e in ort) > 0
    for a, b in zip(ort, ov):
        assert a.labels == b.labels
        assert np.allclose(a.boxes, b.boxes, atol=0.05) and np.allclose(a.scores, b.scores, atol=1e-3)
    inspector = QualityInspector(backend="openvino")  # the embedded INT8 default, on OpenVINO
    results = inspector.predict(sample_images)
    assert inspector.model_.metadata["backend"] == "openvino" and len(results) == len(sample_images)


def test_unknown_or_misplaced_backend_is_a_clear_error(fp32_bundle, default_torch_path, sample_images):
    with pytest.raises(InvalidInputError) as info:
        EdgeRuntime(fp32_bundle, backend="tensorrt")
    assert info.value.code == ErrorCode.INVALID_ARGUMENT and "tensorrt" in str(info.value)
    with pytest.raises(InvalidInputError) as info:  # OpenVINO runs bundles, not PyTorch folders
        QualityInspector(model_path=default_torch_path, backend="openvino").predict(sample_images[:1])
    assert "export a bundle" in info.value.hint


EDGE_SCRIPT = """
import importlib.abc, json, sys
class BlockTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch.") or name.startswith("torchvision"):
            raise ImportError("torch is blocked on the edge path")
sys.meta_path.insert(0, BlockTorch())
from PIL import Image
from deepseek_apps.core.runtime.edge import EdgeRuntime
rt = EdgeRuntime(sys.argv[1])
out = rt.predict([Image.open(p) for p in sys.argv[2:]])
print(json.dumps({"n": len(out), "torch_loaded": "torch" in sys.modules,
                  "defects": [len(o.labels) for o in out]}))
"""


def test_edge_path_never_imports_torch(tmp_path, fp32_bundle, sample_images):
    paths = []
    for i, im in enumerate(sample_images[:3]):
        paths.append(tmp_path / f"{i}.png")
        im.save(paths[-1])
    proc = subprocess.run(
        [sys.executable, "-c", EDGE_SCRIPT, str(fp32_bundle), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["n"] == 3 and result["torch_loaded"] is False
