"""The classifier graph: a torchvision architecture wrapped with its own pre-processing.

The exported graph takes ``(N, 3, S, S)`` float pixels in 0..255 and returns class
probabilities, so every backend shares one resize (Pillow).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ...core.runtime.preprocess import to_model_input
from ...errors import ErrorCode, InvalidInputError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def build_classifier(arch: str, num_classes: int) -> nn.Module:
    """A torchvision classification architecture with random weights (nothing is downloaded)."""
    import torchvision

    if arch not in torchvision.models.list_models(module=torchvision.models):
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            f"unknown torchvision classifier '{arch}'",
            value=arch,
            hint="e.g. resnet18, resnet50, mobilenet_v3_small, efficientnet_b0",
        )
    return torchvision.models.get_model(arch, weights=None, num_classes=num_classes)


class ClassifierGraph(nn.Module):
    """``pixels (N, 3, S, S) float 0..255 -> probabilities (N, classes)``."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255)

    def forward(self, pixels: torch.Tensor, return_logits: bool = False) -> torch.Tensor:
        logits = self.model((pixels - self.mean) / self.std)
        return logits if return_logits else torch.softmax(logits, dim=1)


def prepare_pixels(data, size: int) -> np.ndarray:
    """All images of a ``ClassificationDataset`` as uint8 ``(N, 3, S, S)``."""
    return np.stack([to_model_input(data.load(i), size, 3) for i in range(len(data))])


def accuracy(forward, pixels: np.ndarray, labels: np.ndarray, batch: int = 64) -> float:
    """Top-1 accuracy in percent of ``forward(float32 batch) -> probabilities``."""
    preds = [
        np.asarray(forward(pixels[i : i + batch].astype(np.float32))).argmax(1) for i in range(0, len(pixels), batch)
    ]
    return 100.0 * float(np.mean(np.concatenate(preds) == labels))
