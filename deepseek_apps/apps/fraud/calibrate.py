"""Ranking metrics and the alert threshold for a target false-positive rate.

Example:
    >>> import numpy as np
    >>> y = np.array([0, 0, 0, 1]); s = np.array([0.1, 0.2, 0.3, 0.9])
    >>> roc_auc(y, s), threshold_for_fpr(y, s, 0.0) > 0.3
    (1.0, True)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ...errors import ErrorCode, InvalidInputError


def _check(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=np.float64)
    s = np.asarray(s, dtype=np.float64)
    if y.min(initial=0) < 0 or y.max(initial=0) > 1 or len(np.unique(y)) < 2:
        raise InvalidInputError(
            ErrorCode.FRAUD_TOO_FEW_LABELS,
            "metrics need both fraudulent (1) and legitimate (0) labels",
            value=np.unique(y).tolist()[:5],
            hint="evaluate on a set that holds both classes",
        )
    return y, s


def roc_auc(y: np.ndarray, s: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half)."""
    y, s = _check(y, s)
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_s, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1
    ranks[order] = np.repeat(avg, counts)
    n_pos = y.sum()
    n_neg = len(y) - n_pos
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(y: np.ndarray, s: np.ndarray) -> float:
    """Area under the precision-recall curve (step-wise, as scikit-learn's ``average_precision_score``)."""
    y, s = _check(y, s)
    order = np.argsort(-s, kind="mergesort")
    y_sorted, s_sorted = y[order], s[order]
    distinct = np.r_[np.flatnonzero(np.diff(s_sorted)), len(s) - 1]
    tp = np.cumsum(y_sorted)[distinct]
    fp = (distinct + 1) - tp
    precision = tp / (tp + fp)
    recall = tp / y.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def threshold_for_fpr(y: np.ndarray, s: np.ndarray, target_fpr: float) -> float:
    """The lowest threshold whose false-positive rate on ``(y, s)`` is at most ``target_fpr``.

    An alert is ``score >= threshold``; at most ``floor(target_fpr * n_legit)`` legitimate
    rows score that high.
    """
    y, s = _check(y, s)
    neg = np.sort(s[y == 0])[::-1]
    allowed = int(np.floor(target_fpr * len(neg)))
    if allowed >= len(neg):
        return float(neg[-1])
    return float(np.nextafter(neg[allowed], np.inf))


def recall_at_fpr(y: np.ndarray, s: np.ndarray, target_fpr: float = 0.01) -> float:
    """Share of fraud caught at the threshold that keeps the FPR at ``target_fpr``."""
    thr = threshold_for_fpr(y, s, target_fpr)
    return float((s[np.asarray(y) == 1] >= thr).mean())


@dataclass
class Metrics:
    """AUC, AUPRC, recall at 1% FPR, and the alert stats at the calibrated threshold."""

    auc: float
    auprc: float
    recall_at_1pct_fpr: float
    n: int
    n_fraud: int
    threshold: float | None = None
    precision_at_threshold: float | None = None
    recall_at_threshold: float | None = None
    fpr_at_threshold: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def evaluate_scores(y: np.ndarray, s: np.ndarray, threshold: float | None = None) -> Metrics:
    """All metrics of scores ``s`` against labels ``y`` (rows with unknown labels excluded)."""
    y = np.asarray(y, dtype=np.float64)
    keep = ~np.isnan(y)
    y, s = y[keep], np.asarray(s, dtype=np.float64)[keep]
    m = Metrics(roc_auc(y, s), average_precision(y, s), recall_at_fpr(y, s, 0.01), len(y), int(y.sum()))
    if threshold is not None:
        alert = s >= threshold
        m.threshold = float(threshold)
        m.precision_at_threshold = float(y[alert].mean()) if alert.any() else 0.0
        m.recall_at_threshold = float(alert[y == 1].mean())
        m.fpr_at_threshold = float(alert[y == 0].mean())
    return m
