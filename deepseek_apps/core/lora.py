"""Low-rank adapters (LoRA, Hu et al. 2021) for ``nn.Linear`` layers, merged away for export.

A frozen ``Linear`` ``W`` becomes ``W x + (alpha / r) * B A x`` with trainable ``A`` (r x in)
and ``B`` (out x r, zero at start, so training starts from the pretrained model). Only the
adapters are saved, which keeps a fine-tuned encoder to a few hundred kilobytes next to its
base weights; ``merge_lora`` folds them back into plain ``Linear`` layers for ONNX export.

Example:
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    >>> wrapped = add_lora(net, targets=("0", "2"), rank=2)
    >>> sorted(lora_state_dict(net))[:2]
    ['0.lora_a', '0.lora_b']
    >>> x = torch.randn(3, 8)
    >>> before = net(x)
    >>> _ = merge_lora(net)
    >>> bool(torch.allclose(before, net(x)))
    True
"""

from __future__ import annotations

import math

import torch
from torch import nn

from deepseek_apps.errors import ErrorCode, InvalidInputError


class LoRALinear(nn.Module):
    """``base(x) + scale * x A^T B^T`` with ``base`` frozen."""

    def __init__(self, base: nn.Linear, rank: int = 8, alpha: float = 16.0, dropout: float = 0.0):
        super().__init__()
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
        self.scale = alpha / rank
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (self.dropout(x) @ self.lora_a.t() @ self.lora_b.t()) * self.scale

    def merged(self) -> nn.Linear:
        """A plain ``Linear`` computing the same function."""
        out = nn.Linear(self.base.in_features, self.base.out_features, bias=self.base.bias is not None)
        with torch.no_grad():
            out.weight.copy_(self.base.weight + self.scale * self.lora_b @ self.lora_a)
            if self.base.bias is not None:
                out.bias.copy_(self.base.bias)
        return out


def add_lora(
    model: nn.Module, targets: tuple[str, ...], rank: int = 8, alpha: float = 16.0, dropout: float = 0.0
) -> list[str]:
    """Wrap every ``Linear`` whose qualified name ends with one of ``targets``; returns their names.

    All other parameters of ``model`` are frozen.

    Raises:
        InvalidInputError: rank < 1, or no ``Linear`` matched ``targets``.
    """
    if rank < 1:
        raise InvalidInputError(ErrorCode.INVALID_ARGUMENT, "LoRA rank must be at least 1", value=rank)
    for p in model.parameters():
        p.requires_grad_(False)
    names = [
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and any(name == t or name.endswith("." + t) for t in targets)
    ]
    if not names:
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            "no Linear layer matches the LoRA targets",
            value=list(targets),
            hint="give suffixes of Linear layer names, e.g. 'query' or 'attention.output.dense'",
        )
    for name in names:
        parent, _, child = name.rpartition(".")
        owner = model.get_submodule(parent) if parent else model
        setattr(owner, child, LoRALinear(getattr(owner, child), rank, alpha, dropout))
    return names


def lora_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Only the adapter tensors, keyed by the wrapped layer's name (``<layer>.lora_a`` / ``.lora_b``)."""
    return {
        f"{name}.{key}": getattr(module, key).detach().clone()
        for name, module in model.named_modules()
        if isinstance(module, LoRALinear)
        for key in ("lora_a", "lora_b")
    }


def merge_lora(model: nn.Module) -> nn.Module:
    """Replace every ``LoRALinear`` in ``model`` by its merged ``Linear`` (in place; returns ``model``)."""
    for name, module in list(model.named_modules()):
        if isinstance(module, LoRALinear):
            parent, _, child = name.rpartition(".")
            owner = model.get_submodule(parent) if parent else model
            setattr(owner, child, module.merged())
    return model
