"""The patch embedder: raw pixels in, one embedding per grid patch out (the graph that is exported).

PatchCore's "locally aware" patch features: each backbone level is averaged over a
``pool x pool`` neighbourhood (so a patch sees its surroundings), brought to the patch
grid's stride (finer levels averaged over the grid cell, coarser ones upsampled), and the
levels are concatenated. The module takes RGB
pixels in 0..255 and normalises inside, so the ONNX bundle and PyTorch share the
preprocessing.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..efficientnet_lite import EfficientNetLite, efficientnet_lite, normalize_pixels
from .config import AnomalyConfig


class PatchEmbedder(nn.Module):
    """``(N, 3, H, W)`` pixels 0..255 -> ``(N, D, H / s, W / s)`` patch embeddings, ``s`` the grid stride
    (``patch_stride``; ``None``: the finest level's)."""

    def __init__(self, backbone: EfficientNetLite, pool: int = 3, patch_stride: int | None = None):
        super().__init__()
        self.backbone = backbone
        self.pool = pool
        self.dim = sum(backbone.out_channels)
        self.stride = backbone.out_strides[0] if patch_stride is None else int(patch_stride)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        levels = self.backbone(normalize_pixels(pixels))
        if self.pool > 1:
            levels = [F.avg_pool2d(f, self.pool, 1, self.pool // 2, count_include_pad=False) for f in levels]
        levels = [
            F.avg_pool2d(f, self.stride // s) if s < self.stride else f
            for s, f in zip(self.backbone.out_strides, levels)
        ]
        size = levels[self.backbone.out_strides.index(self.stride)].shape[-2:]
        levels = [
            f if f.shape[-2:] == size else F.interpolate(f, size=size, mode="bilinear", align_corners=False)
            for f in levels
        ]
        return torch.cat(levels, dim=1)


def build_embedder(config: AnomalyConfig, pretrained: bool = True) -> PatchEmbedder:
    """The embedder for ``config`` on its ImageNet-pretrained backbone (``pretrained=False``: weights loaded later)."""
    backbone = efficientnet_lite(config.backbone, pretrained=pretrained, out_strides=tuple(config.strides))
    return PatchEmbedder(backbone, config.pool, config.patch_stride).eval()


def used_state(embedder: PatchEmbedder) -> dict[str, torch.Tensor]:
    """The embedder's weights without the backbone layers it never runs (deeper blocks, the classifier)."""
    last = embedder.backbone.tap_blocks[-1]
    keep = {}
    for name, tensor in embedder.state_dict().items():
        parts = name.split(".")
        if parts[1] in ("_conv_head", "_bn1", "_fc"):
            continue
        if parts[1] == "_blocks" and int(parts[2]) > last:
            continue
        keep[name] = tensor
    return keep
