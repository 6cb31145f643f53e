"""Entity fraud from a transaction log: the entities of the log as nodes, its payments as edges, labels from a table.

``FraudDetector(task="entities").fit(TransactionLog("tx.csv", "mules.csv"))`` reads the same
transaction table as the transaction task (``data.load_transactions``: source, destination,
timestamp, amount, optional channel and numeric columns; its ``label`` column is ignored) and
a separate label table (an entity id and a label: 1, 0 or empty), and builds the entity graph
the entity models train on unchanged:

- nodes: every entity seen in the log. ``type`` is ``account`` for an entity that pays at
  least once (a source) and ``merchant`` for one that only receives;
- node attributes, each computed from the entity's own transactions only: for what it pays
  (``out:``) and what it receives (``in:``) the count, amount sum and distinct counterparties,
  and the mean and max of the causal transaction features of its side
  (``features.features_for``: its velocity ``src_n_1h`` ..., recency, amount against its own
  running mean, money received in the day before paying ``src_recv_*``, the payment's log
  amount, whether the pair is new, night (00-06 h UTC), channel shares); plus its active
  span in days and pass-through (the smaller of money in and out over the larger);
- edges: relation ``pays`` (directed, source -> destination), one per pair, with the count,
  amount sum and max and the mean of every causal feature of the pair's transactions. The
  entity graph supports numeric edge columns: the trees see their per-neighbour means
  (``pays>:edge_mean:...`` and ``pays<:edge_mean:...``), the GNN their log-scaled means;
- labels: an entity without a row in the label table is unknown, never a negative.

Refused, naming the rows or values: a label table without an id column or without a label
column (1219), a label outside {0, 1, empty} (1214), an id on two rows (1216), no label id
that occurs in the log (1221), no fraudulent (1) entity among those that do (1215); bad
transactions are refused as by the transaction task (1201-1210). Label ids that do not occur
in the log are counted (``metrics_["graph"]["log"]["labels_not_in_log"]``) and warned about.

Example:
    >>> from deepseek_apps.apps.fraud.synthetic import generate_transactions
    >>> table = generate_transactions(2_000, seed=0)
    >>> labels = {"id": ["a1", "a2"], "label": [1, 0]}
    >>> graph, task = log_graph(TransactionLog(table, labels), EntityTask())
    >>> graph.channels, task.directed, graph.report["log"]["labelled"]
    (['pays>', 'pays<'], ('pays',), 2)
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ....errors import ErrorCode, InvalidInputError, require
from ..data import MAX_AMOUNT, STANDARD, TransactionTable, load_transactions
from ..features import DAY, features_for
from ..incremental import StreamIndex
from ..reading import read_frame
from .graph import ID_NAMES, EntityGraph, EntityTask, first_rows, load_entity_graph, node_labels, pick_column

TIME_ENCODING = ("hour_sin", "hour_cos", "dow_sin", "dow_cos")
NIGHT_END_S = 6 * 3600.0  # 00:00-06:00 UTC is night


@dataclass
class TransactionLog:
    """A transaction log and a table of entity labels: the input of ``fit`` for an entity graph built from payments.

    Args:
        transactions: a ``TransactionTable``, path (.csv / .parquet / .jsonl), DataFrame, dict
            or list, as ``FraudDetector.fit`` reads for the transaction task.
        labels: a table with an entity id (``id`` / ``entity_id`` / ``node_id`` / ``account_id``)
            and a ``label`` column (1 fraud, 0 legitimate, empty unknown).
        relation: the name of the payment relation (directed, source -> destination).

    Example:
        >>> det = FraudDetector(task="entities").fit(TransactionLog("tx.csv", "mules.csv"))  # doctest: +SKIP
    """

    transactions: Any
    labels: Any
    relation: str = "pays"


@dataclass
class PaymentLog:
    """What an entity model fitted on a transaction log keeps of the log, to score later transactions.

    The payments in stream order as node positions (in the graph's ids), times and amounts:
    enough for the causal features of later rows (``after_log.py``). Transaction ids, labels,
    channels and numeric columns of the log are not kept (later rows bring their own); the
    names of the fitted channels and numeric columns are, so later rows get the same columns.
    """

    src: np.ndarray  # int64 node positions
    dst: np.ndarray
    time: np.ndarray  # float64 seconds
    amount: np.ndarray  # float64
    channels: list[str]
    extra: list[str]
    relation: str = "pays"
    _index: StreamIndex | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def of(cls, table: TransactionTable, src: np.ndarray, dst: np.ndarray, relation: str) -> PaymentLog:
        return cls(src, dst, table.time, table.amount, log_channels(table), list(table.extra), relation)

    def table(self, ids: np.ndarray) -> TransactionTable:
        """The kept columns as a ``TransactionTable`` (ids empty strings; ``ids``: the graph's node ids)."""
        n = len(self.src)
        return TransactionTable(np.full(n, "", dtype=object), ids[self.src], ids[self.dst], self.time, self.amount)

    def stream_index(self, ids: np.ndarray) -> StreamIndex:
        """The source / destination / pair indexes of the log (``incremental.StreamIndex``; built once, then kept)."""
        if self._index is None:
            self._index = StreamIndex.of(self.table(ids))
        return self._index

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "src": self.src.astype(np.int32),
            "dst": self.dst.astype(np.int32),
            "time": self.time,
            "amount": self.amount,
        }

    def to_dict(self) -> dict[str, Any]:
        return {"channels": self.channels, "extra": self.extra, "relation": self.relation}

    @classmethod
    def from_saved(cls, arrays: dict[str, np.ndarray], d: dict[str, Any]) -> PaymentLog:
        src, dst = (np.asarray(arrays[k], dtype=np.int64) for k in ("src", "dst"))
        time, amount = (np.asarray(arrays[k], dtype=np.float64) for k in ("time", "amount"))
        return cls(src, dst, time, amount, list(d["channels"]), list(d["extra"]), d["relation"])


def log_channels(table: TransactionTable) -> list[str]:
    """The channel names of a log (sorted; none without a channel column)."""
    return sorted(set(table.channel.tolist())) if table.channel is not None else []


def entity_columns(x: np.ndarray, names: list[str], time: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Transaction features as the entity aggregates take them: without the time encodings, plus ``night``."""
    keep = [j for j, name in enumerate(names) if name not in TIME_ENCODING]
    night = ((time % DAY) < NIGHT_END_S).astype(np.float32)
    return np.hstack([x[:, keep], night[:, None]]), [names[j] for j in keep] + ["night"]


def transaction_features(table: TransactionTable) -> tuple[np.ndarray, list[str]]:
    """The causal features of every transaction (``features_for``) without the time encodings, plus ``night``."""
    x, names = features_for(table, log_channels(table))
    return entity_columns(x, names, table.time)


def _grouped(values: np.ndarray, keys: np.ndarray, n: int, how: str) -> np.ndarray:
    """Per-key mean or max of the rows of ``values``; keys without rows get 0."""
    pd = require("pandas", "fraud")
    frame = pd.DataFrame(values).groupby(keys)
    out = frame.mean() if how == "mean" else frame.max()
    return out.reindex(range(n)).fillna(0.0).to_numpy(dtype=np.float32)


def entity_aggregates(table, x, names, src, dst, n) -> tuple[np.ndarray, list[str]]:
    """Node attributes of the ``n`` entities from their own transactions (``src`` / ``dst``: entity codes)."""
    pd = require("pandas", "fraud")
    amount = np.abs(table.amount)
    cols, labels, money = [], [], {}
    for side, keys, other, own in (("out", src, dst, "src_"), ("in", dst, src, "dst_")):
        pick = [j for j, name in enumerate(names) if not name.startswith(("src_", "dst_")) or name.startswith(own)]
        money[side] = np.bincount(keys, weights=amount, minlength=n)
        distinct = np.bincount(np.unique(keys * n + other) // n, minlength=n)
        cols += [
            np.log1p(np.bincount(keys, minlength=n))[:, None],
            np.log1p(money[side])[:, None],
            np.log1p(distinct)[:, None],
            _grouped(x[:, pick], keys, n, "mean"),
            _grouped(x[:, pick], keys, n, "max"),
        ]
        labels += [f"{side}:count", f"{side}:amount_sum", f"{side}:counterparties"]
        labels += [f"{side}:{how}:{names[j]}" for how in ("mean", "max") for j in pick]
    times = pd.Series(np.concatenate([table.time, table.time])).groupby(np.concatenate([src, dst]))
    span = (times.max() - times.min()).reindex(range(n)).fillna(0.0).to_numpy() / DAY
    low, high = np.minimum(money["in"], money["out"]), np.maximum(money["in"], money["out"])
    through = np.where(high > 0, low / np.maximum(high, 1e-12), 0.0)
    cols += [span[:, None], through[:, None]]
    labels += ["active_days", "pass_through"]
    return np.hstack(cols).astype(np.float32), labels


def pair_aggregates(table, x, names, src, dst, n) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """One edge per (source, destination) pair: codes of both ends, its columns and their names."""
    key = src * n + dst
    pairs, inverse = np.unique(key, return_inverse=True)
    amount = np.abs(table.amount)
    m = len(pairs)
    attrs = np.hstack(
        [
            np.log1p(np.bincount(inverse, minlength=m))[:, None],
            np.log1p(np.bincount(inverse, weights=amount, minlength=m))[:, None],
            np.log1p(_grouped(amount[:, None], inverse, m, "max")),
            _grouped(x, inverse, m, "mean"),
        ]
    ).astype(np.float32)
    return pairs // n, pairs % n, attrs, ["count", "amount_sum", "amount_max"] + [f"mean:{c}" for c in names]


def read_entity_labels(labels: Any, task: EntityTask, columns: dict[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """The label table as ``(ids, labels)``: 1219 without an id or label column, 1216 for a repeated id, 1214."""
    given = columns.get("id", task.id_column)
    frame = read_frame(labels, text_columns=(*ID_NAMES, *([given] if given else [])))
    id_col = pick_column(frame, given, ID_NAMES, "entity id (label table)", ErrorCode.FRAUD_NODE_COLUMNS)
    label_col = columns.get("label", task.label_column)
    if label_col not in frame.columns:
        raise InvalidInputError(
            ErrorCode.FRAUD_NODE_COLUMNS,
            f"the label table has no {label_col!r} column",
            value=list(frame.columns)[:20],
            hint="give it a label column (1 = fraud, 0 = legitimate, empty = unknown) or pass columns={'label': ...}",
        )
    ids = frame[id_col].astype(str)
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        raise InvalidInputError(
            ErrorCode.FRAUD_DUPLICATE_NODE_ID,
            f"{int(dup.sum())} label rows share an entity id, at rows {first_rows(dup)}",
            value=sorted(set(ids[dup].tolist()))[:5],
            hint="give each entity one label row",
        )
    return ids.to_numpy(dtype=object), node_labels(frame, label_col)


def match_labels(entity_ids: np.ndarray, label_ids: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, dict]:
    """Labels of the log's entities (NaN = unknown) and the counts; 1221 when no id matches, 1215 without a 1."""
    lookup = {k: i for i, k in enumerate(entity_ids.tolist())}
    where = np.array([lookup.get(i, -1) for i in label_ids.tolist()], dtype=np.int64)
    missing = where < 0
    if missing.all():
        raise InvalidInputError(
            ErrorCode.FRAUD_LABELS_NOT_IN_LOG,
            f"none of the {len(label_ids)} labelled entity ids occurs in the transaction log "
            f"as a source or destination (log ids look like {entity_ids[:3].tolist()})",
            value=label_ids[:5].tolist(),
            hint="label ids must be spelled as the log's source / destination values",
        )
    out = np.full(len(entity_ids), np.nan, dtype=np.float32)
    out[where[~missing]] = label[~missing]
    if not (out == 1).any():
        raise InvalidInputError(
            ErrorCode.FRAUD_NO_POSITIVE_LABEL,
            f"no entity of the log is labelled fraudulent (1): {int((out == 0).sum())} are labelled 0",
            value={"label_rows": len(label_ids), "in_log": int((~missing).sum())},
            hint="label the entities confirmed as fraudulent with 1",
        )
    if missing.any():
        first = label_ids[missing][:5].tolist()
        warnings.warn(
            f"{int(missing.sum())} of {len(label_ids)} labelled entity ids do not occur in the transaction log "
            f"and are ignored (first: {first})",
            stacklevel=5,  # the caller of FraudDetector.fit
        )
    counts = {
        "label_rows": len(label_ids),
        "labels_not_in_log": int(missing.sum()),
        "not_in_log_ids": label_ids[missing][:5].tolist(),
        "labelled": int((~np.isnan(out)).sum()),
        "fraud": int((out == 1).sum()),
    }
    return out, counts


def read_log(
    transactions: Any, columns: dict[str, str], max_amount: float = MAX_AMOUNT, allow_negative_amounts: bool = False
) -> TransactionTable:
    """Transactions as the entity task reads them (``load_transactions``, labels ignored); 1201 without times or amounts."""
    table = transactions
    if not isinstance(table, TransactionTable):
        ours = {k: v for k, v in columns.items() if k in STANDARD}
        table = load_transactions(
            table, ours, max_amount=max_amount, allow_negative_amounts=allow_negative_amounts, labels=False
        )
    if len(table) == 0:
        raise InvalidInputError(ErrorCode.FRAUD_EMPTY_INPUT, "no transactions: the table has no rows", value=0)
    if table.time is None or table.amount is None:
        raise InvalidInputError(
            ErrorCode.FRAUD_MISSING_COLUMN,
            "an entity graph from a transaction log needs timestamps and amounts",
            value=[c for c, v in (("timestamp", table.time), ("amount", table.amount)) if v is None],
            hint="pass a log with timestamp and amount columns",
        )
    return table


def log_graph(
    log: TransactionLog,
    task: EntityTask,
    columns: dict[str, str] | None = None,
    max_amount: float = MAX_AMOUNT,
    allow_negative_amounts: bool = False,
) -> tuple[EntityGraph, EntityTask]:
    """The checked entity graph of ``log`` and the task with its payment relation directed."""
    pd = require("pandas", "fraud")
    columns = columns or {}
    table = read_log(log.transactions, columns, max_amount, allow_negative_amounts)
    entity_ids, codes = np.unique(np.concatenate([table.src, table.dst]).astype(str), return_inverse=True)
    n = len(entity_ids)
    src, dst = codes[: len(table)].astype(np.int64), codes[len(table) :].astype(np.int64)
    label_ids, label = read_entity_labels(log.labels, task, columns)
    node_label, counts = match_labels(entity_ids.astype(object), label_ids, label)
    x, names = transaction_features(table)
    attrs, attr_names = entity_aggregates(table, x, names, src, dst, n)
    pays = np.bincount(src, minlength=n) > 0
    nodes = pd.DataFrame(attrs, columns=attr_names)
    nodes.insert(0, "id", entity_ids)
    nodes.insert(1, "type", np.where(pays, "account", "merchant"))
    nodes.insert(2, "label", node_label)
    a, b, edge_attrs, edge_names = pair_aggregates(table, x, names, src, dst, n)
    edges = pd.DataFrame(edge_attrs, columns=edge_names)
    edges.insert(0, "source", entity_ids[a])
    edges.insert(1, "destination", entity_ids[b])
    if not task.is_directed(log.relation):
        task = dataclasses.replace(task, directed=(*task.directed, log.relation))
    graph = load_entity_graph(nodes, {log.relation: edges}, task, {"id": "id", "label": "label", "type": "type"})
    graph.log = PaymentLog.of(table, src, dst, log.relation)
    graph.report["log"] = {
        "transactions": len(table),
        "reordered": int(table.n_reordered),
        "accounts": int(pays.sum()),
        "merchants": int((~pays).sum()),
        **counts,
    }
    return graph, task
