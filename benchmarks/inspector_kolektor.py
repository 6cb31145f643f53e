"""KolektorSDD, supervised and good-only side by side, on the same val folder.

The supervised detector is trained beforehand through the CLI (its own train / val split: the
val folder is its test split); the anomaly task is fitted here on the good training images.
Both are judged the same way on every image of ``images/val``: image AUROC and average
precision of the image score (the detector's best defect confidence, 0 when it finds none;
the anomaly score), and the OK / NG verdicts at each model's own threshold. The detector also
gets its box mAP@0.5. PyTorch FP32 and the INT8 edge bundle of each, latency per image at
batch 1 (decode to verdict), bundle size.

    deepseek-apps inspector train --data ../shared/data/kolektorsdd --format yolo \\
        --tile 640 --input-size 320 --epochs 8 --out runs/ksdd_detector
    flock /tmp/cpu.lock python benchmarks/inspector_kolektor.py --detector runs/ksdd_detector --out runs/kolektor
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from deepseek_apps import QualityInspector
from deepseek_apps.apps.inspector.anomaly.data import labelled_images
from deepseek_apps.core.bench import cpu_info
from deepseek_apps.core.metrics import average_precision, roc_auc

SCORE_FLOOR = 0.01  # the detector keeps defects from this confidence for the image score


def image_scores(inspector: QualityInspector, paths: list[Path]) -> tuple[np.ndarray, list[str], float]:
    """Each image's score and verdict, and the median ``predict`` time per image at batch 1 (after a warm-up)."""
    inspector.predict(paths[0])
    scores, verdicts, times = [], [], []
    for path in paths:
        t0 = time.perf_counter()
        result = inspector.predict(path)[0]
        times.append(time.perf_counter() - t0)
        if hasattr(result, "score"):  # anomaly
            scores.append(float(result.score))
        else:
            scores.append(max((d.score for d in result.defects), default=0.0))
        verdicts.append(result.verdict)
    return np.asarray(scores), verdicts, float(np.median(times) * 1000)


def judged(labels: np.ndarray, scores: np.ndarray, verdicts: list[str]) -> dict:
    ng = np.asarray([v == "NG" for v in verdicts])
    return {
        "image_auroc": round(roc_auc(labels, scores), 4),
        "image_ap": round(average_precision(labels, scores), 4),
        "defective_found": f"{int((ng & labels).sum())} of {int(labels.sum())}",
        "good_rejected": f"{int((ng & ~labels).sum())} of {int((~labels).sum())}",
    }


def detector_side(folder: Path, data: str, out: Path, threshold: float) -> dict:
    items = labelled_images(data, "val")
    paths, labels = [i.path for i in items], np.asarray([i.defective for i in items])
    rows = {}
    torch_model = QualityInspector(model_path=folder, confidence_threshold=SCORE_FLOOR)
    scores, _, ms = image_scores(torch_model, paths)
    verdicts = ["NG" if s >= threshold else "OK" for s in scores]
    box_map = torch_model.evaluate(data, format="yolo", split="test").to_dict()["map50"]
    rows["detector, PyTorch FP32"] = {**judged(labels, scores, verdicts), "box_map50": box_map, "ms_per_image": ms}
    bundle = torch_model.export(
        out / "detector_int8.zip",
        calib=Path(data) / "images" / "train",
        force=True,
        eval_data=data,
        eval_format="yolo",
        eval_split="test",
    )
    edge = QualityInspector(model_path=bundle, confidence_threshold=SCORE_FLOOR)
    scores, _, ms = image_scores(edge, paths)
    verdicts = ["NG" if s >= threshold else "OK" for s in scores]
    box_map = edge.evaluate(data, format="yolo", split="test").to_dict()["map50"]
    rows["detector, INT8 bundle"] = {
        **judged(labels, scores, verdicts),
        "box_map50": box_map,
        "ms_per_image": ms,
        "bundle_mb": round(bundle.stat().st_size / 1e6, 2),
    }
    return rows


def anomaly_side(data: str, out: Path) -> dict:
    items = labelled_images(data, "val")
    paths, labels = [i.path for i in items], np.asarray([i.defective for i in items])
    inspector = QualityInspector(task="anomaly", batch_size=8)
    t0 = time.perf_counter()
    inspector.fit(data, seed=0)
    fit_s = round(time.perf_counter() - t0, 1)
    rows = {}
    scores, verdicts, ms = image_scores(inspector, paths)
    pixel = inspector.evaluate(data, split="val").to_dict()["pixel_auroc"]
    rows["anomaly, PyTorch FP32"] = {**judged(labels, scores, verdicts), "pixel_auroc": pixel, "ms_per_image": ms}
    rows["anomaly, PyTorch FP32"]["fit_seconds"] = fit_s
    bundle = inspector.export(out / "anomaly_int8.zip", eval_data=data, eval_split="val")
    edge = QualityInspector.load(bundle)
    scores, verdicts, ms = image_scores(edge, paths)
    pixel = edge.evaluate(data, split="val").to_dict()["pixel_auroc"]
    rows["anomaly, INT8 bundle"] = {
        **judged(labels, scores, verdicts),
        "pixel_auroc": pixel,
        "ms_per_image": ms,
        "bundle_mb": round(bundle.stat().st_size / 1e6, 2),
    }
    return rows


def table(rows: dict) -> str:
    cols = ["image_auroc", "image_ap", "defective_found", "good_rejected", "box_map50", "pixel_auroc", "ms_per_image"]
    lines = ["| model | " + " | ".join(cols) + " | bundle MB |", "|---" * (len(cols) + 2) + "|"]
    for name, row in rows.items():
        cells = [row.get(c, "-") for c in cols] + [row.get("bundle_mb", "-")]
        lines.append(f"| {name} | " + " | ".join(f"{c:.3f}" if isinstance(c, float) else str(c) for c in cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/kolektorsdd")
    parser.add_argument("--detector", required=True, help="the detector's training folder (inspector train --out)")
    parser.add_argument("--out", default="runs/kolektor")
    parser.add_argument(
        "--threshold", type=float, default=0.3, help="the detector's NG verdict: a defect at this confidence"
    )
    args = parser.parse_args()
    torch.set_num_threads(2)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = {**detector_side(Path(args.detector), args.data, out, args.threshold), **anomaly_side(args.data, out)}
    training = json.loads((Path(args.detector) / "config.json").read_text())
    report = {
        "data": args.data,
        "split": "detector: trained on images/train (10% of it for validation), scored on images/val; "
        "anomaly: fitted on the good images of images/train, scored on images/val",
        "cpu": cpu_info(),
        "threads": 2,
        "detector_training": {k: training.get(k) for k in ("resolution", "tiling", "balance", "result")},
        "rows": rows,
    }
    text = table(rows)
    print(text)
    (out / "kolektor.json").write_text(json.dumps(report, indent=2, default=float))
    (out / "kolektor.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
