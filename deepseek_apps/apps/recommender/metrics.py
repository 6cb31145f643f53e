"""The DIN paper's ranking report: AUC, user-weighted AUC (GAUC), log loss, and RelaImpr.

AUC, GAUC and log loss come from ``deepseek_apps.core.metrics`` (the one implementation
every application shares); this module only groups them and adds RelaImpr.

Example:
    >>> import numpy as np
    >>> from deepseek_apps.apps.recommender.metrics import evaluate_scores
    >>> y, p = np.array([1, 0, 1, 0]), np.array([0.9, 0.1, 0.4, 0.6])
    >>> m = evaluate_scores(y, p, np.array([1, 1, 2, 2]))
    >>> m.auc, m.gauc, m.samples
    (0.75, 0.5, 4)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ...core.metrics import gauc, log_loss, roc_auc


def rela_impr(model_auc: float, base_auc: float) -> float:
    """RelaImpr in percent: ``((AUC(model) - 0.5) / (AUC(base) - 0.5) - 1) * 100``."""
    return ((model_auc - 0.5) / (base_auc - 0.5) - 1.0) * 100.0


@dataclass
class RankingMetrics:
    """AUC, GAUC and log loss of click probabilities over ``samples`` samples."""

    auc: float
    gauc: float
    log_loss: float
    samples: int

    def to_dict(self) -> dict:
        return asdict(self)


def evaluate_scores(labels, scores, users) -> RankingMetrics:
    """``RankingMetrics`` of probabilities ``scores`` against 0/1 ``labels``, GAUC grouped by ``users``."""
    return RankingMetrics(roc_auc(labels, scores), gauc(labels, scores, users), log_loss(labels, scores), len(labels))
