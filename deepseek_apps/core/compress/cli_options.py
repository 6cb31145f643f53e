"""What every ``optimize`` command shares: the ``--qat`` and ``--prune-ratios`` options and the report printout."""

from __future__ import annotations

import argparse

QAT_CHOICES = {"auto": None, "always": True, "never": False}


def parse_ratios(text: str) -> tuple[float, ...]:
    """``"0.5,0.35"`` -> ``(0.5, 0.35)``; argparse reports anything else."""
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated fractions like 0.5,0.35, got {text!r}") from None


def add_recovery_options(parser: argparse.ArgumentParser, finetune_default: str) -> None:
    """``--max-drop``, ``--finetune-epochs``, ``--fold-groupnorm``, ``--prune-ratios`` and ``--qat``."""
    parser.add_argument("--max-drop", type=float, default=1.0, help="accuracy budget in metric points (mAP x100)")
    parser.add_argument(
        "--finetune-epochs",
        type=int,
        default=None,
        help=f"level 3 / QAT: epochs of recovery training (default: {finetune_default})",
    )
    parser.add_argument(
        "--fold-groupnorm",
        action="store_true",
        help="inspector level 3: head GroupNorm -> per-level BatchNorm, folded into the INT8 convs (faster)",
    )
    parser.add_argument(
        "--prune-ratios",
        type=parse_ratios,
        default=(0.5, 0.35, 0.2),
        help="level 3: channel pruning ratios to try, most aggressive first (default 0.5,0.35,0.2)",
    )
    parser.add_argument(
        "--qat",
        choices=sorted(QAT_CHOICES),
        default="auto",
        help="quantization-aware fine-tuning: auto = only when post-training INT8 misses --max-drop",
    )


def print_report(bundle, report) -> int:
    """Steps, the comparison table and the bundle path; exit status 3 when the budget was missed."""
    for step in report.steps:
        metric = "" if step.metric is None else f" ({report.metric_name} {step.metric:.2f})"
        print(f"- {step.step}: {step.detail}{metric}")
    print(report.table())
    print(f"bundle: {bundle}")
    return 0 if report.within_budget else 3
