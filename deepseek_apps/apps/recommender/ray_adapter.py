"""How the recommender's batch job runs on Ray (``score_users(..., engine="ray")``): items are user ids.

Chunks are the local job's (``chunk`` users in input order) and each goes through the same
``predict(..., errors="record")`` and the same record function, so the lines are the local
job's. Each actor opens the model (and its catalogue of histories) once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...core.scale.ray_batch import plan_slices, run_batch


@dataclass
class RecommenderAdapter:
    """``record(rec, ranking) -> line``: the local job's own record function; ``k`` items per user."""

    record: Callable[[Any, Any], dict]
    k: int = 10

    def item_key(self, item: Any) -> Any:
        return item  # the record's "user_id"

    def plan(self, todo: list[Any], batch_size: int) -> list[list[Any]]:
        return plan_slices(todo, batch_size)

    def prepare(self, app: Any) -> None:
        return None

    def score(self, app: Any, state: None, items: list[Any]) -> list[dict]:
        requests = [{"user_id": user, "k": self.k} for user in items]
        return [self.record(app, ranking) for ranking in app.predict(requests, errors="record")]


def score_on_ray(rec, users: list, out, k: int, record, chunk: int, progress: bool, **ray_options):
    """``(records by user, users scored now, seconds)`` of the job on Ray; ``out`` is a folder of parts."""
    run = run_batch(
        rec, RecommenderAdapter(record, k), users, str(out), batch_size=chunk, progress=progress, **ray_options
    )
    return {r["user_id"]: r for r in run.records}, run.scored_now, run.seconds
