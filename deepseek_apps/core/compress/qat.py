"""Quantization-aware fine-tuning with fake quantization of our own, exported as plain weights for QDQ.

When post-training INT8 loses more than the budget, the model is fine-tuned with the
rounding it will meet at inference simulated in the forward pass (straight-through
gradients), so the weights learn to sit well on the INT8 grid:

- BatchNorm layers that directly follow a convolution are folded into it first (the
  exported graph folds them too), so the weights that are fake-quantized are the ones ONNX
  Runtime quantizes;
- weights: symmetric per-output-channel INT8 (``scale = max|w| / 127``), the scheme of
  ``quantize_static_onnx``;
- activations entering each Conv / Linear: asymmetric UINT8 per tensor with a running
  min / max, like MinMax calibration.

``torch.ao.quantization`` is deprecated in this PyTorch, so nothing here uses it. After
training the fake-quant wrappers are removed with the rounded weights kept; the model exports
to FP32 ONNX as usual and the static QDQ path then quantizes it with (almost) no weight error.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from deepseek_apps.core.compress.qat import fake_quantized
    >>> model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU()).eval()
    >>> with fake_quantized(model) as qmodel:
    ...     _ = qmodel(torch.randn(2, 3, 8, 8))  # train qmodel here
    >>> isinstance(model[1], nn.Identity)  # the BatchNorm was folded into the conv
    True
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch.nn.utils import parametrize

QUANTIZED_MODULES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


class WeightFakeQuant(nn.Module):
    """Symmetric per-output-channel INT8 rounding of a weight, with a straight-through gradient."""

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        flat = weight.detach().reshape(weight.shape[0], -1)
        scale = (flat.abs().amax(dim=1) / 127.0).clamp_min(1e-8).float()
        zero = torch.zeros(weight.shape[0], dtype=torch.int32, device=weight.device)
        return torch.fake_quantize_per_channel_affine(weight, scale, zero, 0, -127, 127)


class ActivationFakeQuant(nn.Module):
    """Asymmetric UINT8 per-tensor rounding with running min / max (momentum 0.9) observed in training."""

    def __init__(self, momentum: float = 0.9):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("low", torch.tensor(float("nan")))
        self.register_buffer("high", torch.tensor(float("nan")))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training or torch.isnan(self.low):
            low, high = x.detach().min().clamp(max=0.0), x.detach().max().clamp(min=0.0)
            if torch.isnan(self.low):
                self.low.copy_(low), self.high.copy_(high)
            else:
                self.low.mul_(self.momentum).add_((1 - self.momentum) * low)
                self.high.mul_(self.momentum).add_((1 - self.momentum) * high)
        scale = float((self.high - self.low).clamp_min(1e-8) / 255.0)
        zero = int(torch.clamp(torch.round(-self.low / scale), 0, 255))
        return torch.fake_quantize_per_tensor_affine(x, scale, zero, 0, 255)


def fold_batchnorms(model: nn.Module) -> int:
    """Fold every BatchNorm that is the only user of a convolution's output into that conv, in place.

    Uses ``torch.fx`` to find the pairs (a module that cannot be traced is searched child by
    child); returns how many were folded. BatchNorms left unfolded only make the simulated
    rounding less exact.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    try:
        graph = torch.fx.symbolic_trace(model).graph
    except Exception:  # data-dependent control flow here: try each child on its own
        return sum(fold_batchnorms(child) for child in model.children())
    modules = dict(model.named_modules())
    folded = 0
    for node in graph.nodes:
        bn = modules.get(node.target) if node.op == "call_module" else None
        if not isinstance(bn, nn.BatchNorm1d | nn.BatchNorm2d | nn.BatchNorm3d):
            continue
        source = node.args[0]
        conv = modules.get(source.target) if getattr(source, "op", None) == "call_module" else None
        if not isinstance(conv, nn.Conv1d | nn.Conv2d | nn.Conv3d) or len(source.users) != 1:
            continue
        _replace(model, source.target, fuse_conv_bn_eval(conv.eval(), bn.eval()))
        _replace(model, node.target, nn.Identity())
        folded += 1
    return folded


def _replace(model: nn.Module, path: str, new: nn.Module) -> None:
    parent, _, name = path.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, name, new)


@contextmanager
def fake_quantized(model: nn.Module) -> Iterator[nn.Module]:
    """Fold BatchNorms, then fake-quantize the weights and inputs of every Conv / Linear of ``model``.

    Inside the block, train ``model`` as usual. On exit the wrappers are removed and the
    rounded weights stay, so the model exports to ONNX like any other.
    """
    fold_batchnorms(model)
    layers = [m for m in model.modules() if isinstance(m, QUANTIZED_MODULES)]
    hooks = []
    for layer in layers:
        parametrize.register_parametrization(layer, "weight", WeightFakeQuant())
        layer.act_fake_quant = ActivationFakeQuant().to(layer.weight.device)
        hooks.append(layer.register_forward_pre_hook(lambda mod, args: (mod.act_fake_quant(args[0]), *args[1:])))
    try:
        yield model
    finally:
        for hook in hooks:
            hook.remove()
        for layer in layers:
            parametrize.remove_parametrizations(layer, "weight", leave_parametrized=True)
            del layer.act_fake_quant
