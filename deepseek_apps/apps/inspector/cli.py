"""``deepseek-apps inspector ...`` sub-commands."""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspector", help="visual defect inspection (QualityInspector)")
    cmds = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = cmds.add_parser("train", help="train a detector on your own annotated images")
    t.add_argument("--data", required=True, help="dataset folder")
    t.add_argument("--format", default="voc", choices=["voc", "yolo", "coco", "masks"], help="annotation format")
    t.add_argument("--classes", default=None, help="comma-separated class names (order = label ids)")
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=None, help="torch threads per process (default: cores / processes)")
    t.add_argument("--input-size", type=int, default=192, help="model input side in pixels (multiple of 32)")
    t.add_argument("--channels", type=int, default=1, choices=[1, 3], help="1 = grayscale model, 3 = colour")
    t.add_argument("--head-convs", type=int, default=4, help="3x3 convs in each FCOS head branch")
    t.add_argument(
        "--head-norm",
        default="gn",
        choices=["bn", "gn"],
        help="gn: torchvision's GroupNorm head (more accurate); bn folds into the convs (fastest INT8)",
    )
    t.add_argument("--val-fraction", type=float, default=0.1)
    t.add_argument("--test-fraction", type=float, default=0.15)
    t.add_argument("--synthetic", type=int, default=0, help="add N generated images to the training split")
    t.add_argument("--out", required=True, help="output folder (checkpoints, history, model)")
    t.add_argument("--no-resume", action="store_true", help="start over even if --out holds a checkpoint")
    t.add_argument("--no-progress", action="store_true")
    t.set_defaults(func=_train)

    from . import cli_use

    cli_use.add_parsers(cmds)


def _train(args: argparse.Namespace) -> int:
    from ...core.train import TrainConfig
    from .app import QualityInspector
    from .model import DetectorConfig

    if args.input_size % 32:
        from ...errors import ErrorCode, InvalidInputError

        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            "input size must be a multiple of 32",
            value=args.input_size,
            hint="try 192 or 224",
        )
    classes = tuple(c.strip() for c in args.classes.split(",")) if args.classes else None
    inspector = QualityInspector(
        detector_config=DetectorConfig(
            input_size=args.input_size,
            in_channels=args.channels,
            head_convs=args.head_convs,
            head_norm=args.head_norm,
        ),
        train_config=TrainConfig(
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            seed=args.seed,
            threads=args.threads,
            out_dir=args.out,
            resume=not args.no_resume,
            progress=not args.no_progress,
        ),
    )
    inspector.fit(
        args.data,
        format=args.format,
        class_names=classes,
        val_fraction=args.val_fraction,
        test_fraction=args.test_fraction,
        synthetic=args.synthetic,
    )
    summary = {"out": args.out, **{k: v for k, v in inspector.metrics_.items() if k != "per_class"}}
    print(json.dumps(summary, indent=2, default=float), file=sys.stdout)
    return 0
