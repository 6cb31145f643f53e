"""Training and evaluation of the inspector's detector on any loaded ``DetectionDataset``."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ...core.runtime.postprocess import select_detections
from ...core.runtime.preprocess import to_model_input
from ...core.runtime.tiling import Tiling, detect_images, tile_boxes, windows
from ...core.train import TrainConfig, Trainer, TrainResult
from ...datasets.types import DetectionDataset
from ...errors import ErrorCode, InvalidInputError
from .health import MONITORS, data_checks, diagnose
from .metrics import DetectionMetrics, detection_metrics
from .model import DetectorConfig, InspectorGraph, build_detector, for_backbone
from .resolution import ResolutionChoice, check_input_size, choose_input_size, plan_tiling
from .splits import plan_split, split_indices

log = logging.getLogger(__name__)
__all__ = ["split_indices", "train_detector"]  # split_indices lives in splits.py; imported here for old callers
POSITIVE_SHARE = 0.25  # items showing a defect are repeated until they make up about this share of an epoch
MAX_REPEAT = 8  # ... at most this many times (each repeat is augmented afresh)


@dataclass
class PreparedItem:
    """An image resized to the model input (uint8, C x S x S) with boxes in that frame."""

    pixels: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    turnable: bool = True  # the view came from a (nearly) square image, so a 90-degree turn is a view it could show


SQUARE_WITHIN = 1.1  # a view whose sides differ by less than this ratio may be turned by 90 degrees


def _prepared(image, boxes: np.ndarray, labels: np.ndarray, cfg: DetectorConfig) -> PreparedItem:
    sx, sy = cfg.input_size / image.width, cfg.input_size / image.height
    boxes = boxes.astype(np.float32) * np.array([sx, sy, sx, sy], dtype=np.float32)
    turnable = max(image.width, image.height) < SQUARE_WITHIN * min(image.width, image.height)
    return PreparedItem(to_model_input(image, cfg.input_size, cfg.in_channels), boxes, labels, turnable)


def prepare(
    dataset: DetectionDataset, cfg: DetectorConfig, progress: bool = False, tiling: Tiling | None = None
) -> list[PreparedItem]:
    """Every image resized to the model input; with ``tiling``, a large image gives one item per tile (and itself)."""
    from tqdm.auto import tqdm

    items = []
    for sample in tqdm(dataset.samples, desc="load", unit="img", disable=not progress):
        image = sample.load()
        if tiling is not None and tiling.applies(image.width, image.height):
            for window in windows(image.width, image.height, tiling):
                boxes, labels = tile_boxes(sample.boxes, sample.labels, window)
                items.append(_prepared(image.crop(tuple(int(v) for v in window)), boxes, labels, cfg))
            if not tiling.whole_image:
                continue
        items.append(_prepared(image, sample.boxes, sample.labels, cfg))
    return items


def balance_positives(items: list[PreparedItem], share: float = POSITIVE_SHARE) -> tuple[list[PreparedItem], dict]:
    """Repeat the items that show a defect so that they make up about ``share`` of an epoch.

    On a line where most images (or tiles) are good, an epoch is mostly background and a
    detector sees each defect once per epoch: the few positives are drowned out. Each is
    repeated ``k`` times (at most ``MAX_REPEAT``), the smallest ``k`` that reaches ``share``;
    the repeats are augmented afresh by the collate. ``share=0`` leaves the items as they are.
    Returns the items and what was done (stored in the run's config and card).

    Example:
        >>> good = PreparedItem(np.zeros((1, 8, 8), np.uint8), np.zeros((0, 4), np.float32), np.zeros(0, np.int64))
        >>> bad = PreparedItem(good.pixels, np.ones((1, 4), np.float32), np.zeros(1, np.int64))
        >>> items, done = balance_positives([good] * 9 + [bad], 0.25)
        >>> len(items), done["repeat"]
        (12, 3)
    """
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share < 1:
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            "positive_share must be a number in [0, 1)",
            value=share,
            hint="0.25 (the default) repeats the images with defects until they are about a quarter of an epoch; 0 turns it off",
        )
    positives = [it for it in items if len(it.boxes)]
    negatives = len(items) - len(positives)
    repeat = 1
    if positives and share and len(positives) < share * len(items):
        repeat = min(MAX_REPEAT, math.ceil(share * negatives / ((1 - share) * len(positives))))
    done = {
        "positive_share": float(share),
        "items": len(items),
        "items_with_defects": len(positives),
        "repeat": repeat,
        "share_after": round(repeat * len(positives) / max(1, repeat * len(positives) + negatives), 4),
    }
    return items + positives * (repeat - 1), done


def _dihedral(x: torch.Tensor, boxes: torch.Tensor, rng: np.random.Generator, turn: bool = True):
    """Random flips, and a random transposition (a 90-degree turn) when ``turn``.

    A non-square image (or tile) is squeezed into the square input along one side; turned,
    its squeeze and its defects' orientation fall on the other axis, a view the line never
    shows. On KolektorSDD (500x1260 parts, horizontal cracks squeezed into long thin boxes),
    in a 20-step check on 32 tiles, the GIoU loss stayed at 1.0 with random turns and fell to
    0.48 without them. So only square views turn. (The zero-size boxes of whole KolektorSDD
    runs came from dead distance channels in the box branch: ``model.BoxRegressionHead``.)
    """
    size = x.shape[-1]
    if rng.random() < 0.5:
        x = x.flip(-1)
        boxes = torch.stack([size - boxes[:, 2], boxes[:, 1], size - boxes[:, 0], boxes[:, 3]], 1)
    if rng.random() < 0.5:
        x = x.flip(-2)
        boxes = torch.stack([boxes[:, 0], size - boxes[:, 3], boxes[:, 2], size - boxes[:, 1]], 1)
    if rng.random() < 0.5 and turn and x.shape[-1] == x.shape[-2]:
        x = x.transpose(-1, -2)
        boxes = boxes[:, [1, 0, 3, 2]]
    return x, boxes


def _zoom(x: torch.Tensor, boxes: torch.Tensor, labels: torch.Tensor, rng: np.random.Generator):
    """Random crop of 65-100% of the side, resized back; boxes clipped, slivers dropped."""
    size = x.shape[-1]
    side = int(size * rng.uniform(0.65, 1.0))
    x0, y0 = int(rng.integers(0, size - side + 1)), int(rng.integers(0, size - side + 1))
    crop = x[:, y0 : y0 + side, x0 : x0 + side].unsqueeze(0)
    x = F.interpolate(crop, size=(size, size), mode="bilinear", align_corners=False)[0]
    scale = size / side
    shifted = (boxes - torch.tensor([x0, y0, x0, y0], dtype=boxes.dtype)).clamp(0, side) * scale
    area0 = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).clamp(min=1e-6) * scale**2
    area1 = (shifted[:, 2] - shifted[:, 0]) * (shifted[:, 3] - shifted[:, 1])
    keep = (area1 / area0 > 0.35) & (shifted[:, 2] - shifted[:, 0] > 2) & (shifted[:, 3] - shifted[:, 1] > 2)
    return x, shifted[keep], labels[keep]


def make_collate(augment: bool) -> Callable:
    def collate(items: Sequence[PreparedItem], rng: np.random.Generator):
        images, targets = [], []
        for it in items:
            x = torch.from_numpy(it.pixels).float()
            boxes = torch.from_numpy(it.boxes).float()
            labels = torch.from_numpy(it.labels).long()
            if augment:
                x, boxes = _dihedral(x, boxes, rng, it.turnable)
                if rng.random() < 0.5:
                    zx, zb, zl = _zoom(x, boxes, labels, rng)
                    if len(zb):
                        x, boxes, labels = zx, zb, zl
                x = (x * rng.uniform(0.75, 1.25) + rng.uniform(-20, 20)).clamp(0, 255)
            images.append(x / 255.0)
            targets.append({"boxes": boxes, "labels": labels})
        return images, targets

    return collate


def detection_loss(model, batch) -> torch.Tensor:
    images, targets = batch
    losses = model(images, targets)
    return sum(losses.values())


def predict_prepared(
    forward: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]],
    items: Sequence[PreparedItem],
    batch_size: int = 64,
    score_threshold: float = 0.01,
    iou_threshold: float = 0.5,
):
    """Run any backend's ``forward(pixels float32 NCHW) -> (boxes, scores, labels)`` over items."""
    out = []
    for start in range(0, len(items), batch_size):
        chunk = np.stack([it.pixels for it in items[start : start + batch_size]]).astype(np.float32)
        boxes, scores, labels = forward(chunk)
        for b, s, lab in zip(boxes, scores, labels):
            out.append(select_detections(b, s, lab, score_threshold, iou_threshold))
    return out


def torch_forward(graph: InspectorGraph) -> Callable:
    def forward(pixels: np.ndarray):
        with torch.no_grad():
            b, s, lab = graph(torch.from_numpy(pixels))
        return b.numpy(), s.numpy(), lab.numpy()

    return forward


def evaluate_items(
    forward: Callable, items: Sequence[PreparedItem], class_names: Sequence[str], split: str = "all"
) -> DetectionMetrics:
    """mAP@0.5 of any backend's ``forward`` on prepared items."""
    preds = predict_prepared(forward, items)
    return detection_metrics(preds, [(it.boxes, it.labels) for it in items], class_names, split)


def evaluate_tiled(
    forward: Callable,
    truth: Iterable[tuple],
    size: int,
    channels: int,
    tiling: Tiling,
    class_names: Sequence[str],
    split: str = "all",
) -> DetectionMetrics:
    """mAP@0.5 of a tiled model on whole images ``truth``: ``(PIL image, boxes, labels)`` items, in image pixels.

    ``truth`` may be a generator: one image is in memory at a time.
    """
    preds, targets = [], []
    for image, boxes, labels in truth:
        preds.append(detect_images([image], forward, size, channels, tiling, score_threshold=0.01)[0])
        targets.append((boxes, labels))
    return detection_metrics(preds, targets, class_names, split)


def _loaded(dataset: DetectionDataset, indices: Sequence[int]) -> list[tuple]:
    return [(dataset.samples[i].load(), dataset.samples[i].boxes, dataset.samples[i].labels) for i in indices]


def train_detector(
    dataset: DetectionDataset,
    detector_config: DetectorConfig,
    train_config: TrainConfig,
    val_fraction: float = 0.1,
    test_fraction: float = 0.15,
    extra_train: DetectionDataset | None = None,
    init_weights: dict | None = None,
    tile: int | None = None,
    tile_overlap: float = 0.25,
    positive_share: float = POSITIVE_SHARE,
) -> tuple[torch.nn.Module, TrainResult, dict]:
    """Train on ``dataset`` and return the best model, its ``TrainResult`` and the run's metadata.

    The split follows the data set's own when it has one (``splits.plan_split``); an
    ``input_size`` of ``None`` is chosen from the training boxes (``resolution.py``); the
    metadata carries both choices and the run's ``training_health`` verdict (``health.py``).
    ``tile`` (``resolution.plan_tiling``): ``0`` never tile, ``N`` tiles of ``N`` pixels,
    ``None`` tile when the smaller defects need more than the largest input size; a tiled model
    is validated and tested on whole images through the tiled path. ``positive_share``: the
    training items that show a defect are repeated to about this share of an epoch
    (``balance_positives``; 0: never).
    """
    from safetensors.torch import load_file

    plan = plan_split(dataset, val_fraction, test_fraction, train_config.seed)
    train_idx, val_idx, test_idx = plan.train, plan.val, plan.test
    if detector_config.input_size is None:
        resolution = choose_input_size(dataset, train_idx)
    else:
        size = check_input_size(detector_config.input_size)
        resolution = ResolutionChoice(size, f"given: {size}", "given")
    resolution, tiling = plan_tiling(resolution, tile, tile_overlap)
    detector_config = for_backbone(replace(detector_config, input_size=resolution.size))
    log.info("split: %s", plan.description)
    log.info("input size %d (%s): %s", resolution.size, resolution.chosen, resolution.reason)
    if tiling is None:
        items = prepare(dataset, detector_config, progress=train_config.progress)
        train_items = [items[i] for i in train_idx]
        val_items = [items[i] for i in val_idx] or train_items[: max(1, len(train_items) // 5)]
    else:
        train_items = prepare(_subset(dataset, train_idx), detector_config, train_config.progress, tiling)
        val_items = prepare(_subset(dataset, val_idx), detector_config, tiling=tiling) if val_idx else []
        val_items = val_items or train_items[: max(1, len(train_items) // 5)]
    if extra_train is not None:
        train_items += prepare(extra_train, detector_config, tiling=tiling)
    checks = data_checks(train_items, val_items, dataset.class_names, detector_config.input_size)
    check_monitor(train_config.monitor, checks)
    train_items, balance = balance_positives(train_items, positive_share)
    if balance["repeat"] > 1:
        log.info(
            "positives: %d of %d training items show a defect; repeated %dx (%.0f%% of an epoch)",
            balance["items_with_defects"],
            balance["items"],
            balance["repeat"],
            100 * balance["share_after"],
        )
    model = build_detector(detector_config, pretrained=not init_weights)
    if init_weights:
        model.load_state_dict(init_weights)
    out = Path(train_config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "detector": detector_config.to_dict(),
        "class_names": list(dataset.class_names),
        "train_config": asdict(train_config),
        "resolution": resolution.to_dict(),
        "tiling": tiling.to_dict() if tiling else None,
        "balance": balance,
        "split": {
            "source": plan.source,
            "description": plan.description,
            "seed": train_config.seed,
            "val_fraction": val_fraction,
            "test_fraction": test_fraction,
            "train": balance["items"],
            "val": len(val_items),
            "test": len(test_idx),
            "val_names": [dataset.samples[i].name for i in val_idx],
            "test_names": [dataset.samples[i].name for i in test_idx],
        },
    }
    (out / "config.json").write_text(json.dumps(meta, indent=2))

    val_truth = _loaded(dataset, val_idx) if tiling is not None and val_idx else None

    def evaluate(m):
        graph = InspectorGraph(m, detector_config).eval()
        if val_truth:
            size, channels = detector_config.input_size, detector_config.in_channels
            names = dataset.class_names
            return evaluate_tiled(torch_forward(graph), val_truth, size, channels, tiling, names, "val").to_dict()
        return evaluate_items(torch_forward(graph), val_items, dataset.class_names, "val").to_dict()

    score = verdict_score if train_config.monitor == "image_auroc" else None
    result = Trainer(train_config).fit(model, train_items, make_collate(True), detection_loss, evaluate, score=score)
    best = out / "best.safetensors"
    if best.exists():
        model.load_state_dict(load_file(str(best)))
    model.eval()
    if test_idx:
        graph = InspectorGraph(model, detector_config).eval()
        if tiling is None:
            test = evaluate_items(torch_forward(graph), [items[i] for i in test_idx], dataset.class_names, "test")
        else:
            size, channels = detector_config.input_size, detector_config.in_channels
            truth = _loaded(dataset, test_idx)
            test = evaluate_tiled(torch_forward(graph), truth, size, channels, tiling, dataset.class_names, "test")
        meta["test_metrics"] = test.to_dict()
    meta["result"] = result.to_dict()
    health = diagnose(result.history, checks, train_config.monitor, detector_config.backbone, result.best_epoch)
    meta["training_health"] = health.to_dict()
    (out / "config.json").write_text(json.dumps(meta, indent=2))
    (out / "MODEL_CARD.md").write_text(training_card(meta))
    (log.warning if health.failed else log.info)(health.summary())
    return model, result, meta


def training_card(meta: dict) -> str:
    """The model card of a training folder: data split, resolution, metrics and the health verdict."""
    health, res, split = meta.get("training_health", {}), meta.get("resolution", {}), meta["split"]
    det = meta["detector"]
    lines = [
        "# Model card: inspector detector (training folder)",
        "",
        f"- Classes: {', '.join(meta['class_names'])}",
        f"- Backbone: {det.get('backbone', 'tiny')}, {det['in_channels']}-channel input {det['input_size']}px",
        f"- Input size ({res.get('chosen', 'given')}): {res.get('reason', '')}",
        f"- Tiling: {_tiling_line(meta.get('tiling'))}",
        *_balance_lines(meta.get("balance")),
        f"- Split ({split.get('source', 'random')}): {split.get('description', '')}; "
        f"{split['train']} train / {split['val']} val {'items (tiles and whole images)' if meta.get('tiling') else 'images'}"
        f" / {split['test']} test images",
        *_kept_epoch_lines(meta),
    ]
    test = meta.get("test_metrics")
    if test:
        lines.append(f"- Test mAP@0.5: {test['map50']:.4f}{_verdict_text(test)}")
    lines += ["", "## Training check", "", f"Status: **{health.get('status', 'unknown')}**"]
    lines += [f"- problem: {p}" for p in health.get("problems", [])]
    if health.get("verdict"):
        lines.append(f"- as an OK/NG judge: {health['verdict']}; use its verdicts, not its boxes")
    lines += [f"- likely cause: {c}" for c in health.get("likely_causes", [])]
    return "\n".join(lines) + "\n"


def check_monitor(monitor: str, checks: dict) -> None:
    """Refuse (1019) a ``monitor`` the validation split cannot measure, before any epoch is spent."""
    if monitor not in MONITORS:
        raise InvalidInputError(
            ErrorCode.DETECTOR_MONITOR_UNAVAILABLE,
            f"the detector's best epoch is picked by one of {MONITORS}",
            value=monitor,
            hint="use map50 (box quality, the default) or image_auroc (OK/NG ranking, for good-heavy lines)",
        )
    good = checks["val_images"] - checks["val_images_with_defects"]
    if monitor == "image_auroc" and not (good and checks["val_images_with_defects"]):
        raise InvalidInputError(
            ErrorCode.DETECTOR_MONITOR_UNAVAILABLE,
            "image_auroc needs good and defective images in the validation split",
            value={"good": good, "defective": checks["val_images_with_defects"]},
            hint="monitor map50, or give a validation split (or --val-fraction) that holds both",
        )


def verdict_score(record: dict) -> float:
    """What ``--monitor image_auroc`` maximises: image AUROC, ties broken by box mAP, then by the later epoch.

    A small validation split ranks perfectly in many epochs (AUROC 1.0 with 4 defective
    images); the first of them is not the best model. The tie-breaks add less than 1e-6, one
    step of AUROC with 1,000 good and 1,000 defective images (an epoch count under 1,000), so
    they do not overrule a better ranking on validation splits up to that size.
    """
    return float(record["image_auroc"]) + 1e-7 * float(record.get("map50") or 0.0) + 1e-10 * int(record["epoch"])


def _kept_epoch_lines(meta: dict) -> list[str]:
    """The kept epoch and what it scored on validation (box mAP and, where defined, the OK/NG ranking)."""
    result = meta["result"]
    epoch = result["best_epoch"]
    record = next((h for h in result.get("history", []) if h.get("epoch") == epoch), {})
    monitor = meta["train_config"].get("monitor", "map50")
    box = record.get("map50", result["best_metric"] if monitor == "map50" else None)
    box_text = f"mAP@0.5 {box:.4f}" if box is not None else "mAP@0.5 not measured"
    return [f"- Kept epoch {epoch} (best validation {monitor}): validation {box_text}{_verdict_text(record)}"]


def _verdict_text(metrics: dict) -> str:
    if metrics.get("image_auroc") is None:
        return ""
    return (
        f", image AUROC {metrics['image_auroc']:.4f} ({metrics.get('good_images', 0)} good, "
        f"{metrics.get('defect_images', 0)} defective images)"
    )


def _balance_lines(balance: dict | None) -> list[str]:
    if not balance or balance["repeat"] <= 1:
        return []
    return [
        f"- Positives: {balance['items_with_defects']} of {balance['items']} training items show a defect; "
        f"each repeated {balance['repeat']}x, {balance['share_after']:.0%} of an epoch (positive_share {balance['positive_share']})"
    ]


def _tiling_line(tiling: dict | None) -> str:
    if not tiling:
        return "none (whole images)"
    whole = ", plus the whole image" if tiling.get("whole_image", True) else ""
    return f"{tiling['tile']} px tiles, {tiling['overlap']:.0%} overlap{whole}"


def _subset(dataset: DetectionDataset, indices: Sequence[int]) -> DetectionDataset:
    return DetectionDataset([dataset.samples[i] for i in indices], dataset.class_names)
