"""Training and calibration of a detector's four models on built inputs (``FraudDetector.fit``'s steps).

Each function sets fitted attributes on the detector it is given: ``train_models`` the GNN,
the trees and the hybrid; ``calibrate`` the blend weight, the thresholds, ``arch_`` and
``metrics_`` (validation and test reports of every model).

Example:
    >>> train_models(detector, inputs, progress=False)  # doctest: +SKIP
    >>> calibrate(detector, inputs, "auto")  # doctest: +SKIP
"""

from __future__ import annotations

import time

import numpy as np

from .blend import ARCHS, BLEND_WEIGHTS, blend
from .calibrate import evaluate_scores, threshold_for_fpr
from .model import train_gnn
from .pipeline import Inputs
from .scoring import all_scores, embeddings, hybrid_names
from .trees import train_trees

DEFAULT_TARGET_FPR = 0.01


def train_models(det, inputs: Inputs, progress: bool) -> None:
    """The GNN, then LightGBM, then the hybrid (LightGBM + GNN embeddings of train / val rows), set on ``det``."""
    y = det.history_.label
    tr, va = det.split_["train"], det.split_["val"]
    t0 = time.perf_counter()
    det.gnn_, det.gnn_history_ = train_gnn(inputs.graph.data, tr, va, det.gnn_config_, progress)
    det.fit_seconds_ = {"gnn": time.perf_counter() - t0}
    t0 = time.perf_counter()
    det.trees_ = train_trees(
        inputs.x_tree[tr], y[tr], inputs.x_tree[va], y[va], det.tree_config_, det.tree_feature_names_
    )
    det.fit_seconds_["trees"] = time.perf_counter() - t0
    emb = embeddings(det, inputs, np.concatenate([tr, va]))
    x_tr = np.hstack([inputs.x_tree[tr], emb[: len(tr)]])
    x_va = np.hstack([inputs.x_tree[va], emb[len(tr) :]])
    t0 = time.perf_counter()
    det.hybrid_ = train_trees(x_tr, y[tr], x_va, y[va], det.tree_config_, hybrid_names(det, emb.shape[1]))
    det.fit_seconds_["hybrid"] = time.perf_counter() - t0


def calibrate(det, inputs: Inputs, arch: str) -> None:
    """The blend weight, each model's threshold for ``det.target_fpr`` (default 1%), ``arch_`` and the report."""
    y = det.history_.label
    va, te = det.split_["val"], det.split_["test"]
    val = all_scores(det, inputs, va, weight=0.5)
    det.blend_weight_ = max(
        BLEND_WEIGHTS, key=lambda w: evaluate_scores(y[va], blend(val["gnn"], val["trees"], w)).auprc
    )
    val["blend"] = blend(val["gnn"], val["trees"], det.blend_weight_)
    det.val_scores_ = val
    both_classes = len(np.unique(y[te][~np.isnan(y[te])])) == 2
    test = all_scores(det, inputs, te) if both_classes else {}  # no test report without both classes
    det.target_fpr_ = DEFAULT_TARGET_FPR if det.target_fpr is None else float(det.target_fpr)
    det.thresholds_ = {m: threshold_for_fpr(y[va], val[m], det.target_fpr_) for m in ARCHS}
    val_metrics = {m: evaluate_scores(y[va], val[m], det.thresholds_[m]).to_dict() for m in ARCHS}
    det.arch_ = max(ARCHS, key=lambda m: val_metrics[m]["auprc"]) if arch == "auto" else arch
    det.threshold_ = det.thresholds_[det.arch_]
    det.metrics_ = {
        "val": val_metrics,
        "test": {m: evaluate_scores(y[te], test[m], det.thresholds_[m]).to_dict() for m in test},
        "model": det.arch_,
        "split": {k: len(v) for k, v in det.split_.items()},
        "target_fpr": det.target_fpr_,
        "blend_weight": det.blend_weight_,
    }
