"""``optimize`` for the inspector: describe the detector as an ``OptimizeTarget`` and write a bundle."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ...core.compress.pipeline import CompressionReport, OptimizeTarget, optimize
from .backend import INPUT_NAME, OUTPUT_NAMES, DetectorBackend
from .export import HEAD_OUTPUT_CONVS, parity_compare, write_inspector_bundle


def inspector_target(
    loaded: DetectorBackend,
    data: Any,
    format: str = "voc",
    eval_split: str = "val",
    calib_images: int = 128,
    finetune_epochs: int = 10,
    seed: int = 0,
    finetune_lr: float = 5e-4,
    kd_weight: float = 1.0,
    fold_norms: bool = False,
) -> OptimizeTarget:
    """Build the target: metric = mAP@0.5 x 100 on ``eval_split``; calibration and fine-tuning on the rest.

    Fine-tuning (level 3, QAT) trains with the detection loss plus, when ``kd_weight > 0``,
    distillation of the unpruned detector's outputs. ``fold_norms``: at level 3, replace the
    head's GroupNorms with per-level BatchNorms before fine-tuning, so the whole head runs as
    integer kernels (statistics recomputed over the training images afterwards).
    """
    import torch

    from ...core.runtime.session import OrtSession
    from ...datasets import DetectionDataset, load_dataset
    from .model import InspectorGraph
    from .train import evaluate_items, prepare

    loaded.require_torch("optimize")
    cfg = loaded.metadata["detector_config"]
    dataset = data if isinstance(data, DetectionDataset) else load_dataset(data, format, loaded.class_names)
    recorded = loaded.metadata.get("split", {})
    eval_names = set(recorded.get(f"{eval_split}_names", []))
    held = eval_names | set(recorded.get("test_names", []))
    eval_samples = [s for s in dataset.samples if s.name in eval_names]
    if not eval_samples:  # data the model was not trained on: hold out a seeded fifth for the metric
        order = np.random.default_rng(seed).permutation(len(dataset.samples))
        eval_samples = [dataset.samples[i] for i in order[: max(1, len(order) // 5)]]
        held = {s.name for s in eval_samples}
    eval_set = DetectionDataset(eval_samples, dataset.class_names)
    train_set = DetectionDataset([s for s in dataset.samples if s.name not in held], dataset.class_names)
    eval_items = prepare(eval_set, cfg)
    train_items = prepare(train_set, cfg)
    rng = np.random.default_rng(seed)
    pick = rng.permutation(len(train_items))[:calib_images]
    pixels = np.stack([train_items[i].pixels for i in pick]).astype(np.float32)
    calibration = [{INPUT_NAME: pixels[i : i + 16]} for i in range(0, len(pixels), 16)]
    norm_batches = None
    if fold_norms:  # shuffled: batches of one class (files come sorted by class) skew the statistics
        order = np.random.default_rng(seed + 1).permutation(len(train_items))
        every = np.stack([train_items[i].pixels for i in order]).astype(np.float32)
        norm_batches = [{INPUT_NAME: every[i : i + 32]} for i in range(0, len(every), 32)]

    def evaluate(path: Path) -> float:
        session = OrtSession(path, threads=2)
        forward = lambda x: tuple(session.run({INPUT_NAME: x}))  # noqa: E731
        return 100.0 * evaluate_items(forward, eval_items, loaded.class_names).map50

    def finetune(student, teacher) -> None:
        _finetune_detector(student, train_items, finetune_epochs, seed, finetune_lr, teacher, kd_weight)

    detector = loaded.metadata["torch_module"]
    graph = InspectorGraph(detector, cfg).eval()
    ignored = [m for n, m in detector.named_modules() if n.split(".")[-1] in HEAD_OUTPUT_CONVS]
    return OptimizeTarget(
        module=graph,
        example_inputs=(torch.from_numpy(pixels[:2]),),
        input_names=[INPUT_NAME],
        output_names=list(OUTPUT_NAMES),
        calibration=calibration,
        evaluate=evaluate,
        metric_name="mAP@0.5 x100",
        prunable=detector,
        rebuild=lambda det: InspectorGraph(det, cfg).eval(),
        ignored_layers=ignored,
        finetune=finetune,
        finetune_description=(
            f"{finetune_epochs} epochs of detection-loss training at lr {finetune_lr:g}"
            + (f" + output distillation from the unpruned detector (weight {kd_weight:g})" if kd_weight else "")
            + (", head GroupNorm -> per-level BatchNorm" if fold_norms else "")
        ),
        compare=parity_compare,
        groupnorm_to_batchnorm=fold_norms,
        norm_batches=norm_batches,
    )


def _finetune_detector(
    student, items, epochs: int, seed: int, lr: float = 5e-4, teacher=None, kd_weight: float = 1.0
) -> None:
    """Recover accuracy after pruning, in place: the detection loss plus, with a ``teacher``, distillation.

    Distillation matches the teacher's per-location outputs, which pruning does not change in
    shape: class logits (sigmoid KD at T=2), box regression (smooth L1) and centerness.
    """
    import tempfile

    import torch

    from ...core.train import TrainConfig, Trainer
    from .train import detection_loss, make_collate

    cfg = TrainConfig(
        epochs=epochs, lr=lr, warmup_epochs=0.2, seed=seed, out_dir=tempfile.mkdtemp(), resume=False, progress=True
    )
    if teacher is None or kd_weight == 0:
        Trainer(cfg).fit(student, items, make_collate(True), detection_loss, lambda m: {})
    else:
        with _head_outputs(student) as s_out, _head_outputs(teacher) as t_out:
            teacher.eval()

            def loss_fn(model, batch):
                images, _ = batch
                task = detection_loss(model, batch)
                with torch.no_grad():
                    teacher(images)
                return task + kd_weight * _output_kd(s_out, t_out)

            Trainer(cfg).fit(student, items, make_collate(True), loss_fn, lambda m: {})
    student.eval()


@contextmanager
def _head_outputs(detector):
    """Capture an FCOS head's class logits and (box regression, centerness) on every forward."""
    store: dict = {}
    head = detector.head
    handles = [
        head.classification_head.register_forward_hook(lambda m, i, o: store.__setitem__("cls", o)),
        head.regression_head.register_forward_hook(lambda m, i, o: store.__setitem__("reg", o)),
    ]
    try:
        yield store
    finally:
        for handle in handles:
            handle.remove()


def _output_kd(student: dict, teacher: dict, temperature: float = 2.0):
    import torch
    from torch.nn import functional as F

    t = temperature
    cls = F.binary_cross_entropy_with_logits(student["cls"] / t, torch.sigmoid(teacher["cls"] / t)) * t * t
    box = F.smooth_l1_loss(student["reg"][0], teacher["reg"][0])
    ctr = F.binary_cross_entropy_with_logits(student["reg"][1], torch.sigmoid(teacher["reg"][1]))
    return cls + box + ctr


def optimize_inspector(
    loaded: DetectorBackend,
    data: Any,
    out: str | Path,
    level: int = 2,
    format: str = "voc",
    max_accuracy_drop: float = 1.0,
    finetune_epochs: int = 60,
    model_name: str | None = None,
    on_step: Any = None,
    prune_ratios: tuple[float, ...] = (0.5, 0.35, 0.2),
    qat: bool | None = None,
    fold_norms: bool = False,
) -> tuple[Path, CompressionReport]:
    """Optimise an inspector model to ``level`` and write the bundle with the report in its manifest."""
    target = inspector_target(loaded, data, format, finetune_epochs=finetune_epochs, fold_norms=fold_norms)
    onnx_bytes, report = optimize(
        target,
        level=level,
        max_accuracy_drop=max_accuracy_drop,
        on_step=on_step,
        prune_ratios=prune_ratios,
        qat=qat,
    )
    precision = "int8" if level >= 2 else "fp32"
    bundle = write_inspector_bundle(
        loaded,
        onnx_bytes,
        Path(out),
        precision,
        {"optimize_level": level},
        model_name=model_name,
        extra_metrics={"val_map50": report.result.metric / 100, "optimize_report": report.to_dict()},
    )
    return bundle, report
