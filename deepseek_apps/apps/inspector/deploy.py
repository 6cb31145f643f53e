"""Loading, saving and evaluating inspector models (PyTorch folders and edge bundles)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...errors import ErrorCode, InvalidInputError, MissingResourceError, ModelFormatError
from .backend import DetectorBackend, bundle_backend, torch_backend
from .metrics import DetectionMetrics

WEIGHT_FILES = ("model.safetensors", "best.safetensors", "last.safetensors")


def is_bundle(path: Path) -> bool:
    return path.suffix == ".zip" or (path / "manifest.json").exists()


def load_model(path: Path, device: str = "cpu", threads: int = 2, backend: str = "onnxruntime") -> DetectorBackend:
    """Load a bundle (folder or .zip with manifest.json) or a PyTorch model/training folder.

    ``backend`` (``onnxruntime`` or ``openvino``) runs bundles; PyTorch folders run in PyTorch.
    """
    if not path.exists():
        raise MissingResourceError(
            ErrorCode.FILE_NOT_FOUND,
            "model not found",
            value=str(path),
            hint="pass a training --out folder, a saved model folder or a bundle",
        )
    if is_bundle(path):
        return bundle_backend(path, threads, backend)
    if backend != "onnxruntime":
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            f"backend '{backend}' runs edge bundles; this is a PyTorch model folder",
            value=str(path),
            hint="export a bundle first (QualityInspector.export / deepseek-apps inspector export), or drop backend",
        )
    weights = next((path / n for n in WEIGHT_FILES if (path / n).exists()), None)
    if weights is None or not (path / "config.json").exists():
        raise ModelFormatError(
            ErrorCode.CHECKPOINT_INVALID,
            "folder holds no model",
            value=str(path),
            hint="expected manifest.json (bundle) or config.json + model.safetensors",
        )
    from ...core.runtime.bundle import load_safetensors_bytes
    from .model import DetectorConfig, build_detector

    meta = json.loads((path / "config.json").read_text())
    cfg = DetectorConfig.from_dict(meta["detector"])
    model = build_detector(cfg)
    try:
        model.load_state_dict(load_safetensors_bytes(weights.read_bytes(), name=weights.name, framework="torch"))
    except RuntimeError as exc:
        raise ModelFormatError(
            ErrorCode.CHECKPOINT_INVALID,
            f"weights do not fit the config ({exc})"[:400],
            value=str(weights),
            hint="use the config.json written with these weights",
        ) from exc
    return torch_backend(model.eval(), cfg, meta["class_names"], meta, device, threads)


def save_model(loaded: DetectorBackend, out: Path) -> Path:
    """Write ``loaded`` as a folder: PyTorch weights (``model.safetensors`` + ``config.json``) or a bundle folder."""
    if not loaded.is_torch:
        from ...core.runtime.bundle import read_bundle, write_bundle

        bundle = read_bundle(loaded.metadata["bundle"])
        manifest = {k: v for k, v in bundle.manifest.items() if k not in ("format", "format_version", "files")}
        return write_bundle(out, manifest, dict(bundle.files))
    from safetensors.torch import save

    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in loaded.metadata["torch_module"].state_dict().items()}
    (out / "model.safetensors").write_bytes(save(state))  # save_file would write mode 0600
    meta = {k: v for k, v in loaded.metadata.items() if k not in ("torch_module", "detector_config", "graph")}
    meta["detector"] = loaded.metadata["detector_config"].to_dict()
    meta["class_names"] = list(loaded.class_names)
    (out / "config.json").write_text(json.dumps(meta, indent=2, default=float))
    return out


def split_dataset(data: Any, format: str, class_names: Sequence[str], split: str, metadata: dict):
    """Load ``data`` and keep the model's recorded ``val``/``test`` split, or everything."""
    from ...datasets import DetectionDataset, load_dataset

    dataset = data if isinstance(data, DetectionDataset) else load_dataset(data, format, class_names)
    if split == "all":
        return dataset
    names = set(metadata.get("split", {}).get(f"{split}_names", []))
    if split not in ("val", "test") or not names:
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            f"split '{split}' is not recorded with this model",
            value=split,
            hint="use --split all, or a model trained by this package",
        )
    kept = [s for s in dataset.samples if s.name in names]
    if not kept:
        raise InvalidInputError(
            ErrorCode.DATASET_EMPTY,
            f"none of the {len(names)} images of the model's recorded {split} split are in this dataset",
            value=str(data),
            hint="pass the dataset the model was trained on, or use --split all",
        )
    return DetectionDataset(kept, dataset.class_names)


def evaluate_model(
    loaded: DetectorBackend, data: Any, format: str = "voc", split: str = "all", tiling: Any = "model"
) -> DetectionMetrics:
    """mAP@0.5 of ``loaded`` on ``data`` (a folder in ``format`` or a ``DetectionDataset``).

    ``tiling``: a ``Tiling``, ``None`` (whole images), or ``"model"`` (the model's own): tiled
    models are measured on whole images through the tiled path, in image pixels.
    """
    from .backend import model_tiling
    from .model import DetectorConfig
    from .train import evaluate_items, evaluate_tiled, prepare

    dataset = split_dataset(data, format, loaded.class_names, split, loaded.metadata)
    tiling = model_tiling(loaded.metadata) if tiling == "model" else tiling
    if tiling is not None:
        truth = ((s.load(), s.boxes, s.labels) for s in dataset.samples)  # one image in memory at a time
        size, channels = loaded.input_size, loaded.channels
        return evaluate_tiled(loaded.forward, truth, size, channels, tiling, loaded.class_names, split)
    cfg = DetectorConfig(input_size=loaded.input_size, in_channels=loaded.channels)
    return evaluate_items(loaded.forward, prepare(dataset, cfg), loaded.class_names, split)
