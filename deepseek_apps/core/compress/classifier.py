"""Torchvision image classifiers through the same pipeline: build, train, and describe for ``optimize``.

The exported graph carries its own pre-processing: it takes ``(N, 3, S, S)`` float pixels
in 0..255 and returns class probabilities, so every backend shares one resize (Pillow).

Example:
    >>> from deepseek_apps.core.compress.classifier import build_classifier
    >>> model = build_classifier("resnet18", num_classes=6)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...errors import ErrorCode, InvalidInputError
from ..runtime.preprocess import to_model_input
from .pipeline import OptimizeTarget

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def build_classifier(arch: str, num_classes: int) -> nn.Module:
    """A torchvision classification architecture with random weights (nothing is downloaded)."""
    import torchvision

    if arch not in torchvision.models.list_models(module=torchvision.models):
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            f"unknown torchvision classifier '{arch}'",
            value=arch,
            hint="e.g. resnet18, resnet50, mobilenet_v3_small, efficientnet_b0",
        )
    return torchvision.models.get_model(arch, weights=None, num_classes=num_classes)


class ClassifierGraph(nn.Module):
    """``pixels (N, 3, S, S) float 0..255 -> probabilities (N, classes)``."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255)

    def forward(self, pixels: torch.Tensor, return_logits: bool = False) -> torch.Tensor:
        logits = self.model((pixels - self.mean) / self.std)
        return logits if return_logits else torch.softmax(logits, dim=1)


def prepare_pixels(data, size: int) -> np.ndarray:
    """All images of a ``ClassificationDataset`` as uint8 ``(N, 3, S, S)``."""
    return np.stack([to_model_input(data.load(i), size, 3) for i in range(len(data))])


def _collate(items, rng: np.random.Generator):
    xs, ys = zip(*items)
    x = torch.from_numpy(np.stack(xs)).float()
    flips = torch.from_numpy(rng.random((len(xs), 3)) < 0.5)
    x = torch.where(flips[:, 0, None, None, None], x.flip(-1), x)
    x = torch.where(flips[:, 1, None, None, None], x.flip(-2), x)
    return x, torch.tensor(ys)


def accuracy(forward, pixels: np.ndarray, labels: np.ndarray, batch: int = 64) -> float:
    """Top-1 accuracy in percent of ``forward(float32 batch) -> probabilities``."""
    preds = [
        np.asarray(forward(pixels[i : i + batch].astype(np.float32))).argmax(1) for i in range(0, len(pixels), batch)
    ]
    return 100.0 * float(np.mean(np.concatenate(preds) == labels))


def train_classifier(
    graph: ClassifierGraph,
    pixels: np.ndarray,
    labels: np.ndarray,
    val_pixels: np.ndarray,
    val_labels: np.ndarray,
    train_config,
) -> dict:
    """Train ``graph.model`` with cross-entropy and flips; keeps the best validation accuracy."""
    from safetensors.torch import load_file

    from ..train import Trainer

    def loss_fn(net, batch):
        x, y = batch
        return nn.functional.cross_entropy(net(x, return_logits=True), y)

    def evaluate(m):
        return {"accuracy": accuracy(lambda x: m(torch.from_numpy(x)).numpy(), val_pixels, val_labels)}

    cfg = train_config
    cfg.monitor = "accuracy"
    result = Trainer(cfg).fit(graph, list(zip(pixels, labels.tolist())), _collate, loss_fn, evaluate)
    graph.load_state_dict(load_file(str(Path(cfg.out_dir) / "best.safetensors")))
    return result.to_dict()


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
    from ..runtime.session import OrtSession

    def evaluate(path: Path) -> float:
        session = OrtSession(path, threads=2)
        return accuracy(lambda x: session.run({"pixels": x})[0], val_pixels, val_labels)

    def finetune(student: nn.Module, teacher: nn.Module) -> None:
        _distill_finetune(student, teacher, train_pixels, train_labels, finetune_epochs)

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


class _ShuffledBatches:
    """Re-iterable ``(pixels, labels)`` batches: a new order and new flips every epoch."""

    def __init__(self, pixels: np.ndarray, labels: np.ndarray, batch_size: int, seed: int = 0):
        self.pixels, self.labels, self.batch_size = pixels, labels, batch_size
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return -(-len(self.pixels) // self.batch_size)

    def __iter__(self):
        order = self.rng.permutation(len(self.pixels))
        for i in range(0, len(order), self.batch_size):
            pick = order[i : i + self.batch_size]
            yield _collate([(self.pixels[j], int(self.labels[j])) for j in pick], self.rng)


def _distill_finetune(
    student: nn.Module,
    teacher: nn.Module,
    pixels: np.ndarray,
    labels: np.ndarray,
    epochs: int,
    batch_size: int = 32,
    lr: float = 1e-3,
) -> None:
    """Hinton KD from the unpruned graph plus cross-entropy on the labels (``distill``), in place.

    AdamW with a cosine decay from ``lr``; the data is reshuffled and re-flipped every epoch.
    """
    from .distill import distill

    distill(
        teacher,
        student,
        _ShuffledBatches(pixels, labels, batch_size),
        epochs=epochs,
        temperature=4.0,
        alpha=0.7,
        lr=lr,
        outputs_fn=lambda model, x: model(x, return_logits=True),
        progress=True,
        lr_schedule="cosine",
    )
    student.eval()


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
    from ...datasets.classification import stratified_split
    from ...errors import MissingResourceError, ModelFormatError
    from ..runtime.bundle import write_bundle
    from .pipeline import optimize

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
