"""``inspector evaluate | predict (score) | export`` sub-commands."""

from __future__ import annotations

import argparse
import json

from ...core.scale.options import add_engine_options, engine_options

FORMATS = ["voc", "yolo", "coco", "masks"]


def add_model_argument(p: argparse.ArgumentParser, torch_only: bool = False) -> None:
    default = "the shipped model's PyTorch weights" if torch_only else "the shipped NEU-DET model"
    p.add_argument("--model", default=None, help=f"model folder or bundle (default: {default})")


def _backend_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--backend",
        default="onnxruntime",
        choices=["onnxruntime", "openvino"],
        help="runtime for bundles (openvino: the openvino extra; faster INT8 on CPUs with AMX)",
    )


def add_tile_options(p: argparse.ArgumentParser, train: bool = False) -> None:
    """``--tile`` / ``--tile-overlap``: tiled detection of large images (``core.runtime.tiling``)."""
    default = "decided from the training boxes" if train else "the model's own (tiled if it was trained on tiles)"
    p.add_argument(
        "--tile",
        type=int,
        default=None,
        metavar="PX",
        help=f"cut images larger than PX into overlapping PX x PX tiles at native resolution; 0: never; default: {default}",
    )
    p.add_argument(
        "--tile-overlap", type=float, default=0.25, help="share of a tile its neighbours overlap (with --tile)"
    )


def add_parsers(cmds: argparse._SubParsersAction) -> None:
    e = cmds.add_parser("evaluate", help="mAP@0.5 and per-class AP on an annotated dataset (JSON)")
    e.add_argument("--data", required=True, help="annotated dataset folder")
    e.add_argument("--format", default="voc", choices=FORMATS, help="annotation format of --data")
    e.add_argument(
        "--split",
        default="all",
        choices=["all", "val", "test"],
        help="val/test: the split recorded with the model at training time",
    )
    e.add_argument("--table", action="store_true", help="print a readable table instead of JSON")
    e.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # JSON is the default now
    add_model_argument(e)
    _backend_arg(e)
    add_tile_options(e)
    e.set_defaults(func=_evaluate)

    s = cmds.add_parser(
        "predict",
        aliases=["score"],
        help="inspect image files, folders or globs into a JSON-lines file (resumable; bad files recorded)",
    )
    s.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders (recursive) or glob patterns")
    s.add_argument("--out", required=True, help="results .jsonl (re-running skips files already in it)")
    s.add_argument("--save-annotated", default=None, metavar="DIR", help="write images with boxes drawn")
    s.add_argument("--confidence", type=float, default=0.3, help="drop defects scoring below this")
    s.add_argument("--batch-size", type=int, default=16, help="images per forward pass")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_model_argument(s)
    _backend_arg(s)
    add_tile_options(s)
    add_engine_options(s)
    s.set_defaults(func=_predict)

    x = cmds.add_parser("export", help="write an edge bundle (manifest + ONNX), INT8 unless --no-int8")
    x.add_argument("--out", required=True, help="bundle path: a .zip or a folder")
    x.add_argument(
        "--int8",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="static INT8 quantization (QDQ, per-channel); --no-int8 keeps FP32",
    )
    x.add_argument(
        "--calib",
        default=None,
        help="folder of typical images for INT8 calibration (default: 64 generated steel-surface images)",
    )
    x.add_argument(
        "--calibration-method",
        default="minmax",
        choices=["minmax", "entropy", "percentile"],
        help="how INT8 ranges are chosen from the calibration images",
    )
    x.add_argument("--eval-data", default=None, help="measure the bundle's metrics on this dataset")
    x.add_argument("--eval-format", default="voc", choices=FORMATS, help="annotation format of --eval-data")
    x.add_argument("--eval-split", default="all", choices=["all", "val", "test"], help="split of --eval-data")
    x.add_argument("--name", default=None, help="model name written in the manifest")
    x.add_argument("--force", action="store_true", help="export even a model whose training run failed (code 4110)")
    add_model_argument(x, torch_only=True)
    x.set_defaults(func=_export)


def _inspector(args, **kw):
    from .app import QualityInspector

    tiles = {"tile": args.tile, "tile_overlap": args.tile_overlap} if hasattr(args, "tile") else {}
    return QualityInspector(model_path=args.model, backend=getattr(args, "backend", "onnxruntime"), **tiles, **kw)


def _evaluate(args: argparse.Namespace) -> int:
    metrics = _inspector(args).evaluate(args.data, format=args.format, split=args.split)
    if not args.table or not hasattr(metrics, "map50"):  # anomaly metrics: JSON only
        print(json.dumps(metrics.to_dict(), default=float))
        return 0
    print(f"mAP@0.5 = {metrics.map50:.4f} on {metrics.num_images} images ({metrics.split})")
    for name, ap in metrics.per_class.items():
        print(f"  {name:<20} {'-' if ap is None else f'{ap:.4f}'}")
    if metrics.image_auroc is not None:
        print(
            f"OK/NG ranking: image AUROC {metrics.image_auroc:.4f}, image AP {metrics.image_ap:.4f} "
            f"({metrics.good_images} good, {metrics.defect_images} defective images)"
        )
    return 0


def _predict(args: argparse.Namespace) -> int:
    from .scoring import format_summary, score_files

    inspector = _inspector(args, confidence_threshold=args.confidence, batch_size=args.batch_size)
    summary = score_files(
        inspector, args.paths, args.out, args.save_annotated, progress=not args.no_progress, **engine_options(args)
    )
    print(format_summary(summary, inspector.class_names))
    return 0


def _export(args: argparse.Namespace) -> int:
    from ...core.runtime.bundle import read_bundle
    from .anomaly.storage import is_anomaly_model
    from .app import QualityInspector

    if args.model and is_anomaly_model(args.model):
        from .cli_anomaly import export_anomaly

        return export_anomaly(args)
    # The default runs as an INT8 bundle; export starts from the same model's PyTorch weights.
    inspector = QualityInspector(model_path=args.model or QualityInspector.default_weights)
    path = inspector.export(
        args.out,
        int8=args.int8,
        calib=args.calib,
        calibration_method=args.calibration_method,
        eval_data=args.eval_data,
        eval_format=args.eval_format,
        eval_split=args.eval_split,
        model_name=args.name,
        force=args.force,
    )
    manifest = read_bundle(path).manifest
    summary = {
        "bundle": str(path),
        "precision": manifest["precision"],
        "parity_max_abs_diff": manifest["export"]["max_abs_diff"],
        "metrics": {k: v for k, v in manifest["metrics"].items() if k != "per_class"},
    }
    print(json.dumps(summary, indent=2, default=float))
    return 0
