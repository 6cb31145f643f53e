"""The flags every ``score`` and ``train`` command shares to run on Ray: one definition, one line per CLI."""

from __future__ import annotations

import argparse
from typing import Any

from .session import ENGINES


def add_engine_options(parser: argparse.ArgumentParser, train: bool = False) -> None:
    """``--engine``, ``--address``, ``--workers`` (and ``--batch-size`` where the command lacks one; ``--use-gpu`` for training)."""
    g = parser.add_argument_group("scale out (Ray)")
    g.add_argument(
        "--engine",
        default="local",
        choices=ENGINES,
        help="local: this process (default); ray: a Ray cluster (pip install 'deepseek-apps[ray]')",
    )
    g.add_argument(
        "--address",
        default=None,
        help="ray: the cluster, 'auto' (started with `ray start --head`) or ray://host:10001 "
        "(default: $RAY_ADDRESS, else a local cluster on this machine)",
    )
    g.add_argument("--workers", type=int, default=None, help="ray: actors / training workers (default: the CPUs)")
    if train:
        g.add_argument("--use-gpu", action="store_true", help="ray: one GPU per training worker")
        g.add_argument("--max-failures", type=int, default=2, help="ray: restarts after a lost worker (resumes)")
    elif "--batch-size" not in parser._option_string_actions:  # noqa: SLF001  (argparse has no public lookup)
        g.add_argument(
            "--batch-size",
            type=int,
            default=None,
            help="ray: items per chunk, one output part each (default: the job's)",
        )


def engine_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments the batch functions take: ``engine``, ``address``, ``workers``."""
    return {"engine": args.engine, "address": args.address, "workers": args.workers}


def train_engine_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of ``ray_train.fit_on_ray`` from ``add_engine_options(..., train=True)``'s flags."""
    return {
        "workers": args.workers or 2,
        "use_gpu": args.use_gpu,
        "address": args.address,
        "max_failures": args.max_failures,
    }
