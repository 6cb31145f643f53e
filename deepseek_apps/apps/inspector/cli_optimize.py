"""``inspector optimize``: the detector through the compression levels into an edge bundle.

``run_optimize(args)`` also serves ``deepseek-apps optimize inspector`` (the same flags).
"""

from __future__ import annotations

import argparse

from ...core.compress.cli_options import QAT_CHOICES, add_recovery_options, print_report
from .cli_use import FORMATS, add_model_argument


def add_parser(cmds: argparse._SubParsersAction) -> None:
    o = cmds.add_parser("optimize", help="make the detector smaller and faster (levels 0-3) and write a bundle")
    o.add_argument(
        "--level",
        type=int,
        default=2,
        choices=[0, 1, 2, 3],
        help="0 FP32 ONNX, 1 graph-optimised, 2 INT8 mixed precision, 3 pruning + fine-tune + INT8",
    )
    o.add_argument("--data", required=True, help="annotated data: calibration, fine-tuning and the metric")
    o.add_argument("--format", default="voc", choices=FORMATS, help="annotation format of --data")
    add_model_argument(o, torch_only=True)
    add_recovery_options(o, finetune_default="60")
    o.add_argument("--out", required=True, help="bundle path (.zip or folder)")
    o.set_defaults(func=run_optimize)


def run_optimize(args: argparse.Namespace) -> int:
    """Optimise ``args.model`` (default: the shipped weights) and print the report; exit 3 when over budget.

    Reads ``model, data, format, out, level, max_drop, finetune_epochs, fold_groupnorm,
    prune_ratios, qat`` from ``args``.
    """
    from .app import QualityInspector

    inspector = QualityInspector(model_path=args.model or QualityInspector.default_weights)
    epochs = {} if args.finetune_epochs is None else {"finetune_epochs": args.finetune_epochs}
    bundle, report = inspector.optimize(
        args.data,
        args.out,
        level=args.level,
        format=args.format,
        max_accuracy_drop=args.max_drop,
        prune_ratios=args.prune_ratios,
        qat=QAT_CHOICES[args.qat],
        fold_norms=args.fold_groupnorm,
        **epochs,
    )
    return print_report(bundle, report)
