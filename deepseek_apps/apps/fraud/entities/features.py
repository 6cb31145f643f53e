"""Per-relation neighbour aggregates, out-of-fold label rates and the GNN's inputs.

Every relation is a message channel (a directed one two: ``rel>`` to the nodes it points at,
``rel<`` from the nodes pointing at it). For each node and channel: the neighbour count, the
mean and max of the neighbours' attributes, the mean of the edges' numeric columns, and the
fraud rate among the neighbours whose label the node may see.

Label rates are out-of-fold for every node alike: each node has a fold (a hash of its id and
the seed, so a node arriving later gets one too) and sees only the training labels of
neighbours in other folds. Training rows and scored rows therefore have the same feature
distribution, and no node's own label reaches its features; unknown labels count for nothing.

The same functions serve the whole graph at ``fit`` and a few new rows online: ``rows`` are
the nodes to describe, the columns of ``x`` all nodes they may link to.

Example:
    >>> folds = fold_of(np.array(["a", "b"], dtype=object), 3, seed=0)
    >>> folds.shape
    (2,)
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from .graph import EntityGraph


@dataclass
class Channel:
    """Edges of one message channel: ``rows[k]`` receives from ``cols[k]`` (edge columns ``attrs[k]``)."""

    rows: np.ndarray
    cols: np.ndarray
    attrs: np.ndarray
    attr_names: list[str]


def channels_of(graph: EntityGraph) -> dict[str, Channel]:
    """Each relation as one (undirected) or two (directed: out ``>``, in ``<``) channels."""
    out: dict[str, Channel] = {}
    for name, rel in graph.relations.items():
        if rel.directed:
            out[f"{name}>"] = Channel(rel.src, rel.dst, rel.attrs, rel.attr_names)
            out[f"{name}<"] = Channel(rel.dst, rel.src, rel.attrs, rel.attr_names)
        else:
            both = np.concatenate([rel.attrs, rel.attrs])
            out[name] = Channel(np.r_[rel.src, rel.dst], np.r_[rel.dst, rel.src], both, rel.attr_names)
    return out


def fold_of(ids: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """A node's fold: a hash of its id and the seed (the same for the node whenever it is scored)."""
    salt = f"{seed}:".encode()
    return np.array([zlib.crc32(salt + str(i).encode()) % folds for i in ids.tolist()], dtype=np.int64)


def one_hot_types(types: np.ndarray | None, vocab: list[str], n: int) -> np.ndarray:
    """``(n, len(vocab))`` one-hot entity types; all zeros for a table without a type column."""
    if types is None or not vocab:
        return np.zeros((n, len(vocab)), dtype=np.float32)
    lookup = {t: j for j, t in enumerate(vocab)}
    out = np.zeros((len(types), len(vocab)), dtype=np.float32)
    for i, t in enumerate(types.tolist()):
        if t in lookup:
            out[i, lookup[t]] = 1.0
    return out


def signed_log(x: np.ndarray) -> np.ndarray:
    return (np.sign(x) * np.log1p(np.abs(x))).astype(np.float32)


def _segment(rows: np.ndarray, values: np.ndarray, n_rows: int, how: str) -> np.ndarray:
    """Per-row sum or max of ``values`` (edges x k); rows without edges get 0 (sum) or NaN (max)."""
    k = values.shape[1]
    if how == "sum":
        out = np.zeros((n_rows, k), dtype=np.float64)
        for j in range(k):
            out[:, j] = np.bincount(rows, weights=values[:, j], minlength=n_rows)
        return out
    out = np.full((n_rows, k), np.nan, dtype=np.float32)
    if len(rows) == 0 or k == 0:
        return out
    order = np.argsort(rows, kind="stable")
    r = rows[order]
    starts = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
    out[r[starts]] = np.maximum.reduceat(values[order], starts, axis=0)
    return out


def neighbour_block(ch: Channel, x_all: np.ndarray, n_rows: int, name: str, names: list[str]):
    """Count, mean and max of neighbour attributes and the mean of edge columns, for one channel."""
    count = np.bincount(ch.rows, minlength=n_rows).astype(np.float64)
    denom = np.maximum(count, 1)[:, None]
    nb = x_all[ch.cols]
    mean = _segment(ch.rows, nb, n_rows, "sum") / denom
    mx = _segment(ch.rows, nb, n_rows, "max")
    edge = _segment(ch.rows, ch.attrs, n_rows, "sum") / denom
    edge[count == 0] = np.nan
    mean[count == 0] = np.nan
    cols = [np.log1p(count)[:, None], mean, mx, edge]
    labels = [f"{name}:count"] + [f"{name}:mean:{a}" for a in names] + [f"{name}:max:{a}" for a in names]
    labels += [f"{name}:edge_mean:{a}" for a in ch.attr_names]
    return np.hstack(cols).astype(np.float32), labels


def label_rates(ch: Channel, row_fold: np.ndarray, col_fold: np.ndarray, col_label: np.ndarray, n_rows: int):
    """Out-of-fold fraud rate and labelled-neighbour count for one channel.

    ``col_label``: training labels of the columns (NaN = not usable: unknown, or not training).
    """
    y = col_label[ch.cols]
    visible = ~np.isnan(y) & (col_fold[ch.cols] != row_fold[ch.rows])
    known = np.bincount(ch.rows, weights=visible.astype(np.float64), minlength=n_rows)
    pos = np.bincount(ch.rows, weights=np.where(visible, y, 0.0), minlength=n_rows)
    rate = np.where(known > 0, pos / np.maximum(known, 1), np.nan)
    return np.stack([rate, np.log1p(known)], axis=1).astype(np.float32)


@dataclass
class NodeFeatures:
    """Tree features (attributes first, then the neighbour blocks) and the GNN's raw inputs."""

    trees: np.ndarray
    names: list[str]
    n_attributes: int
    gnn: np.ndarray


def node_features(
    x_rows: np.ndarray,
    x_all: np.ndarray,
    channels: dict[str, Channel],
    row_fold: np.ndarray,
    col_fold: np.ndarray,
    col_label: np.ndarray,
    names: list[str],
) -> NodeFeatures:
    """Features of ``rows`` (their attributes ``x_rows``) whose edges point into the columns of ``x_all``."""
    n = len(x_rows)
    blocks, labels = [x_rows], list(names)
    gnn = [signed_log(x_rows)]
    for name, ch in channels.items():
        block, block_names = neighbour_block(ch, x_all, n, name, names)
        rates = label_rates(ch, row_fold, col_fold, col_label, n)
        blocks += [block, rates]
        labels += block_names + [f"{name}:fraud_rate", f"{name}:labelled"]
        edge = block[:, 1 + 2 * len(names) :]
        gnn += [block[:, :1], signed_log(np.nan_to_num(edge))]
    return NodeFeatures(np.hstack(blocks).astype(np.float32), labels, len(names), np.hstack(gnn).astype(np.float32))
