"""Scores of a fitted detector's four models on built inputs, and the typed ``FraudScore`` of each row.

These functions read only a detector's public fitted attributes (``gnn_``, ``trees_``,
``hybrid_``, ``blend_weight_``, ``gnn_config_``, ``tree_feature_names_``, ``threshold_``,
``arch_``, ``top_reasons``), so ``FraudDetector``, ``explain`` and the benchmark share them.

Example:
    >>> inputs = detector.history_inputs()  # doctest: +SKIP
    >>> all_scores(detector, inputs, detector.split_["val"])["blend"][:3]  # doctest: +SKIP
"""

from __future__ import annotations

import time

import numpy as np
import torch

from .blend import blend
from .model import predict_gnn
from .pipeline import Inputs
from .results import FraudScore, Reason
from .trees import contributions, predict_trees


def embeddings(det, inputs: Inputs, index: np.ndarray) -> np.ndarray:
    """The GNN's embeddings of transaction rows ``index`` (the hybrid's extra columns)."""
    return predict_gnn(det.gnn_, inputs.graph.data, torch.as_tensor(index), det.gnn_config_, embed=True)


def hybrid_names(det, d: int) -> list[str]:
    """The hybrid's feature names: the trees' and ``d`` embedding columns."""
    return det.tree_feature_names_ + [f"gnn_emb{i}" for i in range(d)]


def all_scores(det, inputs: Inputs, index: np.ndarray, weight: float | None = None) -> dict[str, np.ndarray]:
    """Every model's scores of rows ``index`` (``weight``: the blend's, default the fitted one)."""
    emb = embeddings(det, inputs, index)
    out = {
        "gnn": predict_gnn(det.gnn_, inputs.graph.data, torch.as_tensor(index), det.gnn_config_),
        "trees": predict_trees(det.trees_, inputs.x_tree[index]),
        "hybrid": predict_trees(det.hybrid_, np.hstack([inputs.x_tree[index], emb])),
    }
    out["blend"] = blend(out["gnn"], out["trees"], det.blend_weight_ if weight is None else weight)
    return out


def _model_scores(det, inputs: Inputs, index: np.ndarray, reasons: bool):
    """``(scores, tree rows, feature names, contributions or None)`` of the detector's ``arch_``."""
    m = det.arch_
    x_reason = inputs.x_tree[index]
    if m in ("gnn", "blend"):
        s = predict_gnn(det.gnn_, inputs.graph.data, torch.as_tensor(index), det.gnn_config_)
        if m == "blend":
            s = blend(s, predict_trees(det.trees_, x_reason), det.blend_weight_)
        # GNN / blend: the trees' view of the row explains it
        contrib = contributions(det.trees_, x_reason)[:, :-1] if reasons else None
        return s, x_reason, det.tree_feature_names_, contrib
    if m == "hybrid":
        x_reason = np.hstack([x_reason, embeddings(det, inputs, index)])
    booster = det.trees_ if m == "trees" else det.hybrid_
    names = (
        det.tree_feature_names_ if m == "trees" else hybrid_names(det, x_reason.shape[1] - len(det.tree_feature_names_))
    )
    contrib = contributions(booster, x_reason)[:, :-1] if reasons else None
    return predict_trees(booster, x_reason), x_reason, names, contrib


def score_rows(
    det, inputs: Inputs, index: np.ndarray, ids, reasons: bool = True, t0: float | None = None
) -> list[FraudScore]:
    """``FraudScore`` of rows ``index`` of ``inputs`` with the detector's model, threshold and top reasons."""
    t0 = time.perf_counter() if t0 is None else t0
    s, x_reason, names, contrib = _model_scores(det, inputs, index, reasons)
    per = (time.perf_counter() - t0) * 1000 / max(len(index), 1)
    out = []
    for row in range(len(index)):
        top = []
        if reasons:
            order = np.argsort(-contrib[row])[: det.top_reasons]
            top = [
                Reason(names[j], float(x_reason[row, j]), float(contrib[row, j])) for j in order if contrib[row, j] > 0
            ]
        score = float(s[row])
        out.append(
            FraudScore(
                str(ids[row]),
                score,
                bool(score >= det.threshold_),
                det.threshold_,
                top,
                model=det.arch_,
                latency_ms=per,
            )
        )
    return out
