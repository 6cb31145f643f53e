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


def print_report(bundle, report) -> int:
    """Steps, the comparison table and the bundle path; exit status 3 when the budget was missed."""
    for step in report.steps:
        metric = "" if step.metric is None else f" ({report.metric_name} {step.metric:.2f})"
        print(f"- {step.step}: {step.detail}{metric}")
    print(report.table())
    print(f"bundle: {bundle}")
    return 0 if report.within_budget else 3
