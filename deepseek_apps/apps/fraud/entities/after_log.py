"""New transactions after the fitted log: the entities they bring, as new nodes with their payment edges.

An entity model fitted on a ``TransactionLog`` keeps the log's payments (``txlog.PaymentLog``).
``entities_after(model, transactions)`` reads new transactions (the log's columns), computes
their causal features against the log's history plus the earlier new rows
(``incremental.stream_after``: the arithmetic of a rebuild of log + new, so every window
boundary falls where the rebuild puts it), and builds for every entity the log never saw its
node attributes (``entity_aggregates``) and its ``pays`` edges (``pair_aggregates``) from
its new transactions. Those are the rows ``log_graph`` of the log followed by the new
transactions gives these entities; ``online.new_rows`` / ``score_new`` score them.

Documented handling:

- entities already in the log are not new nodes: their payments become edges of the new
  ones, and their own scores stay those of ``fit`` (``score_entities``);
- a time earlier than the log's last one is scored as if it came last (as the transaction
  task does); transaction ids are not checked against the log (it keeps none);
- a channel the log never had gets no channel column (the fitted model has none for it);
- bad rows are refused as ``load_transactions`` refuses them (1201-1210); new rows without a
  numeric column, or without the channel column, the model was fitted with: 1201.

Example:
    >>> nodes, edges = entities_after(det.entity_model_, new_transactions)  # doctest: +SKIP
    >>> score_new(det.entity_model_, new_rows(det.entity_model_, nodes, edges))["trees"]  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ....errors import ErrorCode, InvalidInputError, require
from ..data import MAX_AMOUNT, TransactionTable
from ..features import head_columns, tail_columns
from ..incremental import stream_after
from .detector import EntityModel
from .txlog import PaymentLog, entity_aggregates, entity_columns, pair_aggregates, read_log


def payment_log(model: EntityModel) -> PaymentLog:
    """The model's ``PaymentLog``; 1220 for a model fitted on a node table or saved without its log."""
    log = model.graph.log
    if log is None:
        raise InvalidInputError(
            ErrorCode.FRAUD_WRONG_TASK,
            "this entity model keeps no transaction log: it was fitted on a node table, or saved before "
            "models fitted on a log kept it",
            value="log" in model.graph.report,
            hint="score new nodes with score(nodes, edges), or fit again on TransactionLog(transactions, labels)",
        )
    return log


def _fitted_columns(log: PaymentLog, new: TransactionTable) -> TransactionTable:
    """``new`` with the log's numeric columns, in the log's order; 1201 when one (or the channel) is missing."""
    missing = [k for k in log.extra if k not in new.extra]
    if log.channels and new.channel is None:
        missing.append("channel")
    if missing:
        raise InvalidInputError(
            ErrorCode.FRAUD_MISSING_COLUMN,
            f"the new transactions lack column(s) {missing} the model was fitted with "
            "(a numeric column with an empty cell is not numeric)",
            value=missing,
            hint="give new transactions the same columns as the fitted log, every cell filled",
        )
    new.extra = {k: new.extra[k] for k in log.extra}
    return new


def new_transactions(model: EntityModel, transactions: Any, columns=None, max_amount=MAX_AMOUNT, negative=False):
    """New transactions read and checked as the log was, times clamped to the log's last one."""
    log = payment_log(model)
    new = read_log(transactions, columns or {}, max_amount, negative)
    new = _fitted_columns(log, new.take(np.arange(len(new))))
    new.time = np.maximum(new.time, log.time.max())
    return new


def features_after(model: EntityModel, new: TransactionTable) -> tuple[np.ndarray, list[str]]:
    """The causal features of the rows of ``new`` after the fitted log, as ``txlog.transaction_features`` of log + new."""
    log = payment_log(model)
    cols, names = head_columns(new)
    index = log.stream_index(model.graph.ids)
    stream, stream_names, _ = stream_after(index, np.zeros(0, dtype=np.int64), new)
    tail, tail_names = tail_columns(new, log.channels)
    x = np.stack(cols + stream + tail, axis=1).astype(np.float32)
    return entity_columns(x, names + stream_names + tail_names, new.time)


def entities_after(model: EntityModel, new: TransactionTable) -> tuple[Any, dict[str, Any]]:
    """Node table (id, type, attributes) of the entities of ``new`` not in the log, and their ``pays`` edges.

    Nodes come in order of their first transaction in the input (``new.row``; stream order
    without it), a row's payer before its payee; edges are those with a new entity at one
    end or both.
    """
    pd = require("pandas", "fraud")
    log = payment_log(model)
    x, names = features_after(model, new)
    m = len(new)
    ids, codes = np.unique(np.concatenate([new.src, new.dst]).astype(str), return_inverse=True)
    src, dst = codes[:m].astype(np.int64), codes[m:].astype(np.int64)
    attrs, attr_names = entity_aggregates(new, x, names, src, dst, len(ids))
    a, b, edge_attrs, edge_names = pair_aggregates(new, x, names, src, dst, len(ids))
    known = model.graph_index()
    is_new = np.array([i not in known for i in ids.tolist()], dtype=bool)
    order = np.arange(m) if new.row is None else np.asarray(new.row)
    first = np.full(len(ids), np.iinfo(np.int64).max)
    np.minimum.at(first, np.concatenate([src, dst]), np.concatenate([2 * order, 2 * order + 1]))  # payer first
    pick = np.flatnonzero(is_new)
    pick = pick[np.argsort(first[pick], kind="stable")]
    pays = np.bincount(src, minlength=len(ids)) > 0
    nodes = pd.DataFrame(attrs[pick], columns=attr_names)
    nodes.insert(0, model.task.id_column or "id", ids[pick])
    nodes.insert(1, model.task.type_column, np.where(pays[pick], "account", "merchant"))
    keep = is_new[a] | is_new[b]
    edges = pd.DataFrame(edge_attrs[keep], columns=edge_names)
    edges.insert(0, "source", ids[a[keep]])
    edges.insert(1, "destination", ids[b[keep]])
    return nodes, {log.relation: edges}
