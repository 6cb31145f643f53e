"""Every row of a batch checked at once, column by column: each bad row gets its own coded error.

``predict(..., errors="record")`` and ``fraud score`` check a whole input here (vectorised:
no row is ever validated or scored alone), then score the good rows once, together, so
they get exactly the scores the same input without the bad rows gets.

Documented handling, per row (the first failing check names the row's error; ``row`` is the
0-based position of the row in the input, not counting a header):

- no ``transaction_id`` where the input has that column: 1201 (the result's id is ``row<i>``);
- no ``source`` or no ``destination``: 1201;
- an id that an earlier row of the same input already has: 1205 (the first row is kept);
- an id already in the model's history: 1205;
- a missing or unparsable timestamp: 1202 (numbers and numeric strings are unix seconds);
- a missing, non-numeric or infinite amount: 1204; negative or above ``max_amount``: 1209;
- labels are not read when scoring: a bad label value never fails a row.

Whole-input problems raise at once: a missing required column (1201), no rows (1210), an
unreadable file (1211, see ``reading``).

Example:
    >>> checked = check_rows(as_frame([{"source": "a", "destination": "m", "timestamp": 1.0,
    ...                                 "amount": float("nan")}]), temporal=True, history_ids={})
    >>> checked.errors[0].code, len(checked.good)
    (1204, 0)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import DeepSeekAppsError, ErrorCode, InvalidInputError, require
from .data import (
    BAD_AMOUNT_HINT,
    MAX_AMOUNT,
    NAN_AMOUNT_HINT,
    STANDARD,
    TIMESTAMP_HINT,
    amount_out_of_range,
    amount_values,
    check_columns,
    timestamp_seconds,
)
from .reading import ID_COLUMNS, integral_ids, read_frame


def as_frame(transactions: Any, columns: dict[str, str] | None = None):
    """The rows as a DataFrame with our column names (ids as read, see ``reading``)."""
    names = [(columns or {}).get(c, c) for c in ID_COLUMNS]
    frame = read_frame(transactions, text_columns=names)
    return integral_ids(frame.rename(columns={theirs: ours for ours, theirs in (columns or {}).items()}))


@dataclass
class CheckedRows:
    """An input after ``check_rows``: its rows, their ids and the errors of the bad ones.

    ``frame`` has our column names, a ``transaction_id`` for every row and no ``label``;
    ``time`` / ``amount`` are the parsed columns (``None`` when the input has none).
    """

    frame: Any
    ids: np.ndarray
    errors: dict[int, DeepSeekAppsError]
    time: np.ndarray | None = None
    amount: np.ndarray | None = None
    _good: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def good(self) -> np.ndarray:
        """Positions of the rows that passed every check, in input order."""
        if self._good is None:
            ok = np.ones(len(self), dtype=bool)
            ok[list(self.errors)] = False
            self._good = np.flatnonzero(ok)
        return self._good

    def rows(self, index: np.ndarray):
        """Rows ``index`` as a DataFrame, typed exactly as the same rows read without the bad ones."""
        pd = require("pandas", "fraud")
        sub = self.frame.iloc[index].reset_index(drop=True)
        if self.time is not None:
            sub["timestamp"] = self.time[index]
        if self.amount is not None:
            sub["amount"] = self.amount[index]
        for name in sub.columns:  # a bad row's text can make a numeric extra column read as text
            col = sub[name]
            if name in STANDARD or col.dtype.kind in "biufM":
                continue
            numbers = pd.to_numeric(col, errors="coerce")
            if numbers.notna().sum() == col.notna().sum():
                sub[name] = numbers
        return sub


def check_rows(
    frame,
    *,
    temporal: bool,
    history_ids: Iterable[str],
    max_amount: float = MAX_AMOUNT,
    allow_negative_amounts: bool = False,
) -> CheckedRows:
    """Check every row of ``frame`` (from ``as_frame``) at once; see the module docstring for the rules."""
    pd = require("pandas", "fraud")
    n = len(frame)
    if n == 0:
        raise InvalidInputError(ErrorCode.FRAUD_EMPTY_INPUT, "no transactions: the input has no rows", value=0)
    check_columns(frame, temporal, temporal)
    frame = frame.drop(columns=["label"], errors="ignore")
    positions = np.arange(n)
    if "transaction_id" in frame.columns:
        no_id = frame["transaction_id"].isna().to_numpy()
        ids = frame["transaction_id"].astype(str).to_numpy(dtype=object)
        ids[no_id] = [f"row{i}" for i in np.flatnonzero(no_id)]
    else:
        no_id = np.zeros(n, dtype=bool)
        ids = np.array([f"row{i}" for i in positions], dtype=object)
    frame = frame.assign(transaction_id=ids)
    codes, _ = pd.factorize(ids)
    first = np.unique(codes, return_index=True)[1][codes]  # the first row holding each row's id
    raw = {c: frame[c] for c in ("timestamp", "amount") if c in frame.columns}
    time = timestamp_seconds(raw["timestamp"]) if "timestamp" in raw else None
    amount = amount_values(raw["amount"]) if "amount" in raw else None
    checks: list[tuple[np.ndarray, int, Callable[[int], str], Callable[[int], Any], str]] = [
        (no_id, ErrorCode.FRAUD_MISSING_COLUMN, lambda i: "no transaction_id", lambda i: None, ID_HINT),
    ]
    for name in ("source", "destination"):
        checks.append(
            (frame[name].isna().to_numpy(), ErrorCode.FRAUD_MISSING_COLUMN, _text(f"no {name}"), _none, ENTITY_HINT)
        )
    checks += [
        (
            first != positions,
            ErrorCode.FRAUD_DUPLICATE_ID,
            lambda i: f"repeats the id of row {first[i]}",
            _at(ids),
            DUP_HINT,
        ),
        (
            pd.Series(ids).isin(list(history_ids)).to_numpy(),
            ErrorCode.FRAUD_DUPLICATE_ID,
            _text("transaction id is already in the model's history"),
            _at(ids),
            HISTORY_HINT,
        ),
    ]
    if time is not None:
        bad_time = ~np.isfinite(time)
        checks.append(
            (
                bad_time,
                ErrorCode.FRAUD_BAD_TIMESTAMP,
                _text("missing or unparsable timestamp"),
                _at(raw["timestamp"]),
                TIMESTAMP_HINT,
            )
        )
    if amount is not None:
        limit = f"above max_amount={max_amount:g}" + ("" if allow_negative_amounts else " or negative")
        checks += [
            (
                ~np.isfinite(amount),
                ErrorCode.FRAUD_NAN_AMOUNT,
                _text("amount is NaN, missing, infinite or not a number"),
                _at(raw["amount"]),
                NAN_AMOUNT_HINT,
            ),
            (
                amount_out_of_range(amount, max_amount, allow_negative_amounts),
                ErrorCode.FRAUD_BAD_AMOUNT,
                _text(f"amount is {limit}"),
                _at(raw["amount"]),
                BAD_AMOUNT_HINT,
            ),
        ]
    return CheckedRows(frame, ids, _errors(n, checks), time, amount)


ID_HINT = "give every row a transaction_id, or drop the column to number rows row<i>"
ENTITY_HINT = "every transaction needs a source and a destination entity"
DUP_HINT = "transaction ids must be unique: the first row with an id is scored, later ones are refused"
HISTORY_HINT = "score new transactions only, or use score_history() for known ids"


def _errors(n: int, checks) -> dict[int, DeepSeekAppsError]:
    """One error per failing row: the first check it fails, in ``checks`` order."""
    errors: dict[int, DeepSeekAppsError] = {}
    taken = np.zeros(n, dtype=bool)
    for mask, code, message, value, hint in checks:
        for i in np.flatnonzero(mask & ~taken).tolist():
            errors[i] = InvalidInputError(code, f"row {i}: {message(i)}", value=value(i), hint=hint)
        taken |= mask
    return dict(sorted(errors.items()))


def _text(message: str) -> Callable[[int], str]:
    return lambda i: message


def _none(i: int) -> None:
    return None


def _at(values) -> Callable[[int], Any]:
    array = values.to_numpy() if hasattr(values, "to_numpy") else values
    return lambda i: str(array[i])
