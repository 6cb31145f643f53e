"""deepseek-apps: small, fast models for factories, banks and shops.

The public classes are imported lazily, so ``import deepseek_apps.core.runtime.edge`` (the
edge path) never pulls in PyTorch.

Example:
    >>> from deepseek_apps import QualityInspector
    >>> inspector = QualityInspector()  # the embedded NEU-DET default
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = [
    "AnomalyConfig",
    "AnomalyInspection",
    "AnomalyMetrics",
    "ContractAnalysis",
    "ContractMetrics",
    "ContractParser",
    "DINRecommender",
    "Defect",
    "DetectionMetrics",
    "FraudDetector",
    "FraudMetrics",
    "FraudScore",
    "Inspection",
    "QualityInspector",
    "Ranking",
    "RankingMetrics",
    "Recommendation",
    "RecommendationService",
    "__version__",
    "generate_transactions",
]

_LAZY = {
    "AnomalyConfig": "deepseek_apps.apps.inspector.anomaly.config",
    "AnomalyInspection": "deepseek_apps.apps.inspector.anomaly.results",
    "AnomalyMetrics": "deepseek_apps.apps.inspector.anomaly.results",
    "ContractParser": "deepseek_apps.apps.contracts.app",
    "ContractAnalysis": "deepseek_apps.apps.contracts.results",
    "ContractMetrics": "deepseek_apps.apps.contracts.results",
    "DetectionMetrics": "deepseek_apps.apps.inspector.metrics",
    "Ranking": "deepseek_apps.apps.recommender.results",
    "RankingMetrics": "deepseek_apps.apps.recommender.metrics",
    "FraudMetrics": "deepseek_apps.apps.fraud.calibrate",
    "QualityInspector": "deepseek_apps.apps.inspector.app",
    "Inspection": "deepseek_apps.apps.inspector.results",
    "Defect": "deepseek_apps.apps.inspector.results",
    "DINRecommender": "deepseek_apps.apps.recommender.app",
    "Recommendation": "deepseek_apps.apps.recommender.results",
    "RecommendationService": "deepseek_apps.apps.recommender.serving",
    "FraudDetector": "deepseek_apps.apps.fraud.app",
    "FraudScore": "deepseek_apps.apps.fraud.results",
    "generate_transactions": "deepseek_apps.apps.fraud.synthetic",
}

if TYPE_CHECKING:
    from .apps.contracts.app import ContractParser
    from .apps.contracts.results import ContractAnalysis, ContractMetrics
    from .apps.fraud.app import FraudDetector
    from .apps.fraud.calibrate import FraudMetrics
    from .apps.fraud.results import FraudScore
    from .apps.fraud.synthetic import generate_transactions
    from .apps.inspector.anomaly.config import AnomalyConfig
    from .apps.inspector.anomaly.results import AnomalyInspection, AnomalyMetrics
    from .apps.inspector.app import QualityInspector
    from .apps.inspector.metrics import DetectionMetrics
    from .apps.inspector.results import Defect, Inspection
    from .apps.recommender.app import DINRecommender
    from .apps.recommender.metrics import RankingMetrics
    from .apps.recommender.results import Ranking, Recommendation
    from .apps.recommender.serving import RecommendationService


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'deepseek_apps' has no attribute {name!r}")
