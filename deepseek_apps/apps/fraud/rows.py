"""Rows of a batch one by one: which fail alone, so that ``predict(errors="record")`` scores the rest together.

Example:
    >>> frame = as_frame([{"source": "a", "destination": "m", "timestamp": 1.0, "amount": float("nan")}])
    >>> bad_rows(frame, temporal=True, history_ids=set())[0].code
    1204
"""

from __future__ import annotations

from typing import Any

from ...errors import DeepSeekAppsError, ErrorCode, InvalidInputError
from .data import load_transactions, read_frame


def as_frame(transactions: Any, columns: dict[str, str] | None = None):
    """The rows as a DataFrame with our column names and a ``transaction_id`` for every row."""
    frame = read_frame(transactions).rename(columns={theirs: ours for ours, theirs in (columns or {}).items()})
    if "transaction_id" not in frame.columns:
        frame["transaction_id"] = [f"row{i}" for i in range(len(frame))]
    frame["transaction_id"] = frame["transaction_id"].astype(str)
    return frame


def bad_rows(frame, temporal: bool, history_ids) -> dict[int, DeepSeekAppsError]:
    """The rows that fail alone (validation, an id of the history, a repeated id), with their errors."""
    bad: dict[int, DeepSeekAppsError] = {}
    seen: set[str] = set()
    for i in range(len(frame)):
        row = frame.iloc[i : i + 1]
        tid = str(row["transaction_id"].iloc[0])
        try:
            load_transactions(row, require_time=temporal, require_amount=temporal)
            if tid in history_ids or tid in seen:
                where = "the model's history" if tid in history_ids else "this input"
                raise InvalidInputError(
                    ErrorCode.FRAUD_DUPLICATE_ID, f"transaction id is already in {where}", value=tid
                )
        except DeepSeekAppsError as exc:
            bad[i] = exc
        seen.add(tid)
    return bad
