"""Edge bundles: manifest and hashes, refusal of tampered files, and a PyTorch-free runtime."""

import base64
import hashlib
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from deepseek_apps import QualityInspector
from deepseek_apps.core.runtime.bundle import read_bundle, write_bundle
from deepseek_apps.core.runtime.edge import EdgeRuntime
from deepseek_apps.core.runtime.signing import new_signing_keys
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
import importlib.abc, json, os, sys
class BlockTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch.") or name.startswith("torchvision"):
            raise ImportError("torch is blocked on the edge path")
sys.meta_path.insert(0, BlockTorch())
from PIL import Image
from deepseek_apps.core.runtime.edge import EdgeRuntime
from deepseek_apps.core.runtime.signing import new_signing_keys
trusted = [os.environ["EDGE_TRUSTED"]] if os.environ.get("EDGE_TRUSTED") else None
rt = EdgeRuntime(sys.argv[1], trusted_keys=trusted)  # an encrypted bundle's key: $DEEPSEEK_APPS_BUNDLE_KEY
out = rt.predict([Image.open(p) for p in sys.argv[2:]])
print(json.dumps({"n": len(out), "torch_loaded": "torch" in sys.modules,
                  "defects": [len(o.labels) for o in out], "signed_by": rt.bundle.signed_by}))
"""


def _run_edge(bundle, images, tmp_path, env=None) -> dict:
    paths = []
    for i, im in enumerate(images):
        paths.append(tmp_path / f"{i}.png")
        im.save(paths[-1])
    proc = subprocess.run(
        [sys.executable, "-c", EDGE_SCRIPT, str(bundle), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_edge_path_never_imports_torch(tmp_path, fp32_bundle, sample_images):
    result = _run_edge(fp32_bundle, sample_images[:3], tmp_path)
    assert result["n"] == 3 and result["torch_loaded"] is False


def test_signed_encrypted_bundle_runs_on_the_edge_without_torch(tmp_path, fp32_bundle, sample_images):
    private, public = new_signing_keys(tmp_path / "keys")
    key = base64.b64encode(os.urandom(32)).decode()
    plain = read_bundle(fp32_bundle)
    secure = write_bundle(tmp_path / "s.zip", plain.manifest, plain.files, signing_key=private, encryption_key=key)
    env = {"EDGE_TRUSTED": str(public), "DEEPSEEK_APPS_BUNDLE_KEY": key}
    result = _run_edge(secure, sample_images[:2], tmp_path, env)
    assert result["torch_loaded"] is False and result["signed_by"] is not None
    assert result["defects"] == _run_edge(fp32_bundle, sample_images[:2], tmp_path)["defects"]


def test_written_bundles_hash_their_manifest(tmp_path):
    manifest = {"application": "x", "version": "0", "class_names": [], "preprocessing": {}, "input_spec": {}}
    path = write_bundle(tmp_path / "b.zip", manifest | {"metrics": {}}, {"model.onnx": b"abc"})
    with zipfile.ZipFile(path) as zf:
        text, line = zf.read("manifest.json"), zf.read("manifest.sha256").decode()
    assert line.split()[0] == hashlib.sha256(text).hexdigest() and json.loads(text)["format_version"] == 2
    assert read_bundle(path).manifest["files"]["model.onnx"]["bytes"] == 3
