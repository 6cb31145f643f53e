"""Training a classifier on Ray Train workers (DDP), the same loop as ``train_classifier``.

Example:
    >>> from deepseek_apps.apps.classifier.ray_adapter import train_classifier_on_ray
    >>> result = train_classifier_on_ray(graph, x, y, vx, vy, TrainConfig(out_dir="runs/c"), workers=2)  # doctest: +SKIP
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from .model import ClassifierGraph
from .train import train_classifier


def train_classifier_on_ray(
    graph: ClassifierGraph,
    pixels: np.ndarray,
    labels: np.ndarray,
    val_pixels: np.ndarray,
    val_labels: np.ndarray,
    train_config,
    **train_options,
) -> dict:
    """``train_classifier`` on Ray Train workers; ``graph`` ends with the best weights, as locally.

    The arrays travel to every worker through Ray's object store (fine up to a few GB; beyond
    that, load the data inside the workers). ``train_options``: ``workers``, ``use_gpu``,
    ``address``, ``max_failures`` (see ``core.scale.ray_train.fit_on_ray``).
    """
    from safetensors.torch import load_file

    from ...core.scale.ray_train import fit_on_ray

    job = partial(train_classifier, graph, pixels, labels, val_pixels, val_labels, train_config)
    result = fit_on_ray(job, train_config.out_dir, **train_options).value
    graph.load_state_dict(load_file(str(Path(train_config.out_dir) / "best.safetensors")))
    return result
