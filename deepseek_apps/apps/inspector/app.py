"""``QualityInspector``: images in, defects (class, box, confidence) and an OK/NG verdict out."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ...core.runtime.postprocess import select_detections
from ...core.runtime.preprocess import scale_boxes_back, to_model_input
from ...errors import DeepSeekAppsError, ErrorCode, InvalidInputError, ModelFormatError
from .images import describe, to_pil
from .results import Defect, Inspection

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "inspector"
DEFAULT_BUNDLE = ASSETS / "neu_det_int8.zip"  # what QualityInspector() runs (ONNX Runtime, INT8)
DEFAULT_TORCH = ASSETS / "neu_det"  # the same model's PyTorch weights (fp16 safetensors), for export/fine-tune


@dataclass
class LoadedModel:
    """What ``predict`` needs from any backend."""

    forward: Any  # (pixels float32 NCHW) -> (boxes, scores, labels)
    class_names: tuple[str, ...]
    input_size: int
    channels: int
    metadata: dict


class QualityInspector:
    """Visual defect inspection for industrial surfaces.

    Args:
        model_path: a training output folder, a model folder saved by ``save``, or an edge
            bundle (folder or ``.zip``). ``None`` loads the embedded NEU-DET default.
        confidence_threshold: defects scoring below this are dropped.
        iou_threshold: class-wise NMS overlap threshold.
        batch_size: images per forward pass in ``predict``.
        device: ``"cpu"`` (or ``"cuda"`` for PyTorch models when available).
        threads: intra-op threads of the backend (default 2).
        backend: what runs a bundle (the embedded default is one): ``"onnxruntime"`` or
            ``"openvino"`` (the ``openvino`` extra; on CPUs with AMX it runs INT8 models
            faster, see the README's compression tables).
        detector_config: architecture used by ``fit`` (``DetectorConfig``).
        train_config: optimisation settings used by ``fit`` (``TrainConfig``).

    Example:
        >>> from deepseek_apps import QualityInspector
        >>> from deepseek_apps.datasets.synthetic import generate_samples
        >>> images = [s.image for s in generate_samples(2, seed=1)]
        >>> results = QualityInspector().predict(images)
        >>> [r.verdict in ("OK", "NG") for r in results]
        [True, True]
    """

    default_weights: Path = DEFAULT_TORCH  # PyTorch weights of the default (for export, optimize, fine-tuning)

    def __init__(
        self,
        model_path: str | Path | None = None,
        confidence_threshold: float = 0.3,
        iou_threshold: float = 0.5,
        batch_size: int = 16,
        device: str = "cpu",
        threads: int = 2,
        backend: str = "onnxruntime",
        detector_config: Any = None,
        train_config: Any = None,
    ):
        self.model_path = model_path
        self.confidence_threshold = confidence_threshold
        self.iou_threshold = iou_threshold
        self.batch_size = batch_size
        self.device = device
        self.threads = threads
        self.backend = backend
        self.detector_config = detector_config
        self.train_config = train_config

    # ------------------------------------------------------------------ loading
    @property
    def model_(self) -> LoadedModel:
        if getattr(self, "_model", None) is None:
            self._model = self._load()
        return self._model

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.model_.class_names

    def _load(self) -> LoadedModel:
        from .deploy import load_model

        path = Path(self.model_path) if self.model_path is not None else DEFAULT_BUNDLE
        return load_model(path, device=self.device, threads=self.threads, backend=self.backend)

    # ------------------------------------------------------------------ training
    def fit(
        self,
        data: str | Path | Any,
        format: str = "voc",
        class_names: Sequence[str] | None = None,
        val_fraction: float = 0.1,
        test_fraction: float = 0.15,
        synthetic: int = 0,
    ) -> "QualityInspector":
        """Train on a dataset folder (or a loaded ``DetectionDataset``); returns ``self``.

        Sets ``metrics_`` (validation history and held-out test mAP) and ``out_dir_``.
        """
        from ...core.train import TrainConfig
        from ...datasets import NEU_CLASSES, DetectionDataset, load_dataset
        from ...datasets.synthetic import generate_samples
        from .deploy import torch_model
        from .model import DetectorConfig
        from .train import train_detector

        dataset = data if isinstance(data, DetectionDataset) else load_dataset(data, format, class_names)
        cfg = replace(self.detector_config or DetectorConfig(), num_classes=len(dataset.class_names))
        tcfg = self.train_config or TrainConfig()
        extra = None
        if synthetic:
            if tuple(dataset.class_names) != NEU_CLASSES:
                raise InvalidInputError(
                    ErrorCode.INVALID_ARGUMENT,
                    "synthetic images carry the NEU-DET classes only",
                    value=dataset.class_names,
                    hint="drop --synthetic for other class sets",
                )
            extra = DetectionDataset(generate_samples(synthetic, seed=tcfg.seed + 12345), NEU_CLASSES)
        model, result, meta = train_detector(dataset, cfg, tcfg, val_fraction, test_fraction, extra)
        self.metrics_ = {
            "best_val_map50": result.best_metric,
            "best_epoch": result.best_epoch,
            **(
                {"test_map50": meta["test_metrics"]["map50"], "per_class": meta["test_metrics"]["per_class"]}
                if "test_metrics" in meta
                else {}
            ),
        }
        self.out_dir_ = Path(tcfg.out_dir)
        self._model = torch_model(model, cfg, tuple(dataset.class_names), meta, self.device, self.threads)
        return self

    # ------------------------------------------------------------------ inference
    def predict(self, images: Any, errors: str = "raise") -> list[Inspection]:
        """Inspect one image or a list of images (paths, PIL, numpy uint8, torch uint8).

        Args:
            images: one image or a list mixing the supported kinds; sizes may differ.
            errors: ``"raise"`` (default) raises our error on the first bad image;
                ``"record"`` returns an ``Inspection`` with ``error`` set and goes on.
        """
        if errors not in ("raise", "record"):
            raise InvalidInputError(ErrorCode.INVALID_ARGUMENT, "errors must be 'raise' or 'record'", value=errors)
        self._check_params()
        items = list(images) if isinstance(images, (list, tuple)) else [images]
        model = self.model_
        results: list[Inspection] = []
        step = max(1, self.batch_size)
        for start in range(0, len(items), step):  # decode per batch: memory stays flat on long lists
            chunk = items[start : start + step]
            decoded: list[Any] = []
            for item in chunk:
                try:
                    decoded.append(to_pil(item))
                except DeepSeekAppsError as exc:
                    if errors == "raise":
                        raise
                    decoded.append(exc)
            images = [im for im in decoded if not isinstance(im, DeepSeekAppsError)]
            inspections = iter(self._predict_batch(images, model) if images else [])
            for item, im in zip(chunk, decoded):
                result = Inspection(error=im.to_dict()) if isinstance(im, DeepSeekAppsError) else next(inspections)
                result.source = describe(item)
                results.append(result)
        return results  # type: ignore[return-value]

    def _check_params(self) -> None:
        checks = (
            ("confidence_threshold", self.confidence_threshold, 0.0 <= self.confidence_threshold <= 1.0, "0..1"),
            ("iou_threshold", self.iou_threshold, 0.0 < self.iou_threshold <= 1.0, "(0, 1]"),
            ("batch_size", self.batch_size, isinstance(self.batch_size, int) and self.batch_size >= 1, ">= 1"),
        )
        for name, value, ok, allowed in checks:
            if not ok:
                raise InvalidInputError(
                    ErrorCode.INVALID_ARGUMENT,
                    f"{name} must be {allowed}",
                    value=value,
                    hint=f"pass a valid {name} to QualityInspector(...)",
                )

    def _predict_batch(self, images: list, model: LoadedModel) -> list[Inspection]:
        t0 = time.perf_counter()
        pixels = np.stack([to_model_input(im, model.input_size, model.channels) for im in images]).astype(np.float32)
        boxes, scores, labels = model.forward(pixels)
        out = []
        for im, b, s, lab in zip(images, boxes, scores, labels):
            b, s, lab = select_detections(b, s, lab, self.confidence_threshold, self.iou_threshold)
            b = scale_boxes_back(b, model.input_size, im.width, im.height)
            defects = [
                Defect(model.class_names[int(c)], float(p), tuple(float(v) for v in bb)) for bb, p, c in zip(b, s, lab)
            ]
            out.append(Inspection(defects=defects, width=im.width, height=im.height))
        per_image = (time.perf_counter() - t0) * 1000 / max(1, len(images))
        for r in out:
            r.latency_ms = per_image
        return out

    # ------------------------------------------------------------------ evaluation & export
    def evaluate(self, data: str | Path | Any, format: str = "voc", split: str = "all") -> dict:
        """mAP@0.5 and per-class AP of this model on a dataset (``split``: all, val or test)."""
        from .deploy import evaluate_model

        return evaluate_model(self.model_, data, format, split)

    def save(self, out: str | Path) -> Path:
        """Save a PyTorch model folder (``model.safetensors`` + ``config.json``)."""
        from .deploy import save_model

        return save_model(self.model_, Path(out))

    def export(self, out: str | Path, int8: bool = False, calib: Any = None, **kwargs: Any) -> Path:
        """Write an edge bundle (``.zip`` or folder); see ``export.export_bundle``."""
        from .export import export_bundle

        if "torch_module" not in self.model_.metadata:
            raise ModelFormatError(
                ErrorCode.UNSUPPORTED_FORMAT,
                "export needs a PyTorch model",
                value=str(self.model_path),
                hint="load a training folder or call fit() first",
            )
        return export_bundle(self.model_, Path(out), int8=int8, calib=calib, **kwargs)

    def optimize(
        self,
        data: Any,
        out: str | Path,
        level: int = 2,
        format: str = "voc",
        max_accuracy_drop: float = 1.0,
        finetune_epochs: int = 60,
        on_step: Any = None,
        prune_ratios: tuple[float, ...] = (0.5, 0.35, 0.2),
        qat: bool | None = None,
        fold_norms: bool = False,
    ) -> tuple[Path, Any]:
        """Make this model smaller and faster (levels 0-3) and write a bundle; returns ``(path, report)``.

        Needs a PyTorch model (a training folder, ``fit``, or ``model_path=DEFAULT_TORCH``).
        ``on_step(step)`` is called as each pipeline step completes. ``prune_ratios`` (level 3)
        are tried most aggressive first; ``qat`` runs quantization-aware fine-tuning (``None``:
        only when post-training INT8 misses the budget). ``finetune_epochs`` of level-3 recovery:
        60 by default (30 left the pruned detector short of its accuracy). ``fold_norms``: level 3
        also turns the head's GroupNorms into per-level BatchNorms that fold into the INT8 convs
        (faster; see the README's compression table for what it costs in mAP).
        """
        from .optimize import optimize_inspector

        return optimize_inspector(
            self.model_,
            data,
            out,
            level=level,
            format=format,
            max_accuracy_drop=max_accuracy_drop,
            finetune_epochs=finetune_epochs,
            on_step=on_step,
            prune_ratios=prune_ratios,
            qat=qat,
            fold_norms=fold_norms,
        )
