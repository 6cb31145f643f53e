"""Ranking metrics of the DIN paper: AUC, user-weighted AUC (GAUC), log loss, RelaImpr.

Example:
    >>> import numpy as np
    >>> from deepseek_apps.apps.recommender.metrics import auc, gauc
    >>> y, p = np.array([1, 0, 1, 0]), np.array([0.9, 0.1, 0.4, 0.6])
    >>> auc(y, p), gauc(y, p, np.array([1, 1, 2, 2]))
    (0.75, 0.5)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


def _rank_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Mann-Whitney AUC with average ranks for ties; nan when only one class is present."""
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(p, kind="mergesort")
    sp = p[order]
    ranks = np.empty(len(p), np.float64)
    # average rank of each run of equal scores
    edges = np.flatnonzero(np.r_[True, sp[1:] != sp[:-1], True])
    for a, b in zip(edges[:-1], edges[1:]):
        ranks[order[a:b]] = (a + b + 1) / 2.0
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auc(labels, scores) -> float:
    return _rank_auc(np.asarray(labels, np.float64), np.asarray(scores, np.float64))


def gauc(labels, scores, users) -> float:
    """AUC per user weighted by the user's number of impressions (users with one class skipped)."""
    y, p, u = (np.asarray(a) for a in (labels, scores, users))
    order = np.argsort(u, kind="mergesort")
    y, p, u = y[order].astype(np.float64), p[order].astype(np.float64), u[order]
    bounds = np.flatnonzero(np.r_[True, u[1:] != u[:-1], True])
    total, weight = 0.0, 0
    for a, b in zip(bounds[:-1], bounds[1:]):
        value = _rank_auc(y[a:b], p[a:b])
        if not np.isnan(value):
            total += value * (b - a)
            weight += b - a
    return float(total / weight) if weight else float("nan")


def log_loss(labels, scores, eps: float = 1e-7) -> float:
    y = np.asarray(labels, np.float64)
    p = np.clip(np.asarray(scores, np.float64), eps, 1 - eps)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def rela_impr(model_auc: float, base_auc: float) -> float:
    """RelaImpr in percent: ``((AUC(model) - 0.5) / (AUC(base) - 0.5) - 1) * 100``."""
    return ((model_auc - 0.5) / (base_auc - 0.5) - 1.0) * 100.0


@dataclass
class RankingMetrics:
    auc: float
    gauc: float
    log_loss: float
    samples: int

    def to_dict(self) -> dict:
        return asdict(self)


def evaluate_scores(labels, scores, users) -> RankingMetrics:
    return RankingMetrics(auc(labels, scores), gauc(labels, scores, users), log_loss(labels, scores), len(labels))
