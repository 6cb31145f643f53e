"""KolektorSDD, good-only: fit the anomaly task on the good training images, report on the val folder.

Side by side in one process: the PyTorch FP32 model and its INT8 edge bundle (image AUROC,
pixel AUROC, region overlap, latency per image at batch 1, bundle size).

    flock /tmp/cpu.lock python benchmarks/inspector_anomaly.py --data ../shared/data/kolektorsdd --out runs/anomaly
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from deepseek_apps import QualityInspector
from deepseek_apps.apps.inspector.anomaly.config import BACKBONES, AnomalyConfig
from deepseek_apps.apps.inspector.anomaly.data import labelled_images


def latency_ms(inspector: QualityInspector, paths: list[Path], repeat: int = 1) -> float:
    """Median per-image time of ``predict`` at batch 1 (decode, resize, embed, search, map), after one warm-up."""
    inspector.predict(paths[0])
    times = []
    for _ in range(repeat):
        for path in paths:
            t0 = time.perf_counter()
            inspector.predict(path)
            times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/kolektorsdd")
    parser.add_argument("--out", default="runs/anomaly")
    parser.add_argument(
        "--long-side", type=int, default=AnomalyConfig.long_side, help="working long side (0: from the images)"
    )
    parser.add_argument("--patch-stride", type=int, default=AnomalyConfig.patch_stride)
    parser.add_argument("--coreset-ratio", type=float, default=AnomalyConfig.coreset_ratio)
    parser.add_argument("--backbone", default=AnomalyConfig.backbone, choices=BACKBONES)
    parser.add_argument(
        "--score-top", type=float, default=AnomalyConfig.score_top, help="top share of the map averaged (0: max)"
    )
    parser.add_argument("--latency-images", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(2)
    out = Path(args.out)
    config = AnomalyConfig(
        long_side=args.long_side or None,
        patch_stride=args.patch_stride,
        coreset_ratio=args.coreset_ratio,
        backbone=args.backbone,
        score_top=args.score_top,
    )
    inspector = QualityInspector(task="anomaly", anomaly_config=config, batch_size=8)
    t0 = time.perf_counter()
    inspector.fit(args.data, seed=0)
    fit_s = time.perf_counter() - t0
    fp32 = inspector.evaluate(args.data, split="val").to_dict()
    inspector.save(out / "model")
    bundle = inspector.export(out / "anomaly_int8.zip", eval_data=args.data, eval_split="val")
    edge = QualityInspector.load(bundle)
    int8 = edge.evaluate(args.data, split="val").to_dict()
    paths = [item.path for item in labelled_images(args.data, "val")][: args.latency_images]
    report = {
        "data": str(args.data),
        "split": "fit: good images of images/train; scores: images/val",
        "cpu": platform.processor() or platform.machine(),
        "threads": 2,
        "fit": inspector.metrics_,
        "fit_seconds": round(fit_s, 1),
        "fp32": fp32,
        "int8": int8,
        "parity": inspector.export_report_,
        "bundle_mb": round(bundle.stat().st_size / 1e6, 2),
        "latency_ms_batch1": {
            "fp32_torch": latency_ms(inspector, paths),
            "int8_bundle": latency_ms(edge, paths),
        },
    }
    ratio = report["latency_ms_batch1"]["fp32_torch"] / report["latency_ms_batch1"]["int8_bundle"]
    report["latency_ms_batch1"]["int8_speedup"] = round(ratio, 2)
    print(json.dumps(report, indent=2, default=float))
    (out / "benchmark.json").write_text(json.dumps(report, indent=2, default=float))


if __name__ == "__main__":
    main()
