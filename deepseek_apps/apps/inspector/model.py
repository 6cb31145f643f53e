"""The inspector's detector: a backbone, a 3-level FPN and an FCOS head.

Backbones (``DetectorConfig.backbone``): ``"efficientnet_lite0"`` (the default, and the
shipped model's), EfficientNet-Lite0 started from its ImageNet weights
(``efficientnet_lite.py``; ReLU6, no squeeze-excite, so it quantizes well), and ``"tiny"``,
a small residual network trained from scratch (``widths`` / ``blocks``; cheaper epochs,
weaker on small data sets: see the README's backbone table). A grayscale model sums the
pretrained stem over its three input channels.

``build_detector`` returns torchvision's ``FCOS`` (its matching, focal/GIoU/centerness
losses) on our own backbone, with a GroupNorm head (``head_norm="gn"``, the default) or a
BatchNorm head that folds into its convolutions at export time (GroupNorm stays as float
ops between INT8 convolutions). Its box branch is ``BoxRegressionHead``: torchvision's, with
a straight-through ReLU in training (see there). ``InspectorGraph`` is the inference graph that is exported: it takes
raw 0..255 pixels, normalises, runs backbone and head, decodes boxes and keeps the top-k
candidates, so ONNX and PyTorch share pre- and post-processing.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict, dataclass, field, replace
from functools import partial

import torch
from torch import nn
from torchvision.models.detection import FCOS
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.fcos import FCOSClassificationHead, FCOSRegressionHead
from torchvision.ops import FeaturePyramidNetwork

from ...errors import ErrorCode, InvalidInputError


@dataclass
class DetectorConfig:
    """Architecture of the detector; stored in checkpoints and bundles."""

    num_classes: int = 6
    in_channels: int = 1
    input_size: int | None = 192  # None: ``fit`` chooses it from the training boxes (``resolution.py``)
    widths: tuple[int, ...] = (16, 32, 64, 128, 192)
    blocks: tuple[int, ...] = (1, 2, 2, 2)
    fpn_channels: int = 64
    head_convs: int = 4
    head_norm: str = "gn"  # "gn": torchvision's GroupNorm(32), more accurate; "bn": folds into convs, faster INT8
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.25,)
    top_k: int = 100
    strides: tuple[int, ...] = field(default=(8, 16, 32))
    backbone: str = "efficientnet_lite0"  # ImageNet-pretrained; "tiny": from scratch (``widths``, ``blocks``)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "DetectorConfig":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known.setdefault("head_norm", "bn")  # configs written before head_norm existed used a BN head
        known.setdefault("backbone", "tiny")  # configs written before the pretrained backbone were all tiny
        for key in ("widths", "blocks", "mean", "std", "strides"):
            if key in known:
                known[key] = tuple(known[key])
        return cls(**known)


def _conv_bn(cin: int, cout: int, stride: int = 1, relu: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(_conv_bn(cin, cout, stride), _conv_bn(cout, cout, relu=False))
        self.skip = (
            nn.Identity()
            if stride == 1 and cin == cout
            else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.skip(x))


class TinyBackbone(nn.Module):
    """Residual backbone (stride 2 stem, four stages) with an FPN over strides 8/16/32."""

    def __init__(self, cfg: DetectorConfig):
        super().__init__()
        w = cfg.widths
        self.stem = _conv_bn(cfg.in_channels, w[0], stride=2)
        stages = []
        for i, n in enumerate(cfg.blocks):
            blocks = [BasicBlock(w[i], w[i + 1], 2)] + [BasicBlock(w[i + 1], w[i + 1], 1) for _ in range(n - 1)]
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.ModuleList(stages)
        self.fpn = FeaturePyramidNetwork(list(w[2:]), cfg.fpn_channels)
        self.out_channels = cfg.fpn_channels

    def forward(self, x: torch.Tensor) -> "OrderedDict[str, torch.Tensor]":
        x = self.stem(x)
        feats = OrderedDict()
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i >= 1:  # strides 8, 16, 32
                feats[f"p{i + 2}"] = x
        return self.fpn(feats)


class LiteBackbone(nn.Module):
    """EfficientNet-Lite0 (strides 8/16/32: 40/112/320 channels) with an FPN on top.

    The classifier head of the ImageNet network is dropped after loading; a 1-channel model
    gets a stem whose weights are the pretrained RGB stem summed over its input channels
    (a gray image then gives the features of the same gray image in RGB).
    """

    def __init__(self, cfg: DetectorConfig, pretrained: bool = False):
        super().__init__()
        from .efficientnet_lite import efficientnet_lite0

        net = efficientnet_lite0(pretrained=pretrained, out_strides=tuple(cfg.strides))
        net._conv_head, net._bn1, net._fc = None, None, None  # never run by forward; not trained, not saved
        if cfg.in_channels != 3:
            rgb = net._conv_stem
            stem = nn.Conv2d(cfg.in_channels, rgb.out_channels, 3, 2, 1, bias=False)
            with torch.no_grad():
                stem.weight.copy_(
                    rgb.weight.sum(dim=1, keepdim=True).repeat(1, cfg.in_channels, 1, 1) / cfg.in_channels
                )
            net._conv_stem = stem
        self.body = net
        self.fpn = FeaturePyramidNetwork(list(net.out_channels), cfg.fpn_channels)
        self.out_channels = cfg.fpn_channels

    def forward(self, x: torch.Tensor) -> "OrderedDict[str, torch.Tensor]":
        feats = OrderedDict((f"p{i + 3}", f) for i, f in enumerate(self.body(x)))
        return self.fpn(feats)


BACKBONES = {
    "tiny": "small residual network, from scratch",
    "efficientnet_lite0": "EfficientNet-Lite0, ImageNet-pretrained",
}
LITE_MEAN, LITE_STD = (127.0 / 255.0,), (128.0 / 255.0,)  # the Lite0 weights' input scale: (pixel - 127) / 128


def for_backbone(cfg: DetectorConfig) -> DetectorConfig:
    """``cfg`` with the pixel normalisation its backbone was pretrained with (Lite0: (x - 127) / 128)."""
    if cfg.backbone not in BACKBONES:
        raise InvalidInputError(
            ErrorCode.DETECTOR_BACKBONE_UNKNOWN,
            f"unknown detector backbone '{cfg.backbone}'",
            value=cfg.backbone,
            hint=f"use one of: {', '.join(BACKBONES)}",
        )
    if cfg.backbone == "efficientnet_lite0":
        return replace(cfg, mean=LITE_MEAN * cfg.in_channels, std=LITE_STD * cfg.in_channels)
    return cfg


def build_detector(cfg: DetectorConfig, pretrained: bool = False) -> FCOS:
    """Build the trainable detector (torchvision ``FCOS`` with our backbone and a BN or GN head).

    ``pretrained`` loads (and verifies) the ImageNet weights of a pretrained backbone;
    leave it off when a checkpoint's weights are loaded next.
    """
    for_backbone(cfg)  # refuses an unknown backbone with our coded error
    backbone = LiteBackbone(cfg, pretrained) if cfg.backbone == "efficientnet_lite0" else TinyBackbone(cfg)
    anchor_gen = AnchorGenerator(sizes=tuple((s,) for s in cfg.strides), aspect_ratios=((1.0,),) * len(cfg.strides))
    model = FCOS(
        backbone,
        num_classes=cfg.num_classes,
        min_size=cfg.input_size,
        max_size=cfg.input_size,
        image_mean=list(cfg.mean),
        image_std=list(cfg.std),
        anchor_generator=anchor_gen,
        score_thresh=0.05,
        nms_thresh=0.5,
        detections_per_img=cfg.top_k,
    )
    norm = partial(nn.BatchNorm2d) if cfg.head_norm == "bn" else partial(nn.GroupNorm, 32)
    ch = cfg.fpn_channels
    model.head.classification_head = FCOSClassificationHead(ch, 1, cfg.num_classes, cfg.head_convs, norm_layer=norm)
    model.head.regression_head = BoxRegressionHead(ch, 1, cfg.head_convs, norm_layer=norm)
    return model


class BoxRegressionHead(FCOSRegressionHead):
    """torchvision's FCOS box branch, whose ReLU lets gradient through in training.

    The four box distances are ``relu(conv(x))`` in both modes. In torchvision's head a
    distance channel whose pre-activation turns negative everywhere gets no gradient again:
    its boxes keep zero width or height for the rest of the run. On KolektorSDD (long thin
    cracks, distances under one stride on the short side) this happened in 2 of 3 runs with
    identical settings: 2 of the 4 channels were dead after epoch 1, 3 after epoch 8, and
    validation box mAP stayed 0. Here training passes the gradient through the ReLU as if it
    were the identity (a straight-through estimator), so a GIoU loss that wants a larger box
    can bring a channel back. Evaluation and export run the plain ReLU: the same graph, the
    same parameter names, so checkpoints load either way.
    """

    def forward(self, x: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        all_boxes, all_ctrness = [], []
        for features in x:
            feature = self.conv(features)
            raw = self.bbox_reg(feature)
            distances = nn.functional.relu(raw)
            if self.training:
                distances = raw + (distances - raw).detach()  # value: relu(raw); gradient: identity
            ctrness = self.bbox_ctrness(feature)
            n, _, h, w = distances.shape
            all_boxes.append(distances.view(n, -1, 4, h, w).permute(0, 3, 4, 1, 2).reshape(n, -1, 4))
            all_ctrness.append(ctrness.view(n, -1, 1, h, w).permute(0, 3, 4, 1, 2).reshape(n, -1, 1))
        return torch.cat(all_boxes, dim=1), torch.cat(all_ctrness, dim=1)


class InspectorGraph(nn.Module):
    """Inference graph: ``pixels (N, C, S, S) float 0..255 -> boxes (N, K, 4), scores (N, K), labels (N, K)``.

    Boxes are in input-pixel coordinates of the ``S x S`` model input; scores are FCOS's
    ``sqrt(sigmoid(cls) * sigmoid(centerness))``. Class-wise NMS runs afterwards in numpy,
    identically for every backend (``deepseek_apps.core.runtime.postprocess``).
    """

    def __init__(self, detector: FCOS, cfg: DetectorConfig):
        super().__init__()
        self.backbone = detector.backbone
        self.head = detector.head
        self.top_k = cfg.top_k
        self.register_buffer("mean", torch.tensor(cfg.mean).view(1, -1, 1, 1) * 255.0)
        self.register_buffer("std", torch.tensor(cfg.std).view(1, -1, 1, 1) * 255.0)
        centers, sizes = [], []
        for stride in cfg.strides:
            n = cfg.input_size // stride
            ys, xs = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
            c = torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1).float() * stride
            centers.append(c)
            sizes.append(torch.full((n * n, 1), float(stride)))
        # Anchors of torchvision's AnchorGenerator: top-left grid points, box of side `stride`
        # centred there, so the decode centre is the grid point itself.
        self.register_buffer("centers", torch.cat(centers).unsqueeze(0))
        self.register_buffer("sizes", torch.cat(sizes).unsqueeze(0))

    def forward(self, pixels: torch.Tensor):
        x = (pixels - self.mean) / self.std
        feats = list(self.backbone(x).values())
        out = self.head(feats)
        cls = torch.sigmoid(out["cls_logits"])  # (N, A, C)
        ctr = torch.sigmoid(out["bbox_ctrness"])  # (N, A, 1)
        scores = torch.sqrt(cls * ctr)
        reg = out["bbox_regression"] * self.sizes  # (N, A, 4) in pixels
        boxes = torch.cat([self.centers - reg[..., :2], self.centers + reg[..., 2:]], dim=-1)
        n, a, c = scores.shape
        top_scores, idx = torch.topk(scores.reshape(n, a * c), self.top_k, dim=1)
        anchor_idx = idx // c
        labels = idx - anchor_idx * c
        top_boxes = torch.gather(boxes, 1, anchor_idx.unsqueeze(-1).expand(-1, -1, 4))
        return top_boxes, top_scores, labels
