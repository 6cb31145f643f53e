"""How the fraud detector's batch job runs on Ray (``score_file(..., engine="ray")``): items are rows of one file.

The driver checks every row once (as the local job does) and plans the local job's chunks:
``batch_size`` good rows scored together, each with the bad rows it carries. Each actor
opens the model and checks the file once, then scores its chunks with the same function as
the local job, so a chunk's lines are the local job's. A row is keyed by its position in the
file, so a repeated transaction id is still scored exactly once per row. The file must be
readable by every worker (a shared or mounted path on a cluster).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...core.scale.ray_batch import run_batch


@dataclass
class FraudAdapter:
    """``plan_chunks(good, bad, batch_size)`` and ``chunk_results(det, checked, chunk, bad)``: the local job's steps."""

    data: str
    bad_rows: list[int]
    plan_chunks: Callable[[np.ndarray, np.ndarray, int], list[tuple[np.ndarray, np.ndarray]]]
    chunk_results: Callable[[Any, Any, np.ndarray, np.ndarray], list]

    def item_key(self, item: int) -> int:
        return item

    def plan(self, todo: list[int], batch_size: int) -> list[list[int]]:
        bad = set(self.bad_rows)
        good_rows = np.array([r for r in todo if r not in bad], dtype=np.int64)
        bad_rows = np.array([r for r in todo if r in bad], dtype=np.int64)
        chunks = self.plan_chunks(good_rows, bad_rows, batch_size)
        return [sorted(int(i) for i in (*chunk, *carried)) for chunk, carried in chunks if len(chunk) + len(carried)]

    def prepare(self, app: Any) -> Any:
        return app.check_rows(self.data)

    def score(self, app: Any, checked: Any, items: list[int]) -> list[dict]:
        bad = np.array([i for i in items if i in checked.errors], dtype=np.int64)
        good = np.array([i for i in items if i not in checked.errors], dtype=np.int64)
        return [r.to_dict() for r in self.chunk_results(app, checked, good, bad)]


def score_on_ray(
    det, data: str, out, checked, plan_chunks, chunk_results, batch_size: int, progress: bool, **ray_options
):
    """The local job's counts (this run's rows) of the job on Ray; ``out`` is a folder of parts."""
    adapter = FraudAdapter(str(data), sorted(int(i) for i in checked.errors), plan_chunks, chunk_results)
    rows = list(range(len(checked)))
    run = run_batch(det, adapter, rows, str(out), batch_size=batch_size, progress=progress, **ray_options)
    failed = sum(r.get("error") is not None for r in run.new_records)
    return {
        "total": len(checked),
        "skipped": run.skipped,
        "scored": len(run.new_records) - failed,
        "alerts": sum(bool(r.get("alert")) for r in run.new_records if r.get("error") is None),
        "errors": failed,
    }
