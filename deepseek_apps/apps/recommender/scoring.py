"""Resumable batch scoring: top-k for many users into JSON lines, exactly once per user.

Built on the core's resumable JSON-lines writer: a killed job leaves at most one torn last
line, which the next run cuts off before scoring the users not yet in the file. A user that
fails is recorded with its error and the job goes on.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ...core.runtime.jsonl import append_records, read_records
from ...errors import DeepSeekAppsError


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


def score_users(rec, users: list, out: str | Path, k: int = 10, progress: bool = True, chunk: int = 32) -> ScoreSummary:
    """Write ``{"user_id", "history", "recommendations" | "error"}`` per user to ``out``."""
    from tqdm.auto import tqdm

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = read_records(out, key="user_id")
    todo = [u for u in dict.fromkeys(users) if u not in done]
    t0 = time.perf_counter()
    bar = tqdm(total=len(todo), unit="user", desc="score", disable=not progress, dynamic_ncols=True)
    with open(out, "a", encoding="utf-8") as fh:
        for start in range(0, len(todo), chunk):
            records = []
            for user in todo[start : start + chunk]:
                try:
                    recs = rec.recommend(user, k=k)
                    records.append(
                        {
                            "user_id": user,
                            "history": recs[0].history if recs else rec.history_of(user)[-rec.max_len :],
                            "recommendations": [
                                {
                                    key: r.to_dict()[key]
                                    for key in (
                                        "item_id",
                                        "score",
                                        "rank",
                                        "category",
                                        "attention",
                                        "known_item",
                                        "cold_start",
                                    )
                                }
                                for r in recs
                            ],
                            "error": None,
                        }
                    )
                except DeepSeekAppsError as exc:
                    records.append({"user_id": user, "history": [], "recommendations": [], "error": exc.to_dict()})
            for r in records:
                done[r["user_id"]] = r
            append_records(fh, records)
            bar.update(len(records))
    bar.close()
    elapsed = time.perf_counter() - t0
    summary = ScoreSummary(
        users=len(dict.fromkeys(users)), scored_now=len(todo), skipped=len(dict.fromkeys(users)) - len(todo)
    )
    summary.users_per_s = len(todo) / elapsed if todo and elapsed > 0 else 0.0
    for u in dict.fromkeys(users):
        r = done[u]
        summary.errors += r["error"] is not None
        summary.cold_start += bool(r["recommendations"] and r["recommendations"][0]["cold_start"])
    return summary
