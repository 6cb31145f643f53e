"""Where training runs and in which precision: ``device="auto"|"cpu"|"cuda"|"cuda:N"``, ``precision="32"|"bf16"|"16"``.

``resolve_placement`` turns the two user strings into a ``Placement``: the torch device, the
autocast dtype (or none), whether a gradient scaler is needed, the process-group backend
(NCCL on GPUs, gloo on CPUs) and whether batches go through pinned memory.

Rules (no silent fallback: asking for something the hardware lacks is an error with a code):

- ``auto``: ``cuda:<LOCAL_RANK>`` when CUDA is present, else ``cpu``.
- ``bf16``: autocast to bfloat16 on CUDA GPUs that support it (Ampere and newer) and on CPUs
  with native BF16 instructions (AVX-512 BF16 or AMX). Elsewhere it raises
  ``RuntimeFailure`` 4006 (on a CPU without them bf16 is emulated and slower than FP32).
- ``16``: float16 autocast with a gradient scaler, on CUDA only (the choice for GPUs without
  bf16); on a CPU it raises 4006.
- ``cuda`` / ``cuda:N`` without such a GPU raises ``RuntimeFailure`` 4005.

Example:
    >>> from deepseek_apps.core.device import resolve_placement
    >>> resolve_placement("cpu", "32").device
    device(type='cpu')
"""

from __future__ import annotations

import os
import re
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import ErrorCode, InvalidInputError, RuntimeFailure
from .cpu import cpu_flags

DEVICES = ("auto", "cpu", "cuda", "cuda:N")
PRECISIONS = ("32", "bf16", "16")
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
_DEVICE_RE = re.compile(r"^(auto|cpu|cuda)(?::(\d+))?$")


@dataclass(frozen=True)
class Placement:
    """A resolved training device and precision."""

    device: torch.device
    precision: str
    autocast_dtype: torch.dtype | None
    grad_scaler: bool
    backend: str
    pin_memory: bool

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def autocast(self) -> AbstractContextManager:
        """The mixed-precision context for forward passes and losses (a no-op at ``32``)."""
        if self.autocast_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def to_dict(self) -> dict[str, Any]:
        return {
            "device": str(self.device),
            "precision": self.precision,
            "autocast_dtype": str(self.autocast_dtype).replace("torch.", "") if self.autocast_dtype else None,
            "grad_scaler": self.grad_scaler,
            "backend": self.backend,
            "pin_memory": self.pin_memory,
        }


def cpu_has_bf16() -> bool:
    """True when the CPU runs bfloat16 natively (AVX-512 BF16 or AMX), so bf16 autocast pays off."""
    return any(flag in cpu_flags() for flag in CPU_BF16_FLAGS)


def cuda_has_bf16(device: torch.device) -> bool:
    return torch.cuda.get_device_capability(device)[0] >= 8


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` / ``cpu`` / ``cuda`` / ``cuda:N`` as a ``torch.device`` this machine has.

    Under ``torchrun`` (``LOCAL_RANK`` set) ``auto`` and ``cuda`` pick the process's own GPU.

    Raises:
        InvalidInputError: not one of the forms above (1000).
        RuntimeFailure: CUDA asked for but absent, or ``cuda:N`` beyond the GPUs present (4005).
    """
    text = str(device).strip().lower()
    match = _DEVICE_RE.match(text)
    if match is None or (match.group(1) != "cuda" and match.group(2) is not None):
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            f"unknown device '{device}'",
            value=device,
            hint=f"use one of: {', '.join(DEVICES)}",
        )
    kind, index = match.group(1), match.group(2)
    if kind == "cpu" or (kind == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise RuntimeFailure(
            ErrorCode.DEVICE_UNAVAILABLE,
            "CUDA was asked for but no CUDA GPU is visible",
            value=device,
            hint="train with --device cpu (or auto), or install a CUDA build of PyTorch and check nvidia-smi",
        )
    chosen = int(index) if index is not None else int(os.environ.get("LOCAL_RANK", "0")) % count
    if chosen >= count:
        raise RuntimeFailure(
            ErrorCode.DEVICE_UNAVAILABLE,
            f"cuda:{chosen} asked for but this machine has {count} GPU(s)",
            value=device,
            hint=f"use cuda:0 .. cuda:{count - 1}, or cuda / auto",
        )
    return torch.device("cuda", chosen)


def resolve_placement(device: str | torch.device = "auto", precision: str = "32") -> Placement:
    """Resolve ``device`` and ``precision`` together (see the module docstring for the rules).

    Raises:
        InvalidInputError: unknown device or precision string (1000).
        RuntimeFailure: device absent (4005); precision the device cannot run (4006).
    """
    precision = str(precision).strip().lower().removeprefix("fp")
    if precision not in PRECISIONS:
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            f"unknown precision '{precision}'",
            value=precision,
            hint=f"use one of: {', '.join(PRECISIONS)} (32 = float32, bf16 = bfloat16 autocast, 16 = float16 autocast)",
        )
    dev = resolve_device(device)
    cuda = dev.type == "cuda"
    dtype = None
    if precision == "bf16":
        if cuda and not cuda_has_bf16(dev):
            raise _unsupported(
                precision, dev, "this GPU has no bf16 (needs compute capability 8.0+); use --precision 16"
            )
        if not cuda and not cpu_has_bf16():
            raise _unsupported(
                precision,
                dev,
                "this CPU has no AVX-512 BF16 / AMX, so bf16 would be emulated and slower; use --precision 32",
            )
        dtype = torch.bfloat16
    elif precision == "16":
        if not cuda:
            raise _unsupported(
                precision, dev, "float16 training needs a CUDA GPU; on a CPU use --precision 32 (or bf16)"
            )
        dtype = torch.float16
    return Placement(dev, precision, dtype, precision == "16", "nccl" if cuda else "gloo", cuda)


def _unsupported(precision: str, device: torch.device, hint: str) -> RuntimeFailure:
    return RuntimeFailure(
        ErrorCode.PRECISION_UNSUPPORTED,
        f"precision {precision} is not supported on {device}",
        value=precision,
        hint=hint,
    )


def to_device(value: Any, device: torch.device, non_blocking: bool = False) -> Any:
    """``value`` with every tensor in it (nested tuples / lists / dicts, or anything with ``.to``) on ``device``."""
    if isinstance(value, torch.Tensor):
        return value.to(device, non_blocking=non_blocking)
    if isinstance(value, dict):
        return {k: to_device(v, device, non_blocking) for k, v in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # named tuple
        return type(value)(*(to_device(v, device, non_blocking) for v in value))
    if isinstance(value, list | tuple):
        return type(value)(to_device(v, device, non_blocking) for v in value)
    if hasattr(value, "to") and callable(value.to) and not isinstance(value, torch.nn.Module):
        return value.to(device)
    return value


def add_device_options(parser) -> None:
    """``--device`` and ``--precision`` for a ``train`` command (the names map onto ``TrainConfig``)."""
    parser.add_argument(
        "--device",
        default="auto",
        help="where to train: auto (CUDA when present, else CPU), cpu, cuda or cuda:N (default: auto)",
    )
    parser.add_argument(
        "--precision",
        default="32",
        choices=PRECISIONS,
        help="32 (float32), bf16 (bfloat16 autocast: CUDA Ampere+ or CPUs with AVX-512 BF16 / AMX) "
        "or 16 (float16 autocast with a gradient scaler, CUDA only) (default: 32)",
    )
