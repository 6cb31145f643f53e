"""Did the detector learn anything? A verdict on a finished training run, with likely causes.

A run whose best validation mAP@0.5 stays at or near zero, or whose training loss does not
fall, is ``status="failed"``: the CLI says so at the end, the model card carries it, and
``export`` refuses such a model (code 4110) unless forced. The data checks are computed
before training from the prepared (resized) images, so the causes name what the model saw:
defects too small at the chosen resolution, too few positives, class imbalance, boxes
outside the images, a validation split without defects.

On good-heavy lines a detector can judge parts well while its boxes miss the annotations
(a KolektorSDD run whose box distances had died: test image AUROC 1.000, box mAP 0). When the boxes fail but
the loss fell and the kept epoch ranks the validation images (at least 10 good and 3
defective) with image AUROC of at least 0.90, the run is ``status="verdict_only"``: the log
and the card say to trust its OK/NG verdicts and not its boxes, and ``export`` writes the
bundle with a warning (4111) instead of refusing it.

Example:
    >>> checks = {"train_boxes": 0, "train_images": 10, "val_boxes": 0}
    >>> verdict = diagnose([{"epoch": 1, "loss": 2.0, "map50": 0.0}], checks)
    >>> verdict.status
    'failed'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

NEAR_ZERO_MAP = 0.05  # a best validation mAP@0.5 below this is "learned nothing useful"
LOSS_FALL = 0.95  # the late loss must fall below this share of the first epoch's
FINEST_STRIDE = 8
FEW_BOXES, FEW_PER_CLASS, IMBALANCE = 50, 10, 20.0
SMALL_SHARE, POSITIVE_SHARE = 0.25, 0.10
VERDICT_AUROC = 0.90  # boxes failed, but validation images ranked this well: a usable OK/NG judge
VERDICT_MIN_GOOD, VERDICT_MIN_DEFECT = 10, 3  # fewer validation images than this cannot vouch for a verdict
MONITORS = ("map50", "image_auroc")  # what can pick the best epoch


@dataclass
class TrainingHealth:
    """The verdict: ``status`` ("ok", "verdict_only" or "failed"), what went wrong and what the data suggests.

    ``verdict``: for ``verdict_only``, how well the kept epoch judged the validation images.
    """

    status: str
    problems: list[str] = field(default_factory=list)
    likely_causes: list[str] = field(default_factory=list)
    checks: dict = field(default_factory=dict)
    verdict: str | None = None

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    @property
    def verdict_only(self) -> bool:
        return self.status == "verdict_only"

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        """A few plain lines for the end of a training log."""
        if self.status == "ok":
            return "training check: ok"
        if self.verdict_only:
            lines = ["TRAINING CHECK: BOXES UNRELIABLE, OK/NG VERDICTS USABLE."]
            lines += [f"  - {p}" for p in self.problems]
            lines.append(f"  - as an OK/NG judge: {self.verdict}")
        else:
            lines = ["TRAINING FAILED: the model did not learn to detect the defects."]
            lines += [f"  - {p}" for p in self.problems]
        lines += ["Likely causes found in the data:"] + [f"  - {c}" for c in self.likely_causes]
        if self.verdict_only:
            lines.append(
                "Use its verdicts, not its boxes. Export writes the bundle with a warning (4111); "
                "--monitor image_auroc keeps the epoch that judges best."
            )
        else:
            lines.append("Export refuses this model (code 4110) unless forced (--force / force=True).")
        return "\n".join(lines)


def data_checks(train_items: Sequence, val_items: Sequence, class_names: Sequence[str], input_size: int) -> dict:
    """Counts the verdict needs, from prepared items (boxes in model-input pixels)."""
    boxes = [it.boxes for it in train_items if len(it.boxes)]
    labels = np.concatenate([it.labels for it in train_items]) if train_items else np.zeros(0, dtype=np.int64)
    all_boxes = np.concatenate(boxes) if boxes else np.zeros((0, 4), dtype=np.float32)
    short = np.minimum(all_boxes[:, 2] - all_boxes[:, 0], all_boxes[:, 3] - all_boxes[:, 1])
    outside = (all_boxes[:, :2] < -0.5).any(1) | (all_boxes[:, 2:] > input_size + 0.5).any(1) | (short < 1.0)
    per_class = np.bincount(labels, minlength=len(class_names)) if len(labels) else np.zeros(len(class_names))
    return {
        "input_size": int(input_size),
        "train_images": len(train_items),
        "train_images_with_defects": len(boxes),
        "train_boxes": int(len(all_boxes)),
        "boxes_per_class": {name: int(n) for name, n in zip(class_names, per_class)},
        "small_box_share": float(np.mean(short < FINEST_STRIDE)) if len(short) else 0.0,
        "short_side_p10_px": float(np.percentile(short, 10)) if len(short) else None,
        "boxes_outside_or_degenerate": int(outside.sum()),
        "val_images": len(val_items),
        "val_images_with_defects": sum(1 for it in val_items if len(it.boxes)),
        "val_boxes": int(sum(len(it.boxes) for it in val_items)),
    }


def likely_causes(checks: dict) -> list[str]:
    """Sentences naming what in the data can explain a failed run."""
    causes = []
    size = checks.get("input_size")
    if checks.get("small_box_share", 0.0) > SMALL_SHARE:
        causes.append(
            f"objects too small for the resolution: {checks['small_box_share']:.0%} of the training boxes are under "
            f"{FINEST_STRIDE} px on their short side at {size}x{size} (10th percentile "
            f"{checks.get('short_side_p10_px') or 0:.1f} px); raise --input-size, or train on tiles at native resolution (--tile PX)"
        )
    if checks.get("train_boxes", 0) < FEW_BOXES:
        causes.append(f"too few positives: {checks.get('train_boxes', 0)} training boxes (want at least {FEW_BOXES})")
    images, positives = checks.get("train_images", 0), checks.get("train_images_with_defects", 0)
    if images and positives / images < POSITIVE_SHARE:
        causes.append(f"too few positives: only {positives} of {images} training images show a defect")
    per_class = checks.get("boxes_per_class", {})
    rare = [f"{name} ({n})" for name, n in per_class.items() if n < FEW_PER_CLASS]
    if rare:
        causes.append(f"classes with fewer than {FEW_PER_CLASS} training boxes: {', '.join(rare)}")
    counts = [n for n in per_class.values() if n > 0]
    if len(counts) > 1 and max(counts) / min(counts) > IMBALANCE:
        causes.append(f"class imbalance: {max(counts)} boxes in the largest class, {min(counts)} in the smallest")
    if checks.get("boxes_outside_or_degenerate", 0):
        causes.append(
            f"boxes outside the images or under 1 px after resizing: {checks['boxes_outside_or_degenerate']}; "
            "check the annotations' coordinate convention"
        )
    if checks.get("val_images", 0) and not checks.get("val_boxes", 0):
        causes.append("the validation split holds no annotated defects, so its mAP cannot rise above 0")
    return causes


def diagnose(
    history: Sequence[dict],
    checks: dict,
    monitor: str = "map50",
    backbone: str = "tiny",
    kept_epoch: int | None = None,
) -> TrainingHealth:
    """The verdict on a run from its per-epoch ``history`` (loss and validation metrics) and ``data_checks``.

    The boxes are judged on ``map50`` whatever ``monitor`` picked the kept epoch (``kept_epoch``,
    1-based; ``None``: the best epoch of the verdict metric). ``backbone``: the run's; the
    pretrained one is suggested only to a run that did not use it.
    """
    problems = []
    box_key = "map50" if any(h.get("map50") is not None for h in history) else monitor
    values = [float(h[box_key]) for h in history if h.get(box_key) is not None]
    best = max(values) if values else 0.0
    boxes_failed = best < NEAR_ZERO_MAP
    if boxes_failed:
        problems.append(f"validation mAP@0.5 stayed near zero (best {best:.3f} over {len(values)} epochs)")
    losses = [float(h["loss"]) for h in history if "loss" in h]
    loss_stuck = False
    if len(losses) >= 3:
        late = min(losses[len(losses) * 2 // 3 :])
        if late > LOSS_FALL * losses[0]:
            loss_stuck = True
            problems.append(f"the training loss did not fall ({losses[0]:.3f} in epoch 1, {late:.3f} at best late)")
    if not problems:
        return TrainingHealth("ok", checks=checks)
    pretrained = ", or --backbone efficientnet_lite0" if backbone == "tiny" else ""
    causes = likely_causes(checks) or [
        f"none of the data checks explains it: try more epochs, a lower --lr{pretrained}"
    ]
    verdict = None if loss_stuck else _usable_verdict(history, kept_epoch)
    if verdict is not None:
        return TrainingHealth("verdict_only", problems, causes, checks, verdict)
    elsewhere = None if loss_stuck else _usable_verdict(history, None)
    if elsewhere is not None:  # another epoch judged well: say how to keep it
        causes.append(f"another epoch judged OK/NG well ({elsewhere}); --monitor image_auroc keeps such an epoch")
    return TrainingHealth("failed", problems, causes, checks)


def _usable_verdict(history: Sequence[dict], kept_epoch: int | None) -> str | None:
    """A sentence on the kept epoch's OK/NG ranking when it is good enough to use, else ``None``."""
    judged = [h for h in history if h.get("image_auroc") is not None]
    if not judged:
        return None
    kept = [h for h in judged if h.get("epoch") == kept_epoch]
    record = kept[0] if kept else max(judged, key=lambda h: h["image_auroc"])
    good, bad = int(record.get("good_images", 0)), int(record.get("defect_images", 0))
    auroc = float(record["image_auroc"])
    if auroc < VERDICT_AUROC or good < VERDICT_MIN_GOOD or bad < VERDICT_MIN_DEFECT:
        return None
    ap = record.get("image_ap")
    ap_text = f", image AP {float(ap):.3f}" if ap is not None else ""
    return (
        f"validation image AUROC {auroc:.3f}{ap_text} in the kept epoch {record.get('epoch')} "
        f"({good} good, {bad} defective images; each scored by its most confident detection)"
    )
