"""Fit a ``FraudDetector`` and save it, in this process or on Ray Train workers (``--engine ray``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ...core.scale.options import train_engine_options


def fit_and_save(det, data: Any, fit_kwargs: dict, args: argparse.Namespace) -> tuple[Any, Path]:
    """``det.fit(data, **fit_kwargs)`` saved to ``--out``: here, or with ``--engine ray`` on Ray Train workers.

    On Ray every worker builds the same inputs and fits; the GNN trains under DDP (each worker
    takes its share of the training rows, gradients averaged), the trees and the calibration
    are the same on every worker, and rank 0 saves the model, which the driver then opens.
    """
    if args.engine == "ray":
        from ...core.scale.ray_train import fit_app_on_ray

        det, _ = fit_app_on_ray(det, data, fit_kwargs, args.out, **train_engine_options(args))
        return det, Path(args.out)
    det.fit(data, **fit_kwargs)
    return det, det.save(args.out)
