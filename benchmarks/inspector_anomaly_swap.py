"""KolektorSDD with the roles of its folders swapped: fit on the good images of ``images/val``, score ``images/train``.

A second, larger check of the anomaly task's settings beside ``inspector_anomaly.py``
(which fits on ``train`` and scores ``val``: 79 images, 10 defective): here the memory bank
holds the 69 good val images (10% of them set the threshold) and the scores cover the 320
train images, 42 of them defective, so a choice made on one direction can be checked on the
other. PyTorch FP32, 2 threads.

    flock /tmp/cpu.lock python benchmarks/inspector_anomaly_swap.py --backbones efficientnet_lite0 efficientnet_lite1
    flock /tmp/cpu.lock python benchmarks/inspector_anomaly_swap.py --score-tops 0 0.01   # image score: max vs top 1%
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from deepseek_apps import QualityInspector
from deepseek_apps.apps.inspector.anomaly.config import BACKBONES, AnomalyConfig
from deepseek_apps.apps.inspector.anomaly.data import labelled_images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/kolektorsdd")
    parser.add_argument("--backbones", nargs="+", default=list(BACKBONES), choices=BACKBONES)
    parser.add_argument(
        "--score-tops", nargs="+", type=float, default=[AnomalyConfig.score_top], help="image score settings (0: max)"
    )
    args = parser.parse_args()
    torch.set_num_threads(2)
    good = [item.path for item in labelled_images(args.data, "val") if not item.defective]
    rows = []
    for backbone in args.backbones:
        for top in args.score_tops:
            config = AnomalyConfig(backbone=backbone, score_top=top)
            inspector = QualityInspector(task="anomaly", anomaly_config=config, batch_size=8)
            t0 = time.perf_counter()
            inspector.fit(good, seed=0, progress=False)
            fit_s = time.perf_counter() - t0
            metrics = inspector.evaluate(args.data, split="train").to_dict()
            rows.append({"backbone": backbone, "score_top": top, "fit_s": round(fit_s, 1), **metrics})
            print(json.dumps(rows[-1], default=float), flush=True)
    print("| backbone | image score | image AUROC | pixel AUROC | region overlap | images (defective) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        score = f"top {r['score_top']:.0%} mean" if r["score_top"] else "max"
        print(
            f"| {r['backbone']} | {score} | {r['image_auroc']:.3f} | {r['pixel_auroc']:.3f} "
            f"| {r['region_overlap']:.3f} | {r['images']} ({r['defective']}) |"
        )


if __name__ == "__main__":
    main()
