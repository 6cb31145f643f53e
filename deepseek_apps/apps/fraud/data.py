"""Transactions as users have them: CSV / Parquet / DataFrame / dict of columns, validated.

A transaction table has one row per event: ``source`` entity (an account), ``destination``
entity (a merchant or another account), ``timestamp``, ``amount``, and optionally
``transaction_id``, ``channel``, ``label`` (1 fraud, 0 legitimate, empty unknown) and any
numeric columns. Rename yours with ``columns={"source": "account_id", ...}``.

Documented handling of bad input (nothing is dropped silently; ``reading`` covers files):

- missing required column, a row without source / destination / transaction id (1201);
  NaN, missing, non-numeric or infinite amount (1204); a negative amount or one above
  ``max_amount`` (default 1e12) (1209; ``allow_negative_amounts=True`` accepts refunds);
  unparsable timestamp (1202); duplicate transaction id (1205); label outside {0, 1, empty}
  (1207); no rows at all (1210): ``InvalidInputError`` naming the rows;
- timestamps: a number or a numeric string is unix seconds, any other string a date (ISO
  8601 or what pandas reads), value by value, so one bad value fails only its own row
  (an 8-digit ``20240101`` is therefore seconds: write dates with dashes);
- timestamps out of order: the table is stably sorted by time (ties keep file order) and
  ``TransactionTable.n_reordered`` says how many rows moved; ``order="error"`` raises instead;
- no ``transaction_id`` column: ids are ``row<i>`` from the row position in the file.

Example:
    >>> table = load_transactions({"source": ["a", "b"], "destination": ["m", "m"],
    ...                            "timestamp": [1.0, 2.0], "amount": [10.0, 5.0]})
    >>> len(table), table.n_reordered
    (2, 0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ErrorCode, InvalidInputError, MissingResourceError, require
from .reading import ID_COLUMNS, integral_ids, read_frame

STANDARD = ("transaction_id", "source", "destination", "timestamp", "amount", "channel", "label")
MAX_AMOUNT = 1e12  # default ceiling on one amount (any currency): above it is a typo or a sentinel


@dataclass
class TransactionTable:
    """Validated transactions in stream order (sorted by time when there are times)."""

    ids: np.ndarray  # str
    src: np.ndarray  # str
    dst: np.ndarray  # str
    time: np.ndarray | None  # float64 seconds
    amount: np.ndarray | None  # float64
    channel: np.ndarray | None = None  # str
    label: np.ndarray | None = None  # float32: 1 fraud, 0 legit, nan unknown
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # numeric columns, float32
    row: np.ndarray | None = None  # position in the input file
    n_reordered: int = 0

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, index: np.ndarray) -> TransactionTable:
        """Rows ``index`` (in that order) as a new table."""

        def pick(a):
            return None if a is None else a[index]

        return TransactionTable(
            self.ids[index],
            self.src[index],
            self.dst[index],
            pick(self.time),
            pick(self.amount),
            pick(self.channel),
            pick(self.label),
            {k: v[index] for k, v in self.extra.items()},
            pick(self.row),
        )

    def concat(self, other: TransactionTable) -> TransactionTable:
        """This table followed by ``other`` (same optional columns)."""

        def cat(a, b):
            if a is None or b is None:
                return None
            return np.concatenate([a, b])

        extra = {k: np.concatenate([v, other.extra[k]]) for k, v in self.extra.items() if k in other.extra}
        return TransactionTable(
            cat(self.ids, other.ids),
            cat(self.src, other.src),
            cat(self.dst, other.dst),
            cat(self.time, other.time),
            cat(self.amount, other.amount),
            cat(self.channel, other.channel),
            cat(self.label, other.label),
            extra,
            cat(self.row, other.row),
        )


def _rows(mask: np.ndarray, limit: int = 5) -> list[int]:
    return [int(i) for i in np.flatnonzero(mask)[:limit]]


def timestamp_seconds(values) -> np.ndarray:
    """Seconds since the epoch (float64) of each value; ``NaN`` where a value is missing or unparsable.

    Each value is read on its own: a number, or a string that is a number, is unix seconds;
    any other string is a date (ISO 8601 or another format pandas reads). So one bad value
    never changes how the others parse.
    """
    pd = require("pandas", "fraud")
    series = pd.Series(values)
    if pd.api.types.is_numeric_dtype(series):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    if pd.api.types.is_datetime64_any_dtype(series):
        return _epoch_seconds(pd.to_datetime(series, utc=True))
    out = np.array(pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan))
    dates = np.isnan(out) & series.notna().to_numpy()
    if dates.any():
        parsed = pd.to_datetime(series[dates].astype(str), utc=True, errors="coerce", format="mixed")
        out[dates] = _epoch_seconds(parsed)
    return out


def _epoch_seconds(parsed) -> np.ndarray:
    pd = require("pandas", "fraud")
    seconds = (parsed - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)  # NaT -> NaN, any unit
    return np.array(seconds.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


def parse_timestamps(values) -> np.ndarray:
    """Seconds since the epoch (float64) from numbers or date strings; raises on any unparsable value."""
    pd = require("pandas", "fraud")
    out = timestamp_seconds(values)
    bad = ~np.isfinite(out)
    if bad.any():
        rows = _rows(bad)
        series = pd.Series(values)
        raise InvalidInputError(
            ErrorCode.FRAUD_BAD_TIMESTAMP,
            f"{int(bad.sum())} timestamp(s) are missing or unparsable, first rows {rows}",
            value=[str(series.iloc[i]) for i in rows],
            hint=TIMESTAMP_HINT,
        )
    return out


TIMESTAMP_HINT = "use unix seconds (numbers or numeric strings) or ISO 8601 dates (2024-05-01T13:45:00Z)"


def _labels(values) -> np.ndarray:
    pd = require("pandas", "fraud")
    lab = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=np.float64)
    raw_missing = pd.Series(values).isna().to_numpy()
    bad = (np.isnan(lab) & ~raw_missing) | (~np.isnan(lab) & ~np.isin(lab, (0.0, 1.0)))
    if bad.any():
        rows = _rows(bad)
        raise InvalidInputError(
            ErrorCode.FRAUD_BAD_LABEL,
            f"{int(bad.sum())} label(s) are not 0, 1 or empty, first rows {rows}",
            value=[str(pd.Series(values).iloc[i]) for i in rows],
            hint="1 = fraud, 0 = legitimate, empty = unknown",
        )
    return lab.astype(np.float32)


def load_transactions(
    source: Any,
    columns: dict[str, str] | None = None,
    require_time: bool = True,
    require_amount: bool = True,
    order: str = "sort",
    *,
    max_amount: float = MAX_AMOUNT,
    allow_negative_amounts: bool = False,
    labels: bool = True,
) -> TransactionTable:
    """Read and validate a transaction table.

    Args:
        source: path (.csv/.parquet/.jsonl), DataFrame, dict of columns or list of row dicts.
        columns: map from our names (``source``, ``destination``, ``timestamp``, ``amount``,
            ``transaction_id``, ``channel``, ``label``) to yours.
        require_time: raise when there is no timestamp column (``False`` for graphs without times).
        require_amount: raise when there is no amount column.
        order: ``"sort"`` (stable sort by time, counted in ``n_reordered``) or ``"error"``.
        max_amount: amounts above it are refused (1209): a typo or a sentinel, never a purchase.
        allow_negative_amounts: accept negative amounts (refunds, reversals) instead of 1209.
        labels: read the ``label`` column; ``False`` ignores it (scoring never uses labels).

    Returns:
        A ``TransactionTable`` in stream order.
    """
    names = [(columns or {}).get(c, c) for c in ID_COLUMNS]
    frame = read_frame(source, text_columns=names)
    rename = {theirs: ours for ours, theirs in (columns or {}).items()}
    frame = integral_ids(frame.rename(columns=rename))
    if len(frame) == 0:
        raise InvalidInputError(ErrorCode.FRAUD_EMPTY_INPUT, "no transactions: the table has no rows", value=0)
    check_columns(frame, require_time, require_amount)
    n = len(frame)
    for name in ("source", "destination", "transaction_id"):
        empty = frame[name].isna().to_numpy() if name in frame.columns else np.zeros(n, dtype=bool)
        if empty.any():
            raise InvalidInputError(
                ErrorCode.FRAUD_MISSING_COLUMN,
                f"{int(empty.sum())} row(s) have no {name}, first rows {_rows(empty)}",
                value=name,
                hint="every transaction needs a source and a destination entity (and an id when the file has ids)",
            )
    ids = (
        frame["transaction_id"].astype(str).to_numpy()
        if "transaction_id" in frame.columns
        else np.array([f"row{i}" for i in range(n)], dtype=object)
    )
    _check_unique(ids)
    time = parse_timestamps(frame["timestamp"]) if "timestamp" in frame.columns else None
    amount = parse_amounts(frame["amount"], max_amount, allow_negative_amounts) if "amount" in frame.columns else None
    extra = {
        c: frame[c].to_numpy(dtype=np.float32)
        for c in frame.columns
        if c not in STANDARD and frame[c].dtype.kind in "biuf" and not frame[c].isna().any()
    }
    table = TransactionTable(
        ids=ids.astype(str).astype(object),
        src=frame["source"].astype(str).to_numpy(dtype=object),
        dst=frame["destination"].astype(str).to_numpy(dtype=object),
        time=time,
        amount=amount,
        channel=frame["channel"].astype(str).to_numpy(dtype=object) if "channel" in frame.columns else None,
        label=_labels(frame["label"]) if labels and "label" in frame.columns else None,
        extra=extra,
        row=np.arange(n),
    )
    return sort_by_time(table, order)


def check_columns(frame, require_time: bool, require_amount: bool) -> None:
    """Raise 1201 naming the required columns ``frame`` lacks."""
    needed = ["source", "destination"] + ["timestamp"] * require_time + ["amount"] * require_amount
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise InvalidInputError(
            ErrorCode.FRAUD_MISSING_COLUMN,
            f"transactions lack column(s) {missing}",
            value=list(frame.columns)[:20],
            hint="rename yours with columns={'source': 'your_account_column', ...}",
        )


def amount_values(values) -> np.ndarray:
    """Amounts as float64: ``NaN`` for missing or non-numeric values, ``inf`` kept for the caller to refuse."""
    pd = require("pandas", "fraud")
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def amount_out_of_range(amount: np.ndarray, max_amount: float = MAX_AMOUNT, allow_negative: bool = False):
    """Finite amounts that are refused (1209): above ``max_amount`` or, unless allowed, negative."""
    finite = np.isfinite(amount)
    out = finite & (np.abs(amount) > max_amount)
    if not allow_negative:
        out |= finite & (amount < 0)
    return out


def parse_amounts(values, max_amount: float = MAX_AMOUNT, allow_negative: bool = False) -> np.ndarray:
    """Validated amounts: 1204 for missing / non-numeric / infinite, 1209 for negative or above ``max_amount``."""
    pd = require("pandas", "fraud")
    values = pd.Series(values)
    amount = amount_values(values)
    for bad, code, what, hint in (
        (~np.isfinite(amount), ErrorCode.FRAUD_NAN_AMOUNT, "NaN, infinite or not numbers", NAN_AMOUNT_HINT),
        (
            amount_out_of_range(amount, max_amount, allow_negative),
            ErrorCode.FRAUD_BAD_AMOUNT,
            f"negative or above max_amount={max_amount:g}"
            if not allow_negative
            else f"above max_amount={max_amount:g}",
            BAD_AMOUNT_HINT,
        ),
    ):
        if bad.any():
            rows = _rows(bad)
            raise InvalidInputError(
                code,
                f"{int(bad.sum())} amount(s) are {what}, first rows {rows}",
                value=[str(values.iloc[i]) for i in rows],
                hint=hint,
            )
    return amount


NAN_AMOUNT_HINT = "fill or drop those rows before scoring; NaN amounts are never guessed"
BAD_AMOUNT_HINT = (
    "fix those rows; refunds: pass allow_negative_amounts=True; larger legitimate amounts: raise max_amount"
)


def _check_unique(ids: np.ndarray) -> None:
    uniq, counts = np.unique(ids.astype(str), return_counts=True)
    if (counts > 1).any():
        dup = uniq[counts > 1]
        raise InvalidInputError(
            ErrorCode.FRAUD_DUPLICATE_ID,
            f"{len(dup)} transaction id(s) appear more than once",
            value=[str(d) for d in dup[:5]],
            hint="transaction ids must be unique; drop the repeated rows or rename them",
        )


def sort_by_time(table: TransactionTable, order: str = "sort") -> TransactionTable:
    """Stable sort by time; ``order="error"`` raises on the first out-of-order row instead."""
    if table.time is None:
        return table
    back = np.flatnonzero(np.diff(table.time) < 0)
    if len(back) == 0:
        return table
    if order == "error":
        raise InvalidInputError(
            ErrorCode.FRAUD_TIMESTAMP_ORDER,
            f"{len(back)} transaction(s) are earlier than the row before them, first rows {[int(i) + 1 for i in back[:5]]}",
            value=[float(table.time[i + 1]) for i in back[:5]],
            hint="sort the file by time, or pass order='sort' to let us sort it (stable)",
        )
    idx = np.argsort(table.time, kind="stable")
    out = table.take(idx)
    out.n_reordered = int((idx != np.arange(len(idx))).sum())
    return out


@dataclass
class EntityTable:
    """Optional per-entity features and labels (accounts or merchants)."""

    ids: np.ndarray
    features: np.ndarray  # float32 [n, f]
    feature_names: list[str]
    label: np.ndarray | None = None


def load_entities(source: Any, id_column: str = "entity_id", label_column: str = "label") -> EntityTable:
    """An entity table: an id column, optional label, numeric feature columns."""
    frame = read_frame(source)
    if id_column not in frame.columns:
        raise InvalidInputError(
            ErrorCode.FRAUD_MISSING_COLUMN,
            f"entity table lacks the id column '{id_column}'",
            value=list(frame.columns)[:20],
            hint="pass id_column='your_id_column'",
        )
    ids = frame[id_column].astype(str).to_numpy(dtype=object)
    _check_unique(ids)
    names = [c for c in frame.columns if c not in (id_column, label_column) and frame[c].dtype.kind in "biuf"]
    feats = frame[names].fillna(0).to_numpy(dtype=np.float32) if names else np.zeros((len(ids), 0), np.float32)
    label = _labels(frame[label_column]) if label_column in frame.columns else None
    return EntityTable(ids, feats, names, label)


def from_adjacency(npz_path: str | Path, labels_csv: str | Path, relation: str = "link") -> TransactionTable:
    """A homogeneous graph (scipy ``.npz`` adjacency + one-column label CSV) as a node-labelled table.

    Each undirected edge ``i-j`` becomes a row ``source=i, destination=j`` (both directions kept
    so every node is a source); node labels go to ``EntityTable`` via ``adjacency_labels``.
    """
    sp = require("scipy.sparse", "fraud")
    for p in (npz_path, labels_csv):
        if not Path(p).exists():
            raise MissingResourceError(ErrorCode.FRAUD_DATA_NOT_FOUND, "graph file not found", value=str(p))
    adj = sp.load_npz(str(npz_path)).tocoo()
    keep = adj.row != adj.col
    src, dst = adj.row[keep], adj.col[keep]
    return TransactionTable(
        ids=np.array([f"{relation}{i}" for i in range(len(src))], dtype=object),
        src=src.astype(str).astype(object),
        dst=dst.astype(str).astype(object),
        time=None,
        amount=None,
        row=np.arange(len(src)),
    )


def adjacency_labels(labels_csv: str | Path) -> np.ndarray:
    """The 0/1 node labels of a one-column, header-less label CSV."""
    values = np.loadtxt(str(labels_csv), delimiter=",", ndmin=1)
    return _labels(values)


def load_relations(tables: dict[str, Any], **kwargs) -> TransactionTable:
    """Several edge tables, one per relation, as one table with a ``channel`` naming the relation."""
    parts = []
    for name, source in tables.items():
        part = load_transactions(source, **kwargs)
        part.channel = np.full(len(part), name, dtype=object)
        part.ids = np.array([f"{name}:{i}" for i in part.ids], dtype=object)
        parts.append(part)
    out = parts[0]
    for part in parts[1:]:
        out = out.concat(part)
    return sort_by_time(out, "sort") if out.time is not None else out
