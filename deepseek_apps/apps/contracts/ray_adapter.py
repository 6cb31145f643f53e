"""How the contract parser's batch job runs on Ray (``analyze_files(..., engine="ray")``): items are files.

Each actor builds the parser once and runs the batch module's ``prepare`` (glossary, clause
model) before its first file; each file is analysed by the same ``analyze_one`` as the local
job. Files must be readable by every worker (a shared or mounted folder on a cluster).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...core.scale.ray_batch import plan_slices, run_batch


@dataclass
class ContractsAdapter:
    """``prepare(parser)`` and ``analyze_one(parser, path) -> record``: the local job's own steps."""

    prepare_parser: Callable[[Any], None]
    analyze_one: Callable[[Any, Path], dict]

    def item_key(self, item: str) -> str:
        return item  # the record's "file"

    def plan(self, todo: list[str], batch_size: int) -> list[list[str]]:
        return plan_slices(todo, batch_size)

    def prepare(self, app: Any) -> None:
        self.prepare_parser(app)

    def score(self, app: Any, state: None, items: list[str]) -> list[dict]:
        return [self.analyze_one(app, Path(i)) for i in items]


def analyze_on_ray(
    parser, paths: list[Path], out, prepare, analyze_one, progress: bool, batch_size=None, **ray_options
):
    """``(records by file, files analysed now, seconds)`` of the job on Ray; ``out`` is a folder of parts."""
    run = run_batch(
        parser,
        ContractsAdapter(prepare, analyze_one),
        [str(p) for p in paths],
        str(out),
        batch_size=batch_size or 4,
        progress=progress,
        **ray_options,
    )
    return {rec["file"]: rec for rec in run.records}, run.scored_now, run.seconds
