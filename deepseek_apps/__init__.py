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
    "DINRecommender",
    "Defect",
    "Inspection",
    "QualityInspector",
    "Recommendation",
    "RecommendationService",
    "__version__",
]

_LAZY = {
    "QualityInspector": "deepseek_apps.apps.inspector.app",
    "Inspection": "deepseek_apps.apps.inspector.results",
    "Defect": "deepseek_apps.apps.inspector.results",
    "DINRecommender": "deepseek_apps.apps.recommender.app",
    "Recommendation": "deepseek_apps.apps.recommender.results",
    "RecommendationService": "deepseek_apps.apps.recommender.serving",
}

if TYPE_CHECKING:
    from .apps.inspector.app import QualityInspector
    from .apps.inspector.results import Defect, Inspection
    from .apps.recommender.app import DINRecommender
    from .apps.recommender.results import Recommendation
    from .apps.recommender.serving import RecommendationService


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'deepseek_apps' has no attribute {name!r}")
