"""Where an entity fit's memory goes: peak RSS and time of each phase (Linux only).

Fits ``FraudDetector(task="entities")`` on the seeded scale generator and prints, for every
phase (reading the tables, features, each LightGBM, the adjacency, each GNN fold, the layer
cache, the hybrid features, scoring), the resident memory before it, its peak (the kernel's
high-water mark, reset before the phase through ``/proc/self/clear_refs``) and after it.
``--epochs`` keeps it short: a step's memory does not depend on the number of epochs.

    flock /tmp/cpu.lock .venv/bin/python benchmarks/fraud_entities_memory.py --n 1000000 --degree 10 --epochs 2
    MALLOC_TOP_PAD_=131072 .venv/bin/python benchmarks/fraud_entities_memory.py --n 200000  # no reuse (core.alloc)
"""

from __future__ import annotations

import argparse
import functools
import platform
import time

from deepseek_apps import FraudDetector
from deepseek_apps.apps.fraud.entities import detector, facade
from deepseek_apps.apps.fraud.entities.graph import EntityTask
from deepseek_apps.apps.fraud.entities.synthetic import generate_entities
from deepseek_apps.core import alloc

GB = 1 << 30


def memory() -> dict[str, float]:
    """``VmRSS`` and ``VmHWM`` of this process, in GB."""
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024 / GB
    return out


class Phases:
    """Wraps functions so that each outermost call prints its memory and time."""

    def __init__(self) -> None:
        self.inside = False

    def wrap(self, owner, name: str) -> None:
        inner = getattr(owner, name)

        @functools.wraps(inner)
        def measured(*args, **kwargs):
            if self.inside:
                return inner(*args, **kwargs)
            self.inside = True
            before = memory()["VmRSS"]
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")  # reset the high-water mark to the current RSS
            t0 = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                now = memory()
                print(
                    f"| {name} | {before:.2f} | {now['VmHWM']:.2f} | {now['VmHWM'] - before:+.2f} | "
                    f"{now['VmRSS']:.2f} | {time.perf_counter() - t0:.1f} |",
                    flush=True,
                )
                self.inside = False

        setattr(owner, name, measured)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200_000, help="entities")
    ap.add_argument("--degree", type=float, default=10.0, help="random edges per node (plus rings)")
    ap.add_argument("--epochs", type=int, default=2, help="GNN epochs per fold")
    args = ap.parse_args()
    print(
        f"# CPU: {platform.processor() or platform.machine()}; n={args.n} degree={args.degree} epochs={args.epochs}; "
        f"reuse budget {alloc.BUDGET_FRACTION * alloc.usable_memory() / GB:.1f} GB"
    )
    nodes, edges = generate_entities(args.n, seed=0, degree=args.degree)
    print(f"# {sum(len(e) for e in edges.values()):,} edges; tables in memory: {memory()['VmRSS']:.2f} GB")
    print("| phase | RSS before (GB) | peak (GB) | peak - before | RSS after | seconds |")
    print("|---|---|---|---|---|---|")
    phases = Phases()
    phases.wrap(facade, "load_entity_graph")
    for name in ("node_features", "train_trees", "train_gnn", "predict_trees"):
        phases.wrap(detector, name)
    for name in ("prepare", "adjacency", "gnn_cache", "hybrid_features", "score_matrix"):
        phases.wrap(detector.EntityModel, name)
    FraudDetector(task=EntityTask(directed=("transfer",)), seed=0).fit(nodes, edges, epochs=args.epochs)
    print(f"# end: {memory()['VmRSS']:.2f} GB resident")


if __name__ == "__main__":
    main()
