"""``deepseek-apps inspector ...``: train, evaluate, predict (alias score), export, optimize."""

from __future__ import annotations

import argparse
import json
import sys

from ...core.device import add_device_options
from ...core.scale.options import add_engine_options, train_engine_options
from .cli_use import FORMATS, add_tile_options

ARCHITECTURES = {  # --arch -> DetectorConfig.head_norm
    "fcos-gn": "gn",  # torchvision's GroupNorm head: more accurate (the shipped default)
    "fcos-bn": "bn",  # BatchNorm head: folds into the convs, fastest INT8
}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspector", help="visual defect inspection (QualityInspector)")
    cmds = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = cmds.add_parser("train", help="train a detector on your own annotated images")
    t.add_argument("--data", required=True, help="annotated dataset folder (anomaly: good images)")
    t.add_argument(
        "--task",
        default="detection",
        choices=["detection", "anomaly"],
        help="anomaly: fit on the good images only (score, OK/NG, heat map); uses --data, --out, --seed, "
        "--val-fraction (good images held out for the threshold), --input-size (long side), --threads",
    )
    t.add_argument("--format", default="voc", choices=FORMATS, help="annotation format of --data")
    t.add_argument("--classes", default=None, help="comma-separated class names (order = label ids)")
    t.add_argument("--out", required=True, help="model folder to write (checkpoints, history; QualityInspector.load)")
    t.add_argument("--epochs", type=int, default=30, help="training epochs")
    t.add_argument("--seed", type=int, default=0, help="seed of the data split, initialisation and augmentation")
    t.add_argument("--val-fraction", type=float, default=0.1, help="share held out to pick the best epoch")
    t.add_argument("--test-fraction", type=float, default=0.15, help="share held out for the reported test mAP")
    t.add_argument("--batch-size", type=int, default=32, help="images per optimisation step")
    t.add_argument("--lr", type=float, default=2e-3, help="peak learning rate")
    t.add_argument("--threads", type=int, default=None, help="torch threads per process (default: cores / processes)")
    add_device_options(t)  # --device, --precision
    t.add_argument(
        "--arch",
        default="fcos-gn",
        choices=sorted(ARCHITECTURES),
        help="fcos-gn: GroupNorm head (more accurate, the default's); fcos-bn: BatchNorm head (fastest INT8)",
    )
    t.add_argument("--head-norm", choices=["bn", "gn"], default=None, help=argparse.SUPPRESS)  # old name of --arch
    t.add_argument(
        "--input-size",
        type=int,
        default=None,
        help="model input side in pixels (multiple of 32); default: chosen from the training boxes",
    )
    t.add_argument(
        "--backbone",
        default=None,
        choices=["tiny", "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"],
        help="detection: efficientnet_lite0 (ImageNet-pretrained, the default) or tiny (small network from scratch: "
        "faster epochs, needs more data); "
        "--task anomaly: efficientnet_lite1 (default), efficientnet_lite0 or efficientnet_lite2",
    )
    t.add_argument("--channels", type=int, default=1, choices=[1, 3], help="1 = grayscale model, 3 = colour")
    t.add_argument("--head-convs", type=int, default=4, help="3x3 convs in each FCOS head branch")
    add_tile_options(t, train=True)
    t.add_argument("--synthetic", type=int, default=0, help="add N generated images to the training split")
    t.add_argument(
        "--positive-share",
        type=float,
        default=None,
        metavar="S",
        help="where most training images (or tiles) are good, repeat the ones with a defect until they are about "
        "this share of an epoch, at most 8x (default 0.25; 0: never)",
    )
    t.add_argument(
        "--monitor",
        choices=["map50", "image_auroc"],
        default="map50",
        help="what picks the kept epoch on validation: map50 (box quality, default) or image_auroc (OK/NG "
        "ranking of good and defective images, for good-heavy lines where boxes matter less)",
    )
    t.add_argument("--no-resume", action="store_true", help="start over even if --out holds a checkpoint")
    t.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_engine_options(t, train=True)
    t.set_defaults(func=_train)

    from . import cli_optimize, cli_use

    cli_use.add_parsers(cmds)
    cli_optimize.add_parser(cmds)


def _train(args: argparse.Namespace) -> int:
    from ...core.train import TrainConfig
    from .app import QualityInspector
    from .health import TrainingHealth
    from .model import DetectorConfig
    from .ray_adapter import ray_fit
    from .resolution import check_input_size

    if args.task == "anomaly":
        from .cli_anomaly import train_anomaly

        return train_anomaly(args)
    if args.input_size is not None:
        check_input_size(args.input_size)
    classes = tuple(c.strip() for c in args.classes.split(",")) if args.classes else None
    inspector = QualityInspector(
        detector_config=DetectorConfig(
            input_size=args.input_size,
            in_channels=args.channels,
            head_convs=args.head_convs,
            head_norm=args.head_norm or ARCHITECTURES[args.arch],
            backbone=args.backbone or DetectorConfig.backbone,
        ),
        train_config=TrainConfig(
            batch_size=args.batch_size,
            lr=args.lr,
            threads=args.threads,
            out_dir=args.out,
            resume=not args.no_resume,
            device=args.device,
            precision=args.precision,
            monitor=args.monitor,
        ),
        tile=args.tile,
        tile_overlap=args.tile_overlap,
    )
    fit = inspector.fit if args.engine == "local" else ray_fit(inspector, train_engine_options(args))
    fit(
        args.data,
        format=args.format,
        class_names=classes,
        val_fraction=args.val_fraction,
        test_fraction=args.test_fraction,
        seed=args.seed,
        epochs=args.epochs,
        progress=not args.no_progress,
        synthetic=args.synthetic,
        positive_share=args.positive_share,
    )
    health = inspector.metrics_["training_health"]
    print(f"input size {inspector.metrics_['input_size']}: {inspector.metrics_['input_size_reason']}", file=sys.stderr)
    if inspector.metrics_.get("tiling"):
        print(f"tiling: {inspector.metrics_['tiling']}", file=sys.stderr)
    balance = inspector.metrics_.get("balance") or {}
    if balance.get("repeat", 1) > 1:
        print(
            f"positives: {balance['items_with_defects']} of {balance['items']} training items show a defect, "
            f"repeated {balance['repeat']}x ({balance['share_after']:.0%} of an epoch)",
            file=sys.stderr,
        )
    print(f"split ({inspector.metrics_['split']}): {inspector.metrics_['split_description']}", file=sys.stderr)
    if health["status"] != "ok":
        print(TrainingHealth(**health).summary(), file=sys.stderr)
    print(json.dumps({"out": args.out, **inspector.metrics_}, default=float))  # the last line: final metrics
    return 0
