"""From a transaction table to the model inputs: features, tree matrix, graph, splits.

Shared by ``FraudDetector.fit``, batch scoring and the benchmark, so every path builds
its inputs the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ...errors import ErrorCode, InvalidInputError
from .data import EntityTable, TransactionTable
from .features import encode, features_for, label_rate_columns
from .graph import TransactionGraph, build_graph
from .trees import neighbour_means


@dataclass
class Inputs:
    """Everything the three models read for one table."""

    x: np.ndarray  # txn node features (GNN input)
    x_tree: np.ndarray  # x + neighbour means (tree input)
    names: list[str]
    tree_names: list[str]
    graph: TransactionGraph


def entity_matrix(ids: np.ndarray, entities: EntityTable | None) -> np.ndarray:
    """Rows of an entity table's features for ``ids`` (zeros for ids the table lacks)."""
    if entities is None:
        return np.zeros((len(ids), 0), np.float32)
    lookup = {k: i for i, k in enumerate(entities.ids.tolist())}
    idx = np.fromiter((lookup.get(v, -1) for v in ids), dtype=np.int64, count=len(ids))
    out = np.zeros((len(ids), entities.features.shape[1]), np.float32)
    out[idx >= 0] = entities.features[idx[idx >= 0]]
    return out


def build_inputs(
    table: TransactionTable,
    channels: list[str],
    label_features: bool,
    known: np.ndarray | None,
    seed: int = 0,
    entities: dict[str, EntityTable] | None = None,
) -> Inputs:
    """Features of every row of ``table``; ``known`` marks rows whose labels may feed label features.

    ``entities`` (``{"account": EntityTable, "merchant": EntityTable}``, either optional) adds
    static entity attributes: as the entity nodes' GNN features and as tree columns.
    """
    entities = entities or {}
    x, names = features_for(table, channels)
    src, _ = encode(table.src)
    dst, _ = encode(table.dst)
    temporal = table.time is not None
    agg_x = x
    if label_features:
        y = np.nan_to_num(table.label if table.label is not None else np.zeros(len(table)), nan=0.0)
        lab, lab_names = label_rate_columns(src, dst, y, known, folds=5, seed=seed)
        x = np.hstack([x, lab])
        names = names + lab_names
    # label columns are never averaged over neighbours: a neighbour's rate can hold this row's label
    agg = [neighbour_means(src, agg_x, temporal), neighbour_means(dst, agg_x, temporal)]
    base = [n for n in names if not n.endswith(("_label_rate", "_labelled"))]
    tree_names = names + [f"srcnbr_mean_{n}" for n in base] + [f"dstnbr_mean_{n}" for n in base]
    acc, mer = entities.get("account"), entities.get("merchant")
    ent = [entity_matrix(table.src, acc), entity_matrix(table.dst, mer)]
    for kind, et in (("account", acc), ("merchant", mer)):
        tree_names += [f"{kind}.{n}" for n in (et.feature_names if et is not None else [])]
    x_tree = np.hstack([x, *agg, *ent]).astype(np.float32)
    return Inputs(x, x_tree, names, tree_names, entity_graph(table, x, entities))


def entity_graph(table: TransactionTable, x: np.ndarray, entities: dict[str, EntityTable]) -> TransactionGraph:
    """``build_graph`` of ``table`` with GNN input ``x``; entity attributes join the entity nodes' features."""
    graph = build_graph(table, x, table.label)
    for kind, vocab in (("account", graph.account_vocab), ("merchant", graph.merchant_vocab)):
        et = entities.get(kind)
        if et is not None:
            ids = np.array(sorted(vocab, key=vocab.get), dtype=object)
            feats = torch.from_numpy(entity_matrix(ids, et))
            graph.data[kind].x = torch.cat([graph.data[kind].x, feats], dim=1)
    return graph


def split_rows(
    table: TransactionTable, val_fraction: float, test_fraction: float, seed: int = 0
) -> dict[str, np.ndarray]:
    """Train / validation / test rows among the labelled ones.

    Timed streams split by time (train = earliest, test = latest), so the evaluation asks
    the question production asks. Untimed graphs split at random, stratified by label
    (shuffled first: row order can leak the label, see the YelpChi notes).
    """
    if table.label is None:
        raise InvalidInputError(
            ErrorCode.FRAUD_TOO_FEW_LABELS,
            "fit needs labels",
            value=None,
            hint="add a 'label' column (1 fraud, 0 legitimate, empty unknown)",
        )
    labelled = np.flatnonzero(~np.isnan(table.label))
    y = table.label[labelled]
    if y.sum() < 3 or (len(y) - y.sum()) < 3:
        raise InvalidInputError(
            ErrorCode.FRAUD_TOO_FEW_LABELS,
            "fit needs at least 3 fraudulent and 3 legitimate labelled transactions",
            value={"fraud": int(y.sum()), "legit": int(len(y) - y.sum())},
            hint="label more transactions, or use the default model",
        )
    if table.time is not None:
        n = len(labelled)
        a, b = int(n * (1 - val_fraction - test_fraction)), int(n * (1 - test_fraction))
        return {"train": labelled[:a], "val": labelled[a:b], "test": labelled[b:]}
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for cls in (0.0, 1.0):
        rows = rng.permutation(labelled[y == cls])
        a = int(round(len(rows) * (1 - val_fraction - test_fraction)))
        b = int(round(len(rows) * (1 - test_fraction)))
        parts["train"].append(rows[:a])
        parts["val"].append(rows[a:b])
        parts["test"].append(rows[b:])
    return {k: np.sort(np.concatenate(v)) for k, v in parts.items()}
