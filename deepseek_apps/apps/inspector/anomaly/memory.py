"""The memory bank: greedy coreset selection and nearest-neighbour distances.

``greedy_coreset`` is PatchCore's k-center greedy selection: start from one patch, then
repeatedly add the patch farthest from everything chosen so far, so the bank covers the
good patches' feature space with few rows. Distances during selection use a random
projection (Johnson-Lindenstrauss, as in PatchCore) to keep each step cheap.
``grouped_coreset`` makes that affordable on many large images (a "composable coreset",
as in distributed k-center): each image's patches are first reduced by the same greedy
selection to a few times their share of the bank, then the greedy pass runs over these
candidates only. An image's far-out patches survive its own pass, so the bank covers
nearly as well, and the cost drops from ``bank x patches`` to about ``bank x candidates``.
``nearest_distances`` is numpy only, so the edge bundle needs no PyTorch.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from tqdm.auto import tqdm

CANDIDATES_PER_ROW = 4  # grouped_coreset: candidates kept per bank row in the first, per-image pass
EXACT_WORK = 1 << 30  # grouped_coreset runs the plain greedy pass while bank rows x patches stay under this


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


def grouped_coreset(
    features: Any,
    count: int,
    group_rows: int,
    projection_dim: int = 128,
    seed: int = 0,
    candidates: int = CANDIDATES_PER_ROW,
    progress: bool = False,
    exact_work: int = EXACT_WORK,
) -> Any:
    """Like ``greedy_coreset`` for ``features`` made of consecutive groups of ``group_rows`` rows (one per image):
    each group keeps ``candidates`` times its share of ``count`` by greedy selection, then the greedy pass
    picks ``count`` of those. The plain greedy pass where it is cheap anyway (``count x rows <= exact_work``)
    or where grouping would not save work."""
    import torch

    total = features.shape[0]
    groups = total // max(1, group_rows)
    keep = max(1, math.ceil(candidates * count / max(1, groups)))
    small = count * total <= exact_work
    if small or count >= total or groups < 2 or keep * 2 > group_rows or groups * group_rows != total:
        return greedy_coreset(features, count, projection_dim, seed, progress)
    pool = torch.cat(
        [
            greedy_coreset(features[g * group_rows : (g + 1) * group_rows], keep, projection_dim, seed + g)
            + g * group_rows
            for g in tqdm(range(groups), desc="coreset (per image)", disable=not progress, mininterval=1.0)
        ]
    )
    return pool[greedy_coreset(features[pool], count, projection_dim, seed, progress)]


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
