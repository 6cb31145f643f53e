"""``inspector evaluate | score | export`` sub-commands."""

from __future__ import annotations

import argparse
import json


def _model_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="model folder or bundle (default: the embedded NEU-DET model)")


def _backend_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--backend",
        default="onnxruntime",
        choices=["onnxruntime", "openvino"],
        help="runtime for bundles (openvino: the openvino extra; faster INT8 on CPUs with AMX)",
    )


def add_parsers(cmds: argparse._SubParsersAction) -> None:
    e = cmds.add_parser("evaluate", help="mAP@0.5 and per-class AP on an annotated dataset")
    e.add_argument("--data", required=True)
    e.add_argument("--format", default="voc", choices=["voc", "yolo", "coco", "masks"])
    e.add_argument(
        "--split",
        default="all",
        choices=["all", "val", "test"],
        help="val/test: the split recorded with the model at training time",
    )
    e.add_argument("--json", action="store_true", help="print one JSON object")
    _model_arg(e)
    _backend_arg(e)
    e.set_defaults(func=_evaluate)

    s = cmds.add_parser("score", help="score image files, folders or globs into a JSON-lines file (resumable)")
    s.add_argument("paths", nargs="+", metavar="PATH")
    s.add_argument("--out", required=True, help="results .jsonl (re-running skips files already in it)")
    s.add_argument("--save-annotated", default=None, metavar="DIR", help="write images with boxes drawn")
    s.add_argument("--confidence", type=float, default=0.3)
    s.add_argument("--batch-size", type=int, default=16)
    s.add_argument("--no-progress", action="store_true")
    _model_arg(s)
    _backend_arg(s)
    s.set_defaults(func=_score)

    x = cmds.add_parser("export", help="write an edge bundle (manifest + ONNX), optionally INT8")
    x.add_argument("--out", required=True, help="bundle path: a .zip or a folder")
    x.add_argument("--int8", action="store_true", help="static INT8 quantization (QDQ, per-channel)")
    x.add_argument("--calib", default=None, help="folder of calibration images (default: generated samples)")
    x.add_argument("--calibration-method", default="minmax", choices=["minmax", "entropy", "percentile"])
    x.add_argument("--eval-data", default=None, help="measure the bundle's metrics on this dataset")
    x.add_argument("--eval-format", default="voc", choices=["voc", "yolo", "coco", "masks"])
    x.add_argument("--eval-split", default="all", choices=["all", "val", "test"])
    x.add_argument("--name", default=None, help="model name written in the manifest")
    _model_arg(x)
    x.set_defaults(func=_export)


def _inspector(args, **kw):
    from .app import QualityInspector

    return QualityInspector(model_path=args.model, backend=getattr(args, "backend", "onnxruntime"), **kw)


def _evaluate(args: argparse.Namespace) -> int:
    inspector = _inspector(args)
    result = inspector.evaluate(args.data, format=args.format, split=args.split)
    if args.json:
        print(json.dumps(result, indent=2, default=float))
    else:
        print(f"mAP@0.5 = {result['map50']:.4f} on {result['num_images']} images ({args.split})")
        for name, ap in result["per_class"].items():
            print(f"  {name:<20} {'-' if ap is None else f'{ap:.4f}'}")
    return 0


def _score(args: argparse.Namespace) -> int:
    from .scoring import format_summary, score_files

    inspector = _inspector(args, confidence_threshold=args.confidence, batch_size=args.batch_size)
    summary = score_files(inspector, args.paths, args.out, args.save_annotated, progress=not args.no_progress)
    print(format_summary(summary, inspector.class_names))
    return 0


def _export(args: argparse.Namespace) -> int:
    from .app import DEFAULT_TORCH, QualityInspector

    # The default runs as an INT8 bundle; export starts from the same model's PyTorch weights.
    inspector = QualityInspector(model_path=args.model or DEFAULT_TORCH)
    path = inspector.export(
        args.out,
        int8=args.int8,
        calib=args.calib,
        calibration_method=args.calibration_method,
        eval_data=args.eval_data,
        eval_format=args.eval_format,
        eval_split=args.eval_split,
        model_name=args.name,
    )
    from ...core.runtime.bundle import read_bundle

    manifest = read_bundle(path).manifest
    print(
        json.dumps(
            {
                "bundle": str(path),
                "precision": manifest["precision"],
                "parity_max_abs_diff": manifest["export"]["max_abs_diff"],
                "metrics": {k: v for k, v in manifest["metrics"].items() if k != "per_class"},
            },
            indent=2,
            default=float,
        )
    )
    return 0
