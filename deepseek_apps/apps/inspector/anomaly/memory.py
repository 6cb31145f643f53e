"""The memory bank: greedy coreset selection and nearest-neighbour distances.

``greedy_coreset`` is PatchCore's k-center greedy selection: start from one patch, then
repeatedly add the patch farthest from everything chosen so far, so the bank covers the
good patches' feature space with few rows. Distances during selection use a random
projection (Johnson-Lindenstrauss, as in PatchCore) to keep each step cheap.
``nearest_distances`` is numpy only, so the edge bundle needs no PyTorch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from tqdm.auto import tqdm


def greedy_coreset(features: Any, count: int, projection_dim: int = 128, seed: int = 0, progress: bool = False) -> Any:
    """Indices (a torch tensor) of ``count`` rows of the ``(N, D)`` torch tensor ``features``, k-center greedy."""
    import torch

    total = features.shape[0]
    if count >= total:
        return torch.arange(total)
    generator = torch.Generator().manual_seed(seed)
    points = features.float()
    if points.shape[1] > projection_dim:
        projection = torch.randn(points.shape[1], projection_dim, generator=generator) / projection_dim**0.5
        points = points @ projection
    norms = (points * points).sum(dim=1)
    chosen = torch.empty(count, dtype=torch.long)
    chosen[0] = int(torch.randint(total, (1,), generator=generator))
    nearest = torch.full((total,), float("inf"))
    for step in tqdm(range(count), desc="coreset", unit="patch", disable=not progress, mininterval=1.0):
        if step:
            chosen[step] = int(torch.argmax(nearest))
        centre = points[chosen[step]]
        distance = norms - 2.0 * torch.mv(points, centre) + norms[chosen[step]]
        torch.minimum(nearest, distance, out=nearest)
    return chosen


def nearest_distances(queries: np.ndarray, bank: np.ndarray, max_elements: int = 1 << 23) -> np.ndarray:
    """Euclidean distance from each row of ``queries`` ``(M, D)`` to its nearest row of ``bank`` ``(K, D)``.

    Queries go in chunks so the ``chunk x K`` distance block stays under ``max_elements`` floats.
    """
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    bank = np.ascontiguousarray(bank, dtype=np.float32)
    bank_norms = (bank * bank).sum(axis=1)
    chunk = max(1, max_elements // max(1, len(bank)))
    out = np.empty(len(queries), dtype=np.float32)
    for start in range(0, len(queries), chunk):
        q = queries[start : start + chunk]
        squared = (q * q).sum(axis=1, keepdims=True) - 2.0 * (q @ bank.T) + bank_norms[None, :]
        out[start : start + chunk] = np.sqrt(np.maximum(squared.min(axis=1), 0.0))
    return out
