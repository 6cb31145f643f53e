"""Anomaly models on disk: a PyTorch folder (``save``) and an INT8 edge bundle (``export``).

Folder: ``config.json`` (``"task": "anomaly"``, settings, threshold, how it was fitted),
``embedder.safetensors`` (the backbone layers the embedder runs) and
``memory_bank.safetensors``. Bundle (``core.runtime.bundle``): ``model.onnx`` (the patch
embedder, pixels in, INT8 QDQ by default), ``memory_bank.safetensors`` as a tensor entry,
and a manifest with ``"task": "anomaly"``, the preprocessing, the threshold (set again from
held-out good images with the bundle's own embedder) and the INT8-vs-FP32 parity.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ....core.runtime.bundle import load_safetensors_bytes, read_bundle, write_bundle
from ....errors import ErrorCode, ModelFormatError, RuntimeFailure
from .config import AnomalyConfig
from .model import AnomalyModel, rebuilt_bank, threshold_for, torch_embed

TASK = "anomaly"
CONFIG_FILE = "config.json"
EMBEDDER_FILE = "embedder.safetensors"
BANK_FILE = "memory_bank.safetensors"
MODEL_FILE = "model.onnx"
INPUT_NAME, OUTPUT_NAME = "pixels", "embeddings"
MAX_PEEK_BYTES = 16 << 20


def is_anomaly_model(path: str | Path) -> bool:
    """Whether ``path`` is an anomaly folder or bundle (reads only its small JSON file)."""
    path = Path(path)
    try:
        if path.suffix == ".zip" and path.is_file():
            with zipfile.ZipFile(path) as zf:
                info = zf.getinfo("manifest.json")
                text = zf.read(info) if info.file_size <= MAX_PEEK_BYTES else b"{}"
        elif (path / "manifest.json").is_file():
            text = (path / "manifest.json").read_bytes()[:MAX_PEEK_BYTES]
        elif (path / CONFIG_FILE).is_file():
            text = (path / CONFIG_FILE).read_bytes()[:MAX_PEEK_BYTES]
        else:
            return False
        data = json.loads(text)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return False  # not ours to judge: the detector's loader reports what is wrong
    return isinstance(data, dict) and data.get("task") == TASK


def save_folder(model: AnomalyModel, out: Path) -> Path:
    """Write a PyTorch anomaly model as a folder that ``load_model`` opens."""
    from safetensors.numpy import save as save_numpy
    from safetensors.torch import save as save_torch

    from .features import used_state

    if model.embedder is None:
        raise ModelFormatError(
            ErrorCode.BUNDLE_INVALID,
            "this anomaly model came from a bundle; save() writes PyTorch folders",
            value=model.runtime,
            hint="copy the bundle itself, or fit again to get a PyTorch model",
        )
    out.mkdir(parents=True, exist_ok=True)
    weights = {k: v.contiguous() for k, v in used_state(model.embedder).items()}
    (out / EMBEDDER_FILE).write_bytes(save_torch(weights))  # save_file would write mode 0600
    tensors = {"bank": model.bank}
    if model.origin is not None:
        tensors["origin"] = model.origin.astype(np.int64)
    (out / BANK_FILE).write_bytes(save_numpy(tensors))
    meta = {
        "application": "inspector",
        "task": TASK,
        "anomaly_config": model.config.to_dict(),
        "threshold": model.threshold,
        "metadata": model.metadata,
    }
    (out / CONFIG_FILE).write_text(json.dumps(meta, indent=2, default=float))
    return out


def load_model(path: Path, threads: int = 2) -> AnomalyModel:
    """Open an anomaly folder (PyTorch) or bundle (ONNX Runtime)."""
    if path.suffix == ".zip" or (path / "manifest.json").is_file():
        return _load_bundle(path, threads)
    return _load_folder(path)


def _load_folder(path: Path) -> AnomalyModel:
    from safetensors.torch import load_file

    from .features import build_embedder

    meta = json.loads((path / CONFIG_FILE).read_text())
    config = AnomalyConfig.from_dict(meta["anomaly_config"])
    embedder = build_embedder(config, pretrained=False)
    state = load_file(str(path / EMBEDDER_FILE))
    missing, unexpected = embedder.load_state_dict(state, strict=False)
    skipped = [k for k in missing if k.split(".")[1] in ("_conv_head", "_bn1", "_fc", "_blocks")]
    if unexpected or len(skipped) != len(missing) or not state:
        raise ModelFormatError(
            ErrorCode.CHECKPOINT_INVALID,
            "embedder.safetensors does not match the anomaly model's backbone",
            value=str(path),
            hint="use the embedder.safetensors written together with this config.json",
        )
    bank = load_safetensors_bytes((path / BANK_FILE).read_bytes(), name=BANK_FILE, extra="inspector")["bank"]
    embedder.eval()
    return AnomalyModel(
        config, bank, float(meta["threshold"]), torch_embed(embedder), embedder, "torch", meta["metadata"]
    )


def _load_bundle(path: Path, threads: int) -> AnomalyModel:
    from ....core.runtime.session import OrtSession

    bundle = read_bundle(path)
    manifest = bundle.manifest
    section = manifest.get("anomaly")
    if manifest.get("task") != TASK or not isinstance(section, dict) or BANK_FILE not in bundle.files:
        raise ModelFormatError(
            ErrorCode.BUNDLE_INVALID,
            "not an anomaly bundle (task, anomaly section or memory bank missing)",
            value=str(path),
            hint="re-create it with QualityInspector(task='anomaly').export(...)",
        )
    config = AnomalyConfig.from_dict(section["config"])
    bank = load_safetensors_bytes(bundle.files[BANK_FILE], name=BANK_FILE, extra="inspector")["bank"]
    session = OrtSession(bundle.model_bytes, threads=threads)

    def embed(pixels: np.ndarray) -> np.ndarray:
        return np.concatenate([session.run({INPUT_NAME: pixels[i : i + 8]})[0] for i in range(0, len(pixels), 8)])

    runtime = f"onnxruntime-{section.get('precision', 'int8')}"
    meta = dict(section.get("metadata", {}))
    return AnomalyModel(config, bank, float(section["threshold"]), embed, None, runtime, meta)


def _calibration(model: AnomalyModel, calib: Any, limit: int) -> list[Any]:
    if calib is not None:
        from .data import good_images

        items, _ = good_images(calib)
    else:
        items = model.metadata.get("sources", []) + model.metadata.get("holdout_sources", [])
    if not items:
        raise ModelFormatError(
            ErrorCode.BUNDLE_INVALID,
            "INT8 export needs calibration images and this model was fitted on in-memory images",
            value=None,
            hint="pass calib= (a folder or list of good images), or int8=False",
        )
    step = max(1, len(items) // limit)
    return list(items)[::step][:limit]


def export_bundle(
    model: AnomalyModel,
    out: Path,
    int8: bool = True,
    calib: Any = None,
    calib_images: int = 32,
    min_correlation: float = 0.9,
    eval_data: Any = None,
    eval_split: str = "val",
) -> tuple[Path, dict]:
    """Write an edge bundle; returns its path and the parity report (INT8 vs FP32 image scores).

    The threshold is set again from the held-out good images scored by the bundle's own
    embedder; ``eval_data`` (labelled images) records the bundle's own metrics in the manifest.
    """
    import torch

    from ....core.compress.quantize import quantize_static_onnx
    from ....core.runtime.export import export_onnx
    from ....core.runtime.session import OrtSession
    from .model import _pixels

    if model.embedder is None:
        raise ModelFormatError(
            ErrorCode.BUNDLE_INVALID,
            "export needs the PyTorch anomaly model",
            value=model.runtime,
            hint="open the folder written by save(), or fit again",
        )
    pixels = _pixels(_calibration(model, calib, calib_images), model.size)
    holdout = model.metadata.get("holdout_sources", [])
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        example = torch.from_numpy(pixels[:1])
        export_onnx(model.embedder, (example,), fp32, [INPUT_NAME], [OUTPUT_NAME], tolerance=1e-2)
        model_file = fp32
        if int8:
            batches = ({INPUT_NAME: pixels[i : i + 8]} for i in range(0, len(pixels), 8))
            model_file = quantize_static_onnx(fp32, Path(tmp) / "int8.onnx", batches)
        onnx_bytes = model_file.read_bytes()
    session = OrtSession(onnx_bytes)

    def embed(p: np.ndarray) -> np.ndarray:
        return session.run({INPUT_NAME: p})[0]

    bank = rebuilt_bank(model, embed) if int8 else None  # INT8 bank rows: same patches, same embedder as queries
    exported = AnomalyModel(model.config, model.bank if bank is None else bank, model.threshold, embed)
    check = _pixels(holdout, model.size) if holdout else pixels
    reference = np.concatenate([model.score_maps(check[i : i + 8])[1] for i in range(0, len(check), 8)])
    got = np.concatenate([exported.score_maps(check[i : i + 8])[1] for i in range(0, len(check), 8)])
    parity = _parity(reference, got, min_correlation)
    threshold = threshold_for(got, model.config.target_frr) if holdout else model.threshold
    parity["threshold_fp32"], parity["threshold"] = model.threshold, threshold
    metrics = {}
    if eval_data is not None:
        from .evaluate import evaluate_anomaly

        exported.threshold = threshold
        metrics = evaluate_anomaly(exported, eval_data, eval_split).to_dict()
        metrics["split"] = eval_split
    manifest = _manifest(model, threshold, "int8" if int8 else "fp32", parity, metrics)
    manifest["anomaly"]["bank_reembedded"] = bank is not None
    files = {MODEL_FILE: onnx_bytes, BANK_FILE: _bank_bytes(exported.bank)}
    return write_bundle(out, manifest, files), parity


def _parity(reference: np.ndarray, got: np.ndarray, min_correlation: float, max_relative: float = 0.1) -> dict:
    correlation = float(np.corrcoef(reference, got)[0, 1]) if len(reference) > 1 and reference.std() > 0 else 1.0
    relative = float(np.mean(np.abs(got - reference) / np.maximum(np.abs(reference), 1e-6)))
    report = {"images": len(reference), "score_correlation": correlation, "mean_relative_difference": relative}
    # good images score alike, so their correlation alone says little: a small relative difference also passes
    if not (correlation >= min_correlation or relative <= max_relative):
        raise RuntimeFailure(
            ErrorCode.ANOMALY_PARITY,
            f"INT8 anomaly scores follow the FP32 ones poorly (correlation {correlation:.3f}, "
            f"mean relative difference {relative:.3f})",
            value=report,
            hint="export with int8=False, or pass more typical good images as calib=",
        )
    return report


def _bank_bytes(bank: np.ndarray) -> bytes:
    from safetensors.numpy import save

    return save({"bank": np.ascontiguousarray(bank, dtype=np.float32)})


def _manifest(model: AnomalyModel, threshold: float, precision: str, parity: dict, metrics: dict) -> dict:
    height, width = model.size
    stride = model.config.patch_stride
    meta = {k: v for k, v in model.metadata.items() if k not in ("sources", "holdout_sources")}
    return {
        "application": "inspector",
        "version": "1",
        "task": TASK,
        "class_names": ["anomaly"],
        "preprocessing": {
            "height": height,
            "width": width,
            "channels": 3,
            "pixel_range": [0, 255],
            "resize": "bilinear, to height x width (aspect kept by the fitted size)",
            "normalisation": "inside the graph: (pixel - 127) / 128",
        },
        "input_spec": {"name": INPUT_NAME, "shape": ["batch", 3, height, width], "dtype": "float32"},
        "output_spec": {"name": OUTPUT_NAME, "shape": ["batch", "dim", height // stride, width // stride]},
        "metrics": metrics,
        "model_file": MODEL_FILE,
        "anomaly": {
            "config": model.config.to_dict(),
            "threshold": threshold,
            "precision": precision,
            "memory_bank": BANK_FILE,
            "bank_rows": int(model.bank.shape[0]),
            "parity": parity,
            "metadata": meta,
        },
    }
