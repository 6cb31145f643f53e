"""The fraud metrics (from ``core.metrics``) and the alert threshold for a target false-positive rate.

Ranking metrics come from ``deepseek_apps.core.metrics``; this module adds what is specific
to fraud alerts: the check that both classes are present (``FRAUD_TOO_FEW_LABELS``), the
threshold that keeps a false-positive rate, recall at that rate, and the typed results
``Metrics`` (one model) and ``FraudMetrics`` (every model, as ``FraudDetector.evaluate`` gives).

Example:
    >>> import numpy as np
    >>> y = np.array([0, 0, 0, 1]); s = np.array([0.1, 0.2, 0.3, 0.9])
    >>> evaluate_scores(y, s).auc, threshold_for_fpr(y, s, 0.0) > 0.3
    (1.0, True)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ...core.metrics import average_precision, roc_auc
from ...errors import ErrorCode, InvalidInputError


def check_labels(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(y, s)`` as float arrays; raises ``FRAUD_TOO_FEW_LABELS`` unless both classes (0 and 1) are present."""
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


def auprc(y: np.ndarray, s: np.ndarray) -> float:
    """``core.metrics.average_precision`` after ``check_labels``."""
    return average_precision(*check_labels(y, s))


def threshold_for_fpr(y: np.ndarray, s: np.ndarray, target_fpr: float) -> float:
    """The lowest threshold whose false-positive rate on ``(y, s)`` is at most ``target_fpr``.

    An alert is ``score >= threshold``; at most ``floor(target_fpr * n_legit)`` legitimate
    rows score that high.
    """
    y, s = check_labels(y, s)
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
    """One model's AUC, AUPRC, recall at 1% FPR, and the alert stats at its calibrated threshold."""

    auc: float
    auprc: float
    recall_at_1pct_fpr: float
    n: int
    n_fraud: int
    threshold: float | None = None
    precision_at_threshold: float | None = None
    recall_at_threshold: float | None = None
    fpr_at_threshold: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FraudMetrics:
    """Metrics of every model of a detector on one labelled set; ``model`` is the one that alerts.

    Attributes:
        model: the architecture the detector scores with (``arch_``).
        per_model: ``{"gnn" | "trees" | "hybrid" | "blend": Metrics}``.
    """

    model: str
    per_model: dict[str, Metrics] = field(default_factory=dict)

    @property
    def chosen(self) -> Metrics:
        """The metrics of the model that alerts."""
        return self.per_model[self.model]

    @property
    def auc(self) -> float:
        return self.chosen.auc

    @property
    def auprc(self) -> float:
        return self.chosen.auprc

    @property
    def recall_at_1pct_fpr(self) -> float:
        return self.chosen.recall_at_1pct_fpr

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            **self.chosen.to_dict(),
            "per_model": {m: v.to_dict() for m, v in self.per_model.items()},
        }


def evaluate_scores(y: np.ndarray, s: np.ndarray, threshold: float | None = None) -> Metrics:
    """All metrics of scores ``s`` against labels ``y`` (rows with unknown labels excluded)."""
    y = np.asarray(y, dtype=np.float64)
    keep = ~np.isnan(y)
    y, s = check_labels(y[keep], np.asarray(s, dtype=np.float64)[keep])
    m = Metrics(roc_auc(y, s), average_precision(y, s), recall_at_fpr(y, s, 0.01), len(y), int(y.sum()))
    if threshold is not None:
        alert = s >= threshold
        m.threshold = float(threshold)
        m.precision_at_threshold = float(y[alert].mean()) if alert.any() else 0.0
        m.recall_at_threshold = float(alert[y == 1].mean())
        m.fpr_at_threshold = float(alert[y == 0].mean())
    return m
