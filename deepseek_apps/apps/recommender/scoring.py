"""Resumable batch scoring: top-k for many users into JSON lines, exactly once per user.

Each chunk of users goes through ``DINRecommender.predict(..., errors="record")``. Built on
the core's resumable JSON-lines writer: a killed job leaves at most one torn last
line, which the next run cuts off before scoring the users not yet in the file. A user that
fails is recorded with its error and the job goes on.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ...core.runtime.jsonl import append_records, locked_output, read_records

RECORD_KEYS = ("item_id", "score", "rank", "category", "attention", "known_item", "cold_start")


@dataclass
class ScoreSummary:
    users: int = 0
    scored_now: int = 0
    skipped: int = 0
    errors: int = 0
    cold_start: int = 0
    users_per_s: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def _record(rec, ranking) -> dict:
    """One JSON line: the user's history, top items (without titles) and the recorded error."""
    if ranking.error is not None:
        return {"user_id": ranking.user_id, "history": [], "recommendations": [], "error": ranking.error}
    items = ranking.items
    return {
        "user_id": ranking.user_id,
        "history": items[0].history if items else rec.history_of(ranking.user_id)[-rec.max_len_ :],
        "recommendations": [{key: r.to_dict()[key] for key in RECORD_KEYS} for r in items],
        "error": None,
    }


def score_users(
    rec,
    users: list,
    out: str | Path,
    k: int = 10,
    progress: bool = True,
    chunk: int = 32,
    engine: str = "local",
    **ray_options,
) -> ScoreSummary:
    """Write ``{"user_id", "history", "recommendations" | "error"}`` per user to ``out``.

    ``engine="ray"`` scores the same chunks on a Ray cluster (``ray_options``: ``address``,
    ``workers``) and writes ``out`` as a folder of JSON-lines parts (see ``core.scale.parts``).
    """
    from ...core.scale.session import check_engine

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if check_engine(engine) == "ray":
        from .ray_adapter import score_on_ray

        unique = list(dict.fromkeys(users))
        done, scored_now, elapsed = score_on_ray(rec, unique, out, k, _record, chunk, progress, **ray_options)
    else:
        done, scored_now, elapsed = _score_local(rec, users, out, k, progress, chunk)
    summary = ScoreSummary(
        users=len(dict.fromkeys(users)), scored_now=scored_now, skipped=len(dict.fromkeys(users)) - scored_now
    )
    summary.users_per_s = scored_now / elapsed if scored_now and elapsed > 0 else 0.0
    for u in dict.fromkeys(users):
        r = done[u]
        summary.errors += r["error"] is not None
        summary.cold_start += bool(r["recommendations"] and r["recommendations"][0]["cold_start"])
    return summary


def _score_local(rec, users: list, out: Path, k: int, progress: bool, chunk: int) -> tuple[dict, int, float]:
    """``(records by user, users scored now, seconds)``: the job in this process, into one JSON-lines file."""
    from tqdm.auto import tqdm

    with locked_output(out) as fh:  # one writer per output (4004 for a second job); done records read under the lock
        done = read_records(out, key="user_id")
        todo = [u for u in dict.fromkeys(users) if u not in done]
        t0 = time.perf_counter()
        bar = tqdm(total=len(todo), unit="user", desc="score", disable=not progress, dynamic_ncols=True)
        for start in range(0, len(todo), chunk):
            requests = [{"user_id": user, "k": k} for user in todo[start : start + chunk]]
            records = [_record(rec, ranking) for ranking in rec.predict(requests, errors="record")]
            for r in records:
                done[r["user_id"]] = r
            append_records(fh, records)
            bar.update(len(records))
    bar.close()
    return done, len(todo), time.perf_counter() - t0
