"""GroupNorm -> BatchNorm, so every normalisation folds into its convolution for INT8.

GroupNorm normalises each sample with its own statistics, so it cannot fold into the
convolution before it: in an INT8 graph it stays a float island (dequantize, reshape,
instance-norm, scale, quantize) between two integer kernels. BatchNorm in inference is a
per-channel affine map, which folds into the convolution's weights and bias.

A head shared by several feature-map sizes (FCOS, RetinaNet) sees different statistics at
each pyramid level, so one pooled BatchNorm does badly. ``LevelBatchNorm2d`` keeps one
BatchNorm per input size; for export ``fold_level_batchnorm`` turns each shared
``Conv2d -> LevelBatchNorm2d`` pair into a ``LevelConv2d`` holding one folded copy of the
convolution per size, so the exported graph has no normalisation left at all.

The swap changes what the network computes: fine-tune afterwards (distillation from the
GroupNorm model works well), then ``recompute_batchnorm_stats`` gives every BatchNorm its
exact statistics over the data instead of the running average of training batches.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from deepseek_apps.core.compress.norm import groupnorm_to_batchnorm, fold_level_batchnorm
    >>> net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.GroupNorm(4, 8), nn.ReLU())
    >>> batches = [torch.randn(4, 3, 16, 16), torch.randn(4, 3, 8, 8)]
    >>> groupnorm_to_batchnorm(net, lambda x: net(x), batches)
    1
    >>> folded = fold_level_batchnorm(net.eval())
    >>> any(isinstance(m, (nn.GroupNorm, nn.BatchNorm2d)) for m in folded.modules())
    False
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import nn

from ...errors import ErrorCode, InvalidInputError, ModelFormatError


def _key(size: Sequence[int]) -> str:
    return f"{int(size[0])}x{int(size[1])}"


class LevelBatchNorm2d(nn.Module):
    """A ``BatchNorm2d`` per input size (``H x W``): one set of statistics and affine per pyramid level."""

    def __init__(self, num_features: int, sizes: Iterable[Sequence[int]], eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.num_features = num_features
        self.norms = nn.ModuleDict({_key(s): nn.BatchNorm2d(num_features, eps, momentum) for s in sizes})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norms[_level(self.norms, x)](x)

    def extra_repr(self) -> str:
        return f"{self.num_features}, sizes={list(self.norms)}"


class LevelConv2d(nn.Module):
    """One convolution per input size: a shared conv with each level's BatchNorm folded in."""

    def __init__(self, convs: dict[str, nn.Conv2d]):
        super().__init__()
        self.convs = nn.ModuleDict(convs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.convs[_level(self.convs, x)](x)


def _level(table: nn.ModuleDict, x: torch.Tensor) -> str:
    key = _key(x.shape[-2:])
    if key not in table:
        raise InvalidInputError(
            ErrorCode.IMAGE_SHAPE,
            f"feature map of size {key} reaches a per-level BatchNorm that has statistics for {list(table)} only",
            value=key,
            hint="feed inputs of the size the model was converted and fine-tuned at",
        )
    return key


def groupnorm_to_batchnorm(
    model: nn.Module,
    forward: Callable[[Any], Any],
    batches: Sequence[Any],
    modules: nn.Module | None = None,
) -> int:
    """Replace every ``GroupNorm`` under ``modules`` (default: ``model``) with a ``LevelBatchNorm2d``, in place.

    ``forward(batch)`` runs the model on one of ``batches``; a first pass records which sizes
    each GroupNorm sees, then the BatchNorms take the GroupNorm's affine parameters and their
    statistics from all ``batches`` (``recompute_batchnorm_stats``). Returns how many were
    replaced. Raises ``InvalidInputError`` (1013) with no batches and ``ModelFormatError``
    (3005) for a GroupNorm the batches never reach.
    """
    if not batches:
        raise InvalidInputError(
            ErrorCode.DATASET_EMPTY, "no batches to convert GroupNorm with", value=0, hint="pass typical inputs"
        )
    root = modules if modules is not None else model
    norms = {name: m for name, m in root.named_modules() if isinstance(m, nn.GroupNorm)}
    sizes: dict[str, set[tuple[int, int]]] = {name: set() for name in norms}
    hooks = [
        m.register_forward_pre_hook(lambda mod, args, n=name: sizes[n].add(tuple(args[0].shape[-2:])))
        for name, m in norms.items()
    ]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            forward(batches[0])
    finally:
        for hook in hooks:
            hook.remove()
    unreached = [name for name, s in sizes.items() if not s]
    if unreached:
        raise ModelFormatError(
            ErrorCode.UNSUPPORTED_FORMAT,
            "GroupNorm layers the example batches never reach",
            value=unreached[:5],
            hint="pass batches that run every branch of the model, or convert only the reached part (modules=)",
        )
    for name, gn in norms.items():
        level_bn = LevelBatchNorm2d(gn.num_channels, sorted(sizes[name]), eps=gn.eps)
        if gn.affine:
            for bn in level_bn.norms.values():
                bn.weight.data.copy_(gn.weight.data)
                bn.bias.data.copy_(gn.bias.data)
        _set_module(root, name, level_bn.to(next(iter(gn.parameters()), torch.empty(0)).device))
    recompute_batchnorm_stats(model, forward, batches)
    model.train(was_training)
    return len(norms)


def recompute_batchnorm_stats(model: nn.Module, forward: Callable[[Any], Any], batches: Iterable[Any]) -> int:
    """Set every BatchNorm's running mean / variance to their exact average over ``batches`` ("precise BN").

    Training leaves an exponential average of per-batch statistics taken while the weights
    were still moving; recomputing them with the final weights removes that noise. The model
    is left in eval mode. Returns the number of BatchNorm layers updated.

    Each batch is normalised with its own statistics on the way through, so ``batches`` must
    be shuffled mixes like the training batches: batches of one class each (files sorted by
    class) skew every later layer's statistics (on the inspector's detector this cost 5.8 mAP
    points against the running averages; shuffled, it did not).
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches
    model.train()
    try:
        with torch.no_grad():
            for batch in batches:
                forward(batch)
    finally:
        for m, momentum in zip(norms, saved):
            m.momentum = momentum
        model.eval()
    return len(norms)


def fold_level_batchnorm(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with each ``Conv2d -> LevelBatchNorm2d`` pair folded into a ``LevelConv2d``.

    Pairs are found inside ``nn.Sequential`` containers (the layout of torchvision's heads). The
    result computes the same as ``model`` in eval mode and exports with no normalisation ops.
    """
    folded = copy.deepcopy(model).eval()
    for seq in [m for m in folded.modules() if isinstance(m, nn.Sequential)]:
        for i in range(len(seq) - 1):
            conv, norm = seq[i], seq[i + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(norm, LevelBatchNorm2d):
                _check_same_size(conv)
                seq[i] = LevelConv2d({k: _fold(conv, bn) for k, bn in norm.norms.items()})
                seq[i + 1] = nn.Identity()
    left = [n for n, m in folded.named_modules() if isinstance(m, LevelBatchNorm2d)]
    if left:
        raise ModelFormatError(
            ErrorCode.UNSUPPORTED_FORMAT,
            "per-level BatchNorm that does not follow a convolution in a Sequential",
            value=left[:5],
            hint="place each LevelBatchNorm2d right after its Conv2d inside an nn.Sequential",
        )
    return folded


def _check_same_size(conv: nn.Conv2d) -> None:
    same = all(s == 1 for s in conv.stride) and all(
        p == (k - 1) // 2 * d for p, k, d in zip(conv.padding, conv.kernel_size, conv.dilation)
    )
    if not same:
        raise ModelFormatError(
            ErrorCode.UNSUPPORTED_FORMAT,
            "per-level BatchNorm after a convolution that changes the feature-map size",
            value={"stride": conv.stride, "padding": conv.padding, "kernel": conv.kernel_size},
            hint="only size-preserving convolutions (stride 1, 'same' padding) can fold per level",
        )


def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    out = copy.deepcopy(conv)
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(bn.running_mean)
    out.weight = nn.Parameter(conv.weight.detach() * scale.view(-1, 1, 1, 1))
    out.bias = nn.Parameter((bias - bn.running_mean) * scale + bn.bias.detach())
    return out


def _set_module(root: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, module)
