"""Inductive scoring: new entities with their edges, scored without re-running the whole graph.

A new node's features are computed from its own edges only: neighbour aggregates over the
fitted graph's attributes (and other new nodes'), out-of-fold label rates from the training
labels, and the GNN layer by layer from the cached layer states of the fitted graph (the
neighbours' states are gathered, never recomputed). Fitted nodes are not re-scored when a new
node links to them: their scores stay those of ``fit`` until the model is fitted again.
Edges between two fitted nodes in the input are ignored (counted in ``ignored_edges``).

Example:
    >>> rows = new_rows(model, [{"id": "n1", "x0": 1.0}], {"knows": [{"src": "n1", "dst": "a"}]})  # doctest: +SKIP
    >>> score_new(model, rows)["trees"]  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ....errors import ErrorCode, InvalidInputError
from .detector import EntityModel, sigmoid
from .features import Channel, fold_of, node_features, one_hot_types
from .graph import edge_frames, read_nodes, relation_from_frame


@dataclass
class NewRows:
    """New nodes and their channels; channel columns index ``old_cols`` (fitted nodes) then the new rows."""

    ids: np.ndarray
    x: np.ndarray
    channels: dict[str, Channel]
    old_cols: np.ndarray
    ignored_edges: int


def _attributes(model: EntityModel, nodes: Any):
    ids, x, names, _, types, _ = read_nodes(nodes, model.task)
    missing = [a for a in model.graph.attr_names if a not in names]
    if missing:
        raise InvalidInputError(
            ErrorCode.FRAUD_NODE_COLUMNS,
            f"new nodes lack the model's attribute column(s) {missing[:10]}",
            value=names[:10],
            hint="give new nodes every attribute column the model was fitted on (empty cells are imputed)",
        )
    known = model.graph_index()
    clash = [i for i in ids.tolist() if i in known]
    if clash:
        raise InvalidInputError(
            ErrorCode.FRAUD_DUPLICATE_NODE_ID,
            f"{len(clash)} new node id(s) are already in the fitted graph",
            value=clash[:5],
            hint="score_entities() scores fitted nodes; new nodes need new ids",
        )
    order = [names.index(a) for a in model.graph.attr_names]
    x = np.hstack([x[:, order], one_hot_types(types, model.type_vocab, len(x))])
    return ids, x.astype(np.float32)


class _Lookup:
    """Node id -> index over the fitted nodes, then the new ones, without copying the fitted
    index (a copy per call made one new entity cost O(fitted nodes)). New ids never repeat
    fitted ones (``_attributes`` refuses that), so the lengths add up."""

    def __init__(self, fitted: dict[str, int], new: dict[str, int]):
        self.fitted, self.new = fitted, new

    def get(self, key: str, default: int = -1) -> int:
        found = self.new.get(key)
        return self.fitted.get(key, default) if found is None else found

    def __len__(self) -> int:
        return len(self.fitted) + len(self.new)


def new_rows(model: EntityModel, nodes: Any, edges: Any) -> NewRows:
    """New nodes (same attribute columns as the fitted ones) and their edges, as row channels."""
    ids, x = _attributes(model, nodes)
    n_old = model.graph.n
    lookup = _Lookup(model.graph_index(), {k: n_old + i for i, k in enumerate(ids.tolist())})
    report = {"self_loops": {}, "duplicate_edges": {}, "edges": {}, "imputed_edge_values": {}}
    frames = edge_frames(edges, model.task) if edges is not None else {}
    unknown = [r for r in frames if r not in model.graph.relations]
    if unknown:
        raise InvalidInputError(
            ErrorCode.FRAUD_BAD_EDGES,
            f"relation(s) {unknown} are not in the fitted graph",
            value=unknown,
            hint=f"use the model's relations: {sorted(model.graph.relations)}",
        )
    parts: dict[str, list[tuple]] = {c: [] for c in model.channels}
    ignored = 0
    for name, frame in frames.items():
        rel = relation_from_frame(name, frame, lookup, model.task, report)
        fitted = model.graph.relations[name]
        attrs = _edge_attrs(rel, fitted.attr_names, name)
        ignored += int(((rel.src < n_old) & (rel.dst < n_old)).sum())
        pairs = [(f"{name}>", rel.src, rel.dst), (f"{name}<", rel.dst, rel.src)] if rel.directed else []
        if not rel.directed:
            pairs = [(name, rel.src, rel.dst), (name, rel.dst, rel.src)]
        for channel, rows, cols in pairs:
            keep = rows >= n_old
            parts[channel].append((rows[keep] - n_old, cols[keep], attrs[keep]))
    all_cols = np.concatenate([c for p in parts.values() for _, c, _ in p] or [np.zeros(0, np.int64)])
    old_cols = np.unique(all_cols[all_cols < n_old])
    channels = {}
    for channel, items in parts.items():
        k = len(model.channels[channel].attr_names)
        rows = np.concatenate([r for r, _, _ in items] or [np.zeros(0, np.int64)])
        cols = np.concatenate([c for _, c, _ in items] or [np.zeros(0, np.int64)])
        attrs = np.concatenate([a for _, _, a in items] or [np.zeros((0, k), np.float32)])
        compact = np.where(cols < n_old, np.searchsorted(old_cols, cols), len(old_cols) + cols - n_old)
        channels[channel] = Channel(rows, compact, attrs, model.channels[channel].attr_names)
    return NewRows(ids, x, channels, old_cols, ignored)


def _edge_attrs(rel, names: list[str], relation: str) -> np.ndarray:
    missing = [a for a in names if a not in rel.attr_names]
    if missing:
        raise InvalidInputError(
            ErrorCode.FRAUD_BAD_EDGES,
            f"relation {relation!r}: new edges lack the column(s) {missing}",
            value=rel.attr_names,
            hint="give new edges the same numeric columns as the fitted ones",
        )
    return rel.attrs[:, [rel.attr_names.index(a) for a in names]]


def _dense_mean(ch: Channel, m: int, n_cols: int) -> torch.Tensor:
    """The row-normalised adjacency of new rows over their compact neighbour columns (dense: it is small)."""
    a = np.zeros((m, n_cols), dtype=np.float32)
    np.add.at(a, (ch.rows, ch.cols), 1.0)
    return torch.from_numpy(a / np.maximum(a.sum(1, keepdims=True), 1.0))


def score_new(model: EntityModel, rows: NewRows) -> dict[str, np.ndarray]:
    """Every architecture's score of the new rows (``blend`` included)."""
    m, old = len(rows.ids), rows.old_cols
    fold = fold_of(rows.ids, model.task.folds, model.seed)
    x_cols = np.vstack([model.x_all[old], rows.x])
    col_fold = np.concatenate([model.fold[old], fold])
    col_label = np.concatenate([model.train_label(old), np.full(m, np.nan)])
    feats = node_features(rows.x, x_cols, rows.channels, fold, col_fold, col_label, model.node_names)
    n_cols = len(old) + m
    adjs = [_dense_mean(c, m, n_cols) for c in rows.channels.values()]  # small: rows x their neighbours
    xg = torch.from_numpy(feats.gnn)
    old_t = torch.from_numpy(old)
    parts, logits = [], []
    for net, cache in zip(model.gnns, model.gnn_cache_now()):
        gathered = [s[old_t] for s in cache["states"][:-1]]
        logit, hs = net.forward_rows(xg, adjs, gathered)
        logit = logit.numpy().astype(np.float64)
        col_logit = np.concatenate([cache["logit"].numpy()[old].astype(np.float64), logit])
        parts.append((logit, hs[-1].numpy(), col_logit))
        logits.append(logit)
    hybrid = model.hybrid_features(feats.trees, fold, parts, rows.channels)
    scores = model.score_matrix(feats.trees, hybrid, sigmoid(np.stack(logits)).mean(0))
    scores["blend"] = model.blend_scores(scores)
    return scores
