"""``QualityInspector``: images in, defects (class, box, confidence) and an OK/NG verdict out."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from ...core.contract import Application
from ...core.registry import get_model
from ...core.runtime.tiling import Tiling, detect_images
from ...errors import DeepSeekAppsError, ErrorCode, InvalidInputError, MissingResourceError
from .anomaly import facade as anomaly_facade
from .backend import DetectorBackend, model_tiling
from .images import describe, to_pil
from .metrics import DetectionMetrics
from .results import Defect, Inspection

TORCH_WEIGHTS = "neu_det-torch"  # registry name of the default's PyTorch weights (export, optimize, fine-tuning)


class QualityInspector(Application):
    """Visual defect inspection for industrial surfaces.

    Args:
        model_path: a training output folder, a model folder saved by ``save``, or an edge
            bundle (folder or ``.zip``). ``None`` runs the shipped NEU-DET default (an INT8
            bundle; ``QualityInspector.pretrained("neu_det-torch")`` opens its PyTorch weights).
        confidence_threshold: defects scoring below this are dropped.
        iou_threshold: class-wise NMS overlap threshold.
        batch_size: images per forward pass in ``predict``.
        device: ``"cpu"`` (or ``"cuda"`` for PyTorch models when available).
        threads: intra-op threads of the backend (default 2).
        backend: what runs a bundle (the shipped default is one): ``"onnxruntime"`` or
            ``"openvino"`` (the ``openvino`` extra; on CPUs with AMX it runs INT8 models
            faster, see the README's compression tables).
        detector_config: architecture for ``fit`` (``DetectorConfig``; ``num_classes`` follows
            the data). With ``model_path`` it must match the loaded model's (``None``: the model's).
        train_config: optimisation settings for ``fit`` (``TrainConfig``); ``fit(seed=, epochs=)``
            override its values for one call without changing it.
        task: ``"detection"`` (labelled defects) or ``"anomaly"`` (fit on good images only:
            a score, an OK/NG verdict, a heat map and regions; see ``anomaly/``). ``None``:
            the loaded model's task, else detection.
        anomaly_config: settings of the anomaly task (``AnomalyConfig``; ``None``: defaults,
            or the loaded model's).
        tile: tiled detection of large images (``core.runtime.tiling``): ``None`` follows the
            model (a model trained on tiles predicts on tiles; ``fit`` decides from the training
            boxes), ``0`` turns it off, ``N`` cuts images larger than ``N`` pixels into
            overlapping ``N x N`` windows at native resolution, for training and prediction.
        tile_overlap: the fraction of a tile that neighbouring tiles share (with ``tile=N``).

    Example:
        >>> from deepseek_apps import QualityInspector
        >>> from deepseek_apps.datasets.synthetic import generate_samples
        >>> images = [s.image for s in generate_samples(2, seed=1)]
        >>> results = QualityInspector().predict(images)
        >>> [r.verdict in ("OK", "NG") for r in results]
        [True, True]
    """

    app_name = "inspector"
    default_weights: ClassVar[Path] = get_model("inspector", TORCH_WEIGHTS).path

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
        task: str | None = None,
        anomaly_config: Any = None,
        tile: int | None = None,
        tile_overlap: float = 0.25,
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
        self.task = task
        self.anomaly_config = anomaly_config
        self.tile = tile
        self.tile_overlap = tile_overlap

    # ------------------------------------------------------------------ loading
    @property
    def model_(self) -> DetectorBackend:
        """The model in use: the fitted one, else ``model_path`` (or the shipped default), opened on first use."""
        model = self.__dict__.get("_model")
        if model is None:
            model = self._model = self._open()
        return model

    @property
    def class_names(self) -> tuple[str, ...]:
        if anomaly_facade.is_anomaly(self):
            return ("anomaly",)
        return self.model_.class_names

    def _load_now(self) -> None:
        if anomaly_facade.is_anomaly(self):
            anomaly_facade.model_of(self)
            return
        self.model_  # noqa: B018  (opens the model now, so a bad path fails in load())

    def _open(self) -> DetectorBackend:
        from .deploy import load_model

        if self.model_path is None:
            path = get_model(self.app_name).path
            if not path.exists():
                raise MissingResourceError(
                    ErrorCode.DEFAULT_MODEL_MISSING,
                    "the shipped default model is missing",
                    value=str(path),
                    hint="reinstall deepseek-apps or pass model_path=",
                )
        else:
            path = Path(self.model_path)
        model = load_model(path, device=self.device, threads=self.threads, backend=self.backend)
        self._check_architecture(model)
        return model

    def _check_architecture(self, model: DetectorBackend) -> None:
        """A ``detector_config`` given together with a model must describe that model."""
        if self.detector_config is None:
            return
        from .model import DetectorConfig

        loaded = model.metadata.get("detector_config") or DetectorConfig.from_dict(model.metadata.get("detector", {}))
        wanted = replace(self.detector_config, num_classes=loaded.num_classes)
        if wanted != loaded:
            raise InvalidInputError(
                ErrorCode.INVALID_ARGUMENT,
                f"detector_config conflicts with the loaded model, which was built with {loaded}",
                value=self.detector_config,
                hint="leave detector_config as None to use the model's architecture, or fit a new model",
            )

    # ------------------------------------------------------------------ training
    def fit(
        self,
        data: str | Path | Any,
        *,
        format: str = "voc",
        class_names: Sequence[str] | None = None,
        val_fraction: float = 0.1,
        test_fraction: float = 0.15,
        seed: int | None = None,
        epochs: int | None = None,
        progress: bool = True,
        synthetic: int = 0,
        positive_share: float | None = None,
    ) -> QualityInspector:
        """Train a new detector on a dataset folder (or a loaded ``DetectionDataset``); returns ``self``.

        Args:
            data: an annotated dataset folder in ``format`` (voc, yolo, coco, masks) or a ``DetectionDataset``.
            class_names: class order (label ids); default: as the format's loader finds them.
            val_fraction / test_fraction: held-out parts of a seeded split stratified by class;
                validation picks the best epoch, test is reported in ``metrics_``.
            seed / epochs: override ``train_config``'s for this call (``None``: keep them).
            progress: ``False`` silences the progress bars.
            synthetic: add this many generated NEU-DET images to the training split.
            positive_share: where most training images (or tiles) are good, the ones that show
                a defect are repeated until they make up about this share of an epoch, at most
                8x (``None``: 0.25; ``0``: never). The model card says what was done.

        Sets ``model_`` (PyTorch), ``metrics_`` (validation and test mAP@0.5) and ``out_dir_``
        (checkpoints, history; a re-run with the same ``out_dir`` resumes).
        """
        if anomaly_facade.is_anomaly(self):  # data: good images only; val_fraction: held out for the threshold
            self.metrics_ = anomaly_facade.fit(self, data, val_fraction=val_fraction, seed=seed, progress=progress)
            return self
        from ...core.train import TrainConfig
        from ...datasets import NEU_CLASSES, DetectionDataset, load_dataset
        from ...datasets.synthetic import generate_samples
        from .backend import torch_backend
        from .model import DetectorConfig
        from .train import train_detector

        dataset = data if isinstance(data, DetectionDataset) else load_dataset(data, format, class_names)
        auto_size = DetectorConfig(input_size=None)  # no architecture given: the size follows the training boxes
        cfg = replace(self.detector_config or auto_size, num_classes=len(dataset.class_names))
        base = self.train_config or TrainConfig()
        tcfg = replace(
            base,
            seed=base.seed if seed is None else seed,
            epochs=base.epochs if epochs is None else epochs,
            progress=base.progress and progress,
        )
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
        balance = {} if positive_share is None else {"positive_share": positive_share}
        model, result, meta = train_detector(
            dataset,
            cfg,
            tcfg,
            val_fraction,
            test_fraction,
            extra,
            tile=self.tile,
            tile_overlap=self.tile_overlap,
            **balance,
        )
        test = meta.get("test_metrics")
        kept = next((h for h in result.history if h.get("epoch") == result.best_epoch), {})
        self.metrics_ = {
            "best_val_map50": kept.get("map50", result.best_metric),
            "best_epoch": result.best_epoch,
            "monitor": tcfg.monitor,
            "best_val_image_auroc": kept.get("image_auroc"),
            **({"test_map50": test["map50"], "per_class": test["per_class"]} if test else {}),
            **({"test_image_auroc": test["image_auroc"]} if test and test.get("image_auroc") is not None else {}),
            "input_size": meta["resolution"]["size"],
            "input_size_reason": meta["resolution"]["reason"],
            "tiling": meta["tiling"],
            "balance": meta["balance"],
            "split": meta["split"]["source"],
            "split_description": meta["split"]["description"],
            "training_health": meta["training_health"],
        }
        self.out_dir_ = Path(tcfg.out_dir)
        trained = DetectorConfig.from_dict(meta["detector"])  # the size and normalisation fit settled on
        self._model = torch_backend(model, trained, tuple(dataset.class_names), meta, self.device, self.threads)
        return self

    # ------------------------------------------------------------------ inference
    def predict(self, images: Any, errors: str = "raise") -> list[Inspection]:
        """Inspect one image or a list of images (paths, file bytes, PIL, numpy, torch).

        Args:
            images: one image or a list mixing the supported kinds; sizes may differ. Pixels
                are uint8; 16-bit files and uint16 / bool arrays are scaled to 0..255 (see
                ``images.to_pil`` for every rule, and the 50-million-pixel limit checked
                before decoding).
            errors: ``"raise"`` (default) raises our error on the first bad image;
                ``"record"`` returns an ``Inspection`` with ``error`` set and goes on: any
                failure to read one image (a library's exception too) is that image's
                coded error, and the other images get the same results as without it.
        """
        self.check_errors_mode(errors)
        if anomaly_facade.is_anomaly(self):
            return anomaly_facade.predict(self, images, errors)  # AnomalyInspection: score, heat_map, regions
        self._check_params()
        items = list(images) if isinstance(images, (list, tuple)) else [images]
        model = self.model_
        results: list[Inspection] = []
        step = self.batch_size
        for start in range(0, len(items), step):  # decode per batch: memory stays flat on long lists
            chunk = items[start : start + step]
            decoded = [self._decode(item, errors) for item in chunk]
            good = [im for im in decoded if not isinstance(im, DeepSeekAppsError)]
            inspections = iter(self._predict_batch(good, model) if good else [])
            for item, im in zip(chunk, decoded):
                result = Inspection(error=im.to_dict()) if isinstance(im, DeepSeekAppsError) else next(inspections)
                result.source = describe(item)
                results.append(result)
        return results

    @staticmethod
    def _decode(item: Any, errors: str) -> Any:
        """The item as a PIL image, or (``errors="record"``) the error that refused it.

        ``to_pil`` turns every exception into our coded error, so nothing else is caught here.
        """
        try:
            return to_pil(item)
        except DeepSeekAppsError as exc:
            if errors == "raise":
                raise
            return exc

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

    def tiling_(self, model: DetectorBackend | None = None) -> Tiling | None:
        """The tiling prediction and evaluation use: ``tile`` if given (0: none), else the model's."""
        if self.tile is None:
            return model_tiling((model or self.model_).metadata)
        return Tiling(self.tile, self.tile_overlap) if self.tile else None

    def _predict_batch(self, images: list, model: DetectorBackend) -> list[Inspection]:
        t0 = time.perf_counter()
        found = detect_images(
            images,
            model.forward,
            model.input_size,
            model.channels,
            self.tiling_(model),
            self.confidence_threshold,
            self.iou_threshold,
        )
        out = []
        for im, (b, s, lab) in zip(images, found):
            defects = [
                Defect(model.class_names[int(c)], float(p), tuple(float(v) for v in bb)) for bb, p, c in zip(b, s, lab)
            ]
            out.append(Inspection(defects=defects, width=im.width, height=im.height))
        per_image = (time.perf_counter() - t0) * 1000 / max(1, len(images))
        for r in out:
            r.latency_ms = per_image
        return out

    # ------------------------------------------------------------------ evaluation, saving, export
    def evaluate(self, data: str | Path | Any, format: str = "voc", split: str = "all") -> DetectionMetrics:
        """mAP@0.5 and per-class AP of this model on a dataset (``split``: all, or the model's recorded val / test)."""
        if anomaly_facade.is_anomaly(self):  # image / pixel AUROC, region overlap (split: the data's own)
            return anomaly_facade.evaluate(self, data, split)
        from .deploy import evaluate_model

        return evaluate_model(self.model_, data, format, split, tiling=self.tiling_())

    def save(self, path: str | Path) -> Path:
        """Write the model as a folder that ``QualityInspector.load`` opens.

        PyTorch models: ``model.safetensors`` + ``config.json``; a bundle is written as a bundle folder.
        """
        if anomaly_facade.is_anomaly(self):
            return anomaly_facade.save(self, Path(path))
        from .deploy import save_model

        return save_model(self.model_, Path(path))

    def export(self, path: str | Path, int8: bool = True, calib: Any = None, **kwargs: Any) -> Path:
        """Write a hash-verified edge bundle (``.zip`` or folder) that runs without PyTorch.

        Args:
            path: the bundle to write.
            int8: static INT8 quantization (QDQ, per-channel); ``False`` keeps FP32.
            calib: INT8 calibration images (a folder, a list of images or a ``DetectionDataset``);
                ``None`` uses 64 generated steel-surface images, right for NEU-DET-like data only:
                pass typical images of your own line otherwise.
            **kwargs: see ``export.export_bundle`` (``eval_data`` measures the bundle's metrics).

        Needs a PyTorch model (a training folder, a saved model, ``fit``, or
        ``QualityInspector.pretrained("neu_det-torch")``).
        """
        if anomaly_facade.is_anomaly(self):  # INT8 patch embedder + memory bank entry
            return anomaly_facade.export(self, Path(path), int8, calib, **kwargs)
        from .export import export_bundle

        self.model_.require_torch("export", self.model_path)
        return export_bundle(self.model_, Path(path), int8=int8, calib=calib, **kwargs)

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

        Needs a PyTorch model (a training folder, ``fit``, or ``pretrained("neu_det-torch")``).
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
