"""The anomaly task on the command line: ``inspector train --task anomaly`` and ``export`` of an anomaly model.

``evaluate`` and ``predict`` / ``score`` need nothing of their own: ``QualityInspector``
opens an anomaly model by its task and returns anomaly metrics and results.
"""

from __future__ import annotations

import argparse
import json
import sys


def train_anomaly(args: argparse.Namespace) -> int:
    """Fit on the good images of ``--data`` and save the model folder to ``--out``; prints the summary as JSON."""
    from .anomaly.config import AnomalyConfig
    from .app import QualityInspector

    settings = {} if args.input_size is None else {"long_side": args.input_size}
    if args.backbone is not None:
        settings["backbone"] = args.backbone  # "tiny" is refused with 1021 (anomaly needs pretrained features)
    config = AnomalyConfig(**settings).validated()
    inspector = QualityInspector(task="anomaly", anomaly_config=config, threads=args.threads or 2)
    inspector.fit(args.data, val_fraction=args.val_fraction, seed=args.seed, progress=not args.no_progress)
    inspector.save(args.out)
    summary = inspector.metrics_
    print(
        f"working size {summary['working_size']} (long side {config.long_side or 'from the images'}, aspect of the good images); "
        f"{summary['good_images']} good images, {summary['defective_left_out']} defective left out",
        file=sys.stderr,
    )
    print(json.dumps({"out": args.out, **summary}, default=float))
    return 0


def export_anomaly(args: argparse.Namespace) -> int:
    """Write the INT8 (or FP32) bundle of an anomaly model folder; prints parity and metrics as JSON."""
    from .app import QualityInspector

    inspector = QualityInspector.load(args.model)
    split = "val" if args.eval_split == "all" else args.eval_split
    path = inspector.export(args.out, int8=args.int8, calib=args.calib, eval_data=args.eval_data, eval_split=split)
    print(json.dumps({"bundle": str(path), "parity": inspector.export_report_}, indent=2, default=float))
    return 0
