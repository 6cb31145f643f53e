"""The four scoring architectures and the "blend" of the GNN and the trees in log-odds.

Example:
    >>> import numpy as np
    >>> float(blend(np.array([0.5]), np.array([0.5]), 0.25)[0])
    0.5
"""

from __future__ import annotations

import numpy as np

ARCHS = ("gnn", "trees", "hybrid", "blend")
BLEND_WEIGHTS = (0.25, 0.5, 0.75)


def blend(gnn: np.ndarray, trees: np.ndarray, weight: float) -> np.ndarray:
    """The "blend" model: ``sigmoid(w * logit(gnn) + (1 - w) * logit(trees))``."""
    eps = 1e-7
    g = np.clip(np.asarray(gnn, dtype=np.float64), eps, 1 - eps)
    t = np.clip(np.asarray(trees, dtype=np.float64), eps, 1 - eps)
    z = weight * np.log(g / (1 - g)) + (1 - weight) * np.log(t / (1 - t))
    return 1 / (1 + np.exp(-z))
