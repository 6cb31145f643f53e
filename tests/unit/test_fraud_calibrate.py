"""Fraud metrics sit on core.metrics; the fraud-specific checks and the threshold stay here."""

from __future__ import annotations

import json

import numpy as np
import pytest

from deepseek_apps.apps.fraud.calibrate import (
    FraudMetrics,
    check_labels,
    evaluate_scores,
    recall_at_fpr,
    threshold_for_fpr,
)
from deepseek_apps.core.metrics import average_precision, roc_auc
from deepseek_apps.errors import InvalidInputError


def test_metrics_come_from_core_and_one_class_is_refused():
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.1).astype(float)
    s = rng.random(300) + y * 0.5
    m = evaluate_scores(y, s, threshold=0.9)
    assert m.auc == roc_auc(y, s) and m.auprc == average_precision(y, s)
    assert m.n == 300 and m.n_fraud == int(y.sum()) and 0 <= m.fpr_at_threshold <= 1
    with pytest.raises(InvalidInputError) as exc:
        evaluate_scores(np.zeros(5), np.arange(5.0))
    assert exc.value.code == 1208
    with pytest.raises(InvalidInputError):
        check_labels(np.array([0.0, 2.0]), np.array([0.1, 0.2]))


def test_threshold_keeps_the_target_fpr():
    y = np.array([0, 0, 0, 0, 1, 1], dtype=float)
    s = np.array([0.1, 0.2, 0.3, 0.8, 0.7, 0.9])
    thr = threshold_for_fpr(y, s, 0.25)
    assert ((s >= thr) & (y == 0)).sum() <= 1
    assert threshold_for_fpr(y, s, 0.0) > 0.8 and recall_at_fpr(y, s, 0.0) == 0.5


def test_fraud_metrics_is_typed_and_serialisable():
    y = np.array([0, 1, 0, 1], dtype=float)
    per = {m: evaluate_scores(y, np.array([0.1, 0.9, 0.2, 0.8]), 0.5) for m in ("gnn", "trees")}
    metrics = FraudMetrics("trees", per)
    data = json.loads(json.dumps(metrics.to_dict()))
    assert data["model"] == "trees" and data["auc"] == 1.0 and set(data["per_model"]) == {"gnn", "trees"}
    assert metrics.auprc == 1.0 and metrics.recall_at_1pct_fpr == 1.0
