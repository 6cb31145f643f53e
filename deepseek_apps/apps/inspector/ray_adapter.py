"""How the inspector's batch job runs on Ray (``score_files(..., engine="ray")``): items are image paths.

Chunks are the local job's batches (``inspector.batch_size`` images, in input order), scored by
the same function, so the records are the local job's. Paths must be readable by every worker
(a shared or mounted folder on a cluster).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from ...core.scale.ray_batch import plan_slices, run_batch


@dataclass
class InspectorAdapter:
    """``score_batch(inspector, paths, annotated_dir) -> records``: the local job's own batch step."""

    score_batch: Callable[[Any, list[Path], Path | None], list[dict]]
    annotated_dir: str | None = None

    def item_key(self, item: str) -> str:
        return item  # the record's "source"

    def plan(self, todo: list[str], batch_size: int) -> list[list[str]]:
        return plan_slices(todo, batch_size)

    def prepare(self, app: Any) -> None:
        if self.annotated_dir:
            Path(self.annotated_dir).mkdir(parents=True, exist_ok=True)

    def score(self, app: Any, state: None, items: list[str]) -> list[dict]:
        annotated = Path(self.annotated_dir) if self.annotated_dir else None
        return self.score_batch(app, [Path(i) for i in items], annotated)


def score_on_ray(inspector, paths: list[Path], out, annotated_dir, score_batch, progress: bool, **ray_options):
    """``(records by source, files scored now, seconds)`` of the job on Ray; ``out`` is a folder of parts."""
    adapter = InspectorAdapter(score_batch, str(annotated_dir) if annotated_dir else None)
    run = run_batch(
        inspector,
        adapter,
        [str(p) for p in paths],
        str(out),
        batch_size=inspector.batch_size,
        progress=progress,
        **ray_options,
    )
    return {rec["source"]: rec for rec in run.records}, run.scored_now, run.seconds


def fit_on_ray_workers(inspector, fit_kwargs: dict, **train_options) -> dict:
    """``inspector.fit(**fit_kwargs)`` on Ray Train workers (DDP); returns the metrics rank 0's fit recorded.

    Every worker rebuilds the inspector from its constructor arguments and fits it; the model
    folder is ``inspector.train_config.out_dir``. ``train_options``: ``workers``, ``use_gpu``,
    ``address``, ``max_failures`` (see ``core.scale.ray_train.fit_on_ray``).
    """
    from ...core.scale.ray_train import fit_on_ray

    job = partial(_fit_worker, type(inspector), inspector.get_params(), fit_kwargs)
    return fit_on_ray(job, inspector.train_config.out_dir, **train_options).value


def _fit_worker(cls: type, params: dict, fit_kwargs: dict) -> dict:
    return cls(**params).fit(**fit_kwargs).metrics_


def ray_fit(inspector, train_options: dict) -> Callable[..., Any]:
    """A function with ``inspector.fit``'s arguments that fits on Ray and leaves rank 0's ``metrics_`` on ``inspector``.

    The trained model is the folder ``inspector.train_config.out_dir`` (open it with ``load``).
    """

    def fit(data, **fit_kwargs):
        inspector.metrics_ = fit_on_ray_workers(inspector, {"data": data, **fit_kwargs}, **train_options)
        return inspector

    return fit
