"""LightGBM on tabular + neighbour-aggregated features, and the GNN-embedding hybrid.

GADBench found tree ensembles with neighbour-aggregated features a match for GNNs on
fraud graphs, so they are part of the product. Each transaction gets the mean features of
the other transactions of its source and of its destination: the earlier ones only in a
timed stream (causal), all others in a static graph. The hybrid adds the GNN's embedding
of the transaction as extra columns.

Example:
    >>> agg = neighbour_means(keys, x, temporal=True)  # doctest: +SKIP
    >>> booster = train_trees(x_train, y_train, x_val, y_val, TreeConfig())  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ...errors import require


@dataclass
class TreeConfig:
    """LightGBM settings (early stopping on the validation split)."""

    num_leaves: int = 31
    learning_rate: float = 0.05
    n_estimators: int = 800
    min_child_samples: int = 20
    subsample: float = 0.8
    colsample: float = 0.8
    early_stopping: int = 60
    threads: int = 1
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def neighbour_means(keys: np.ndarray, x: np.ndarray, temporal: bool) -> np.ndarray:
    """Mean of ``x`` over the other rows with the same key (earlier rows only when ``temporal``).

    Rows are in stream order. A row with no such neighbour gets zeros.
    """
    n, f = x.shape
    order = np.lexsort((np.arange(n), keys))
    k, xs = keys[order], x[order].astype(np.float64)
    csum = np.vstack([np.zeros((1, f)), np.cumsum(xs, axis=0)])
    start = np.searchsorted(k, k, side="left")
    pos = np.arange(n)
    if temporal:
        count = pos - start
        total = csum[pos] - csum[start]
    else:
        end = np.searchsorted(k, k, side="right")
        count = end - start - 1
        total = csum[end] - csum[start] - xs
    mean = total / np.maximum(count, 1)[:, None]
    out = np.empty_like(mean)
    out[order] = mean
    return out.astype(np.float32)


def train_trees(x_train, y_train, x_val, y_val, cfg: TreeConfig, names: list[str] | None = None):
    """A LightGBM booster, early-stopped on validation AUPRC."""
    lgb = require("lightgbm", "fraud")
    params = {
        "objective": "binary",
        "num_leaves": cfg.num_leaves,
        "learning_rate": cfg.learning_rate,
        "min_child_samples": cfg.min_child_samples,
        "bagging_fraction": cfg.subsample,
        "bagging_freq": 1,
        "feature_fraction": cfg.colsample,
        "num_threads": cfg.threads,
        "seed": cfg.seed,
        "deterministic": True,
        "metric": "average_precision",
        "verbose": -1,
    }
    train = lgb.Dataset(x_train, label=y_train, feature_name=names or "auto", free_raw_data=True)
    val = lgb.Dataset(x_val, label=y_val, reference=train)
    return lgb.train(
        params,
        train,
        num_boost_round=cfg.n_estimators,
        valid_sets=[val],
        callbacks=[lgb.early_stopping(cfg.early_stopping, verbose=False)],
    )


def predict_trees(booster, x: np.ndarray) -> np.ndarray:
    return booster.predict(x, num_iteration=booster.best_iteration or None)


def contributions(booster, x: np.ndarray) -> np.ndarray:
    """Per-feature contributions (TreeSHAP, log-odds) of each row; the last column is the bias."""
    return booster.predict(x, num_iteration=booster.best_iteration or None, pred_contrib=True)


def booster_from_string(text: str):
    """A booster from LightGBM's own text format (never pickle)."""
    lgb = require("lightgbm", "fraud")
    return lgb.Booster(model_str=text)
