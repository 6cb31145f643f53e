"""Training a classifier graph: cross-entropy with flips, and distillation from a teacher."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from .model import ClassifierGraph, accuracy


def _collate(items, rng: np.random.Generator):
    xs, ys = zip(*items)
    x = torch.from_numpy(np.stack(xs)).float()
    flips = torch.from_numpy(rng.random((len(xs), 3)) < 0.5)
    x = torch.where(flips[:, 0, None, None, None], x.flip(-1), x)
    x = torch.where(flips[:, 1, None, None, None], x.flip(-2), x)
    return x, torch.tensor(ys)


def train_classifier(
    graph: ClassifierGraph,
    pixels: np.ndarray,
    labels: np.ndarray,
    val_pixels: np.ndarray,
    val_labels: np.ndarray,
    train_config,
) -> dict:
    """Train ``graph.model`` with cross-entropy and flips; keeps the best validation accuracy."""
    from safetensors.torch import load_file

    from ...core.train import Trainer

    def loss_fn(net, batch):
        x, y = batch
        return nn.functional.cross_entropy(net(x, return_logits=True), y)

    def evaluate(m):
        return {"accuracy": accuracy(lambda x: m(torch.from_numpy(x)).numpy(), val_pixels, val_labels)}

    cfg = train_config
    cfg.monitor = "accuracy"
    result = Trainer(cfg).fit(graph, list(zip(pixels, labels.tolist())), _collate, loss_fn, evaluate)
    graph.load_state_dict(load_file(str(Path(cfg.out_dir) / "best.safetensors")))
    return result.to_dict()


class _ShuffledBatches:
    """Re-iterable ``(pixels, labels)`` batches: a new order and new flips every epoch."""

    def __init__(self, pixels: np.ndarray, labels: np.ndarray, batch_size: int, seed: int = 0):
        self.pixels, self.labels, self.batch_size = pixels, labels, batch_size
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return -(-len(self.pixels) // self.batch_size)

    def __iter__(self):
        order = self.rng.permutation(len(self.pixels))
        for i in range(0, len(order), self.batch_size):
            pick = order[i : i + self.batch_size]
            yield _collate([(self.pixels[j], int(self.labels[j])) for j in pick], self.rng)


def distill_finetune(
    student: nn.Module,
    teacher: nn.Module,
    pixels: np.ndarray,
    labels: np.ndarray,
    epochs: int,
    batch_size: int = 32,
    lr: float = 1e-3,
) -> None:
    """Hinton KD from the unpruned graph plus cross-entropy on the labels (``distill``), in place.

    AdamW with a cosine decay from ``lr``; the data is reshuffled and re-flipped every epoch.
    """
    from ...core.compress.distill import distill

    distill(
        teacher,
        student,
        _ShuffledBatches(pixels, labels, batch_size),
        epochs=epochs,
        temperature=4.0,
        alpha=0.7,
        lr=lr,
        outputs_fn=lambda model, x: model(x, return_logits=True),
        progress=True,
        lr_schedule="cosine",
    )
    student.eval()
