"""A classifier described for ``core.compress.optimize``, and the ``optimize classifier`` entry point."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...core.compress.pipeline import OptimizeTarget
from ...errors import ErrorCode
from .model import IMAGENET_MEAN, IMAGENET_STD, ClassifierGraph, accuracy, build_classifier, prepare_pixels
from .train import distill_finetune


def classifier_target(
    graph: ClassifierGraph,
    train_pixels: np.ndarray,
    train_labels: np.ndarray,
    val_pixels: np.ndarray,
    val_labels: np.ndarray,
    finetune_epochs: int = 10,
    calib_images: int = 128,
    ignored: Sequence[nn.Module] | None = None,
) -> OptimizeTarget:
    """Metric: top-1 accuracy (%) on the validation pixels; fine-tuning distils from the unpruned model."""
    from ...core.runtime.session import OrtSession

    def evaluate(path: Path) -> float:
        session = OrtSession(path, threads=2)
        return accuracy(lambda x: session.run({"pixels": x})[0], val_pixels, val_labels)

    def finetune(student: nn.Module, teacher: nn.Module) -> None:
        distill_finetune(student, teacher, train_pixels, train_labels, finetune_epochs)

    pick = np.random.default_rng(0).permutation(len(train_pixels))[:calib_images]
    calib = train_pixels[pick].astype(np.float32)
    last = [m for m in graph.model.modules() if isinstance(m, nn.Linear)][-1:]
    return OptimizeTarget(
        module=graph.eval(),
        example_inputs=(torch.from_numpy(calib[:2]),),
        input_names=["pixels"],
        output_names=["probabilities"],
        calibration=[{"pixels": calib[i : i + 16]} for i in range(0, len(calib), 16)],
        evaluate=evaluate,
        metric_name="accuracy %",
        ignored_layers=list(ignored) if ignored is not None else last,
        finetune=finetune,
        finetune_description=(
            f"{finetune_epochs} epochs of distillation from the unpruned model (KD T=4, alpha 0.7, AdamW 1e-3 cosine)"
        ),
    )


def optimize_classifier(
    arch: str,
    weights: str | Path,
    data,
    out: str | Path,
    level: int = 2,
    input_size: int = 224,
    max_accuracy_drop: float = 1.0,
    finetune_epochs: int = 20,
    seed: int = 0,
    prune_ratios: Sequence[float] = (0.5, 0.35, 0.2),
    qat: bool | None = None,
):
    """Optimise a torchvision classifier given as architecture name + safetensors weights.

    ``data`` is a ``ClassificationDataset``; a seeded, stratified 15% is held out for the
    metric and the rest is used for calibration and fine-tuning. Writes a bundle (manifest +
    ``model.onnx``) and returns ``(path, report)``.
    """
    from datetime import UTC, datetime

    from safetensors.torch import load_file

    from ... import __version__
    from ...core.compress.pipeline import optimize
    from ...core.runtime.bundle import write_bundle
    from ...datasets.classification import stratified_split
    from ...errors import MissingResourceError, ModelFormatError

    if not Path(weights).is_file():
        raise MissingResourceError(
            ErrorCode.FILE_NOT_FOUND,
            "weights file not found",
            value=str(weights),
            hint="pass a .safetensors file saved from the same architecture",
        )
    model = build_classifier(arch, len(data.class_names))
    state = load_file(str(weights))
    state = {k.removeprefix("model."): v for k, v in state.items()}  # a ClassifierGraph's state works too
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or [k for k in unexpected if k not in ("mean", "std")]:
        raise ModelFormatError(
            ErrorCode.CHECKPOINT_INVALID,
            f"weights do not fit {arch}",
            value=f"missing {missing[:3]}, unexpected {unexpected[:3]}",
            hint="check --arch and the number of classes in the data",
        )
    graph = ClassifierGraph(model).eval()
    train_idx, val_idx = stratified_split(data.labels, 0.15, seed)
    pixels = prepare_pixels(data, input_size)
    target = classifier_target(
        graph,
        pixels[train_idx],
        data.labels[train_idx],
        pixels[val_idx],
        data.labels[val_idx],
        finetune_epochs=finetune_epochs,
    )
    onnx_bytes, report = optimize(
        target, level=level, max_accuracy_drop=max_accuracy_drop, prune_ratios=prune_ratios, qat=qat
    )
    manifest = {
        "application": "classifier",
        "task": "classification",
        "version": __version__,
        "model_name": f"{arch}-level{level}",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "precision": "int8" if level >= 2 else "fp32",
        "class_names": list(data.class_names),
        "preprocessing": {
            "size": input_size,
            "channels": 3,
            "resize": "pillow-bilinear",
            "pixel_range": [0, 255],
            "layout": "NCHW",
            "mean": list(IMAGENET_MEAN),
            "std": list(IMAGENET_STD),
        },
        "input_spec": {"name": "pixels", "shape": ["batch", 3, input_size, input_size], "dtype": "float32"},
        "metrics": {"val_accuracy": report.result.metric, "optimize_report": report.to_dict()},
    }
    return write_bundle(out, manifest, {"model.onnx": onnx_bytes}), report
