"""The fitted anomaly model: an embedder (PyTorch or ONNX Runtime), a memory bank and a threshold.

``fit_anomaly`` builds one from good images; ``AnomalyModel.inspect`` scores images. Both
runtimes share everything after the embedder (numpy), so a bundle and the PyTorch model
give the same scores up to the embedder's own numerical differences.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from ....datasets.io import image_size
from ....errors import ErrorCode, InvalidInputError
from ..images import to_pil
from .config import AnomalyConfig
from .maps import anomaly_map, image_scores, regions_above, to_pixels
from .memory import nearest_distances
from .results import AnomalyInspection, AnomalyRegion

Embed = Callable[[np.ndarray], np.ndarray]  # (N, 3, H, W) pixels 0..255 -> (N, D, h, w)
MIN_GOOD = 2  # one for the bank, one to set the threshold


@dataclass
class AnomalyModel:
    """A memory bank of good patches and the threshold that separates OK from NG.

    ``embed`` maps pixel batches to patch embeddings; ``embedder`` is the PyTorch module
    behind it (``None`` when the model came from a bundle). ``metadata`` holds how it was
    fitted: image counts, good-score statistics, the training and held-out image paths.
    """

    config: AnomalyConfig
    bank: np.ndarray
    threshold: float
    embed: Embed
    embedder: Any = None
    runtime: str = "torch"
    metadata: dict[str, Any] = field(default_factory=dict)
    origin: np.ndarray | None = None  # (K,) flat patch index of each bank row among the bank images' patches

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.config.size)  # type: ignore[arg-type]

    def score_maps(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Heat maps ``(N, H, W)`` at the working size and image scores ``(N,)`` for a pixel batch."""
        embeddings = self.embed(pixels)
        n, dim, h, w = embeddings.shape
        maps = np.empty((n, *self.size), dtype=np.float32)
        for i in range(n):
            patches = embeddings[i].reshape(dim, h * w).T
            distances = nearest_distances(patches, self.bank).reshape(h, w)
            maps[i] = anomaly_map(distances, self.size, self.config.sigma)
        return maps, image_scores(maps, self.config.score_top)

    def inspect(self, images: Sequence[Image.Image], threshold: float | None = None) -> list[AnomalyInspection]:
        """One ``AnomalyInspection`` per decoded image (regions in image pixels)."""
        threshold = self.threshold if threshold is None else float(threshold)
        t0 = time.perf_counter()
        pixels = np.stack([to_pixels(im, self.size) for im in images])
        maps, scores = self.score_maps(pixels)
        per_image = (time.perf_counter() - t0) * 1000 / max(1, len(images))
        out = []
        for im, heat, score in zip(images, maps, scores):
            # an OK part has no regions, though pixels of its map may pass the threshold (the score is a top mean)
            boxes = regions_above(heat, threshold) if score >= threshold else []
            regions = [self._region(heat, box, im) for box in boxes]
            out.append(
                AnomalyInspection(
                    score=float(score),
                    threshold=threshold,
                    heat_map=heat,
                    regions=regions,
                    latency_ms=per_image,
                    width=im.width,
                    height=im.height,
                )
            )
        return out

    def _region(self, heat: np.ndarray, box: list[float], image: Image.Image) -> AnomalyRegion:
        x0, y0, x1, y1 = (int(v) for v in box)
        sx, sy = image.width / self.size[1], image.height / self.size[0]
        return AnomalyRegion((x0 * sx, y0 * sy, x1 * sx, y1 * sy), float(heat[y0:y1, x0:x1].max()))


def torch_embed(embedder: Any, batch_size: int = 8) -> Embed:
    """``embed`` over a PyTorch ``PatchEmbedder`` (no gradients, batches of ``batch_size``)."""
    import torch

    def run(pixels: np.ndarray) -> np.ndarray:
        outs = []
        with torch.inference_mode():
            for start in range(0, len(pixels), batch_size):
                outs.append(embedder(torch.from_numpy(pixels[start : start + batch_size])).numpy())
        return np.concatenate(outs)

    return run


def threshold_for(good_scores: np.ndarray, target_frr: float) -> float:
    """The smallest score that calls at most ``target_frr`` of ``good_scores`` NG (ties go OK-ward)."""
    ordered = np.sort(np.asarray(good_scores, dtype=np.float64))
    allowed = int(math.floor(target_frr * len(ordered) + 1e-9))  # good images allowed above the threshold
    index = len(ordered) - 1 - allowed
    return float(np.nextafter(ordered[index], np.inf))


def _shape(items: Sequence[Any]) -> tuple[float, float]:
    """Median height / width and median long side of the images (file headers only where the items are paths)."""
    ratios, sides = [], []
    for item in items:
        width, height = image_size(item) if isinstance(item, str | Path) else to_pil(item).size
        ratios.append(height / width)
        sides.append(max(width, height))
    return float(np.median(ratios)), float(np.median(sides))


def _pixels(items: Sequence[Any], size: tuple[int, int]) -> np.ndarray:
    return np.stack([to_pixels(to_pil(item), size) for item in items])


def _split(count: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(count)
    held = min(count - 1, max(1, round(fraction * count)))
    return np.sort(order[held:]), np.sort(order[:held])


def fit_anomaly(
    items: Sequence[Any],
    config: AnomalyConfig,
    *,
    holdout_fraction: float = 0.1,
    seed: int = 0,
    progress: bool = True,
    batch_size: int = 8,
    embedder: Any = None,
) -> AnomalyModel:
    """Fit on good images: the bank from most of them, the threshold from ``holdout_fraction`` of them."""
    import torch

    from .features import build_embedder
    from .memory import grouped_coreset

    config = config.validated()
    if not 0.0 < holdout_fraction < 1.0:
        raise InvalidInputError(
            ErrorCode.ANOMALY_BAD_OPTION,
            "the share of good images held out for the threshold must be in (0, 1)",
            value=holdout_fraction,
            hint="pass val_fraction=0.1 (the default) or another share",
        )
    if len(items) < MIN_GOOD:
        raise InvalidInputError(
            ErrorCode.ANOMALY_TOO_FEW_GOOD,
            f"anomaly fit needs at least {MIN_GOOD} good images, got {len(items)}",
            value=len(items),
            hint="give a folder with more good images (dozens make a stable threshold)",
        )
    config = config.with_size_for(*_shape(items))
    embedder = embedder if embedder is not None else build_embedder(config)
    embed = torch_embed(embedder, batch_size)
    bank_ids, held_ids = _split(len(items), holdout_fraction, seed)
    rows, per_image = [], 1
    for start in tqdm(range(0, len(bank_ids), batch_size), desc="good patches", disable=not progress):
        chunk = [items[i] for i in bank_ids[start : start + batch_size]]
        emb = embed(_pixels(chunk, config.size))
        per_image = emb.shape[2] * emb.shape[3]
        rows.append(torch.from_numpy(emb).permute(0, 2, 3, 1).reshape(-1, emb.shape[1]))
    patches = torch.cat(rows)
    count = min(config.max_bank, max(1, math.ceil(config.coreset_ratio * len(patches))))
    chosen = grouped_coreset(patches, count, per_image, config.projection_dim, seed, progress=progress)
    model = AnomalyModel(config, patches[chosen].numpy().copy(), 0.0, embed, embedder, origin=chosen.numpy().copy())
    good_scores = np.concatenate(
        [
            model.score_maps(_pixels([items[i] for i in held_ids[s : s + batch_size]], config.size))[1]
            for s in range(0, len(held_ids), batch_size)
        ]
    )
    model.threshold = threshold_for(good_scores, config.target_frr)
    model.metadata = {
        "good_images": len(items),
        "bank_images": len(bank_ids),
        "holdout_images": len(held_ids),
        "patches": len(patches),
        "bank_rows": count,
        "holdout_scores": [float(s) for s in good_scores],
        "sources": [str(items[i]) for i in bank_ids if isinstance(items[i], str | Path)],
        "holdout_sources": [str(items[i]) for i in held_ids if isinstance(items[i], str | Path)],
    }
    return model


def with_threshold(model: AnomalyModel, threshold: float) -> AnomalyModel:
    """A copy of ``model`` with another threshold (the dashboard's slider, a user's own choice)."""
    return replace(model, threshold=float(threshold))


def rebuilt_bank(model: AnomalyModel, embed: Embed, batch_size: int = 8) -> np.ndarray | None:
    """The bank's rows embedded again by ``embed`` (e.g. the INT8 graph) from the same patches of the same
    good images, so bank and queries share one embedder; ``None`` when the images are not files we know."""
    sources = model.metadata.get("sources", [])
    if model.origin is None or len(sources) != model.metadata.get("bank_images") or not sources:
        return None
    stride = model.config.patch_stride
    per_image = (model.size[0] // stride) * (model.size[1] // stride)
    images, rows = np.unique(model.origin // per_image, return_inverse=True)
    embedded = []
    for start in range(0, len(images), batch_size):
        emb = embed(_pixels([sources[i] for i in images[start : start + batch_size]], model.size))
        embedded.append(emb.transpose(0, 2, 3, 1).reshape(len(emb), -1, emb.shape[1]))
    patches = np.concatenate(embedded)
    return np.ascontiguousarray(patches[rows, model.origin % per_image], dtype=np.float32)
