"""Loading, saving, evaluating and exporting inspector models (PyTorch folders and edge bundles)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ErrorCode, InvalidInputError, MissingResourceError, ModelFormatError

INPUT_NAME, OUTPUT_NAMES = "pixels", ("boxes", "scores", "labels")


def torch_model(model, cfg, class_names, meta: dict, device: str = "cpu", threads: int = 2):
    """Wrap a trained ``FCOS`` as a ``LoadedModel`` (PyTorch backend)."""
    import torch

    from .app import LoadedModel
    from .model import InspectorGraph

    torch.set_num_threads(threads)
    graph = InspectorGraph(model, cfg).eval().to(device)

    def forward(pixels: np.ndarray):
        with torch.no_grad():
            b, s, lab = graph(torch.from_numpy(pixels).to(device))
        return b.cpu().numpy(), s.cpu().numpy(), lab.cpu().numpy()

    metadata = {**meta, "torch_module": model, "detector_config": cfg, "graph": graph, "backend": "torch"}
    return LoadedModel(forward, tuple(class_names), cfg.input_size, cfg.in_channels, metadata)


def bundle_model(path: Path, threads: int = 2, backend: str = "onnxruntime"):
    """Open an edge bundle as a ``LoadedModel`` (ONNX Runtime or OpenVINO)."""
    from ...core.runtime.edge import EdgeRuntime
    from .app import LoadedModel

    runtime = EdgeRuntime(path, threads=threads, backend=backend)
    manifest = runtime.bundle.manifest
    if manifest["application"] != "inspector":
        raise ModelFormatError(
            ErrorCode.UNSUPPORTED_FORMAT,
            f"bundle is for '{manifest['application']}'",
            value=str(path),
            hint="load it with the matching application",
        )

    def forward(pixels: np.ndarray):
        return tuple(runtime.forward(pixels))

    metadata = {**manifest, "backend": backend, "bundle": str(path)}
    return LoadedModel(forward, tuple(runtime.class_names), runtime.size, runtime.channels, metadata)


def load_model(path: Path, device: str = "cpu", threads: int = 2, backend: str = "onnxruntime"):
    """Load a bundle (folder or .zip with manifest.json) or a PyTorch model/training folder.

    ``backend`` (``onnxruntime`` or ``openvino``) runs bundles; PyTorch folders run in PyTorch.
    """
    from .app import DEFAULT_BUNDLE

    if path == DEFAULT_BUNDLE and not path.exists():
        raise MissingResourceError(
            ErrorCode.DEFAULT_MODEL_MISSING,
            "the embedded default model is missing",
            value=str(path),
            hint="reinstall deepseek-apps or pass model_path=",
        )
    if not path.exists():
        raise MissingResourceError(
            ErrorCode.FILE_NOT_FOUND,
            "model not found",
            value=str(path),
            hint="pass a training --out folder, a saved model folder or a bundle",
        )
    if path.suffix == ".zip" or (path / "manifest.json").exists():
        return bundle_model(path, threads, backend)
    if backend != "onnxruntime":
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            f"backend '{backend}' runs edge bundles; this is a PyTorch model folder",
            value=str(path),
            hint="export a bundle first (QualityInspector.export / deepseek-apps inspector export), or drop backend",
        )
    weights = next(
        (path / n for n in ("model.safetensors", "best.safetensors", "last.safetensors") if (path / n).exists()), None
    )
    if weights is None or not (path / "config.json").exists():
        raise ModelFormatError(
            ErrorCode.CHECKPOINT_INVALID,
            "folder holds no model",
            value=str(path),
            hint="expected manifest.json (bundle) or config.json + model.safetensors",
        )
    from safetensors.torch import load_file

    from .model import DetectorConfig, build_detector

    meta = json.loads((path / "config.json").read_text())
    cfg = DetectorConfig.from_dict(meta["detector"])
    model = build_detector(cfg)
    try:
        model.load_state_dict(load_file(str(weights)))
    except RuntimeError as exc:
        raise ModelFormatError(
            ErrorCode.CHECKPOINT_INVALID,
            f"weights do not fit the config ({exc})"[:400],
            value=str(weights),
            hint="use the config.json written with these weights",
        ) from exc
    return torch_model(model.eval(), cfg, meta["class_names"], meta, device, threads)


def save_model(loaded, out: Path) -> Path:
    from safetensors.torch import save_file

    if "torch_module" not in loaded.metadata:
        raise ModelFormatError(
            ErrorCode.UNSUPPORTED_FORMAT,
            "only PyTorch models can be saved as weights",
            value=loaded.metadata.get("bundle"),
            hint="a bundle is already a saved model",
        )
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in loaded.metadata["torch_module"].state_dict().items()}
    save_file(state, str(out / "model.safetensors"))
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


def evaluate_model(loaded, data: Any, format: str = "voc", split: str = "all") -> dict:
    from .model import DetectorConfig
    from .train import evaluate_items, prepare

    dataset = split_dataset(data, format, loaded.class_names, split, loaded.metadata)
    cfg = DetectorConfig(input_size=loaded.input_size, in_channels=loaded.channels)
    items = prepare(dataset, cfg)
    return {**evaluate_items(loaded.forward, items, loaded.class_names), "split": split}
