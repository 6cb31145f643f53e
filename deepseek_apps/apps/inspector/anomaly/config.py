"""Settings of the anomaly model, and the working size that follows the data's aspect ratio."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from ....errors import ErrorCode, InvalidInputError

SIZE_MULTIPLE = 16  # the deepest feature is at stride 16
MAX_AUTO_LONG_SIDE = 1280  # an automatic working size follows the images up to this long side ...
MAX_AUTO_PIXELS = 1280 * 512  # ... and this many pixels (CPU time per image grows with the area)
MIN_AUTO_LONG_SIDE = 224  # small images are enlarged to this (ImageNet features see objects of this scale)
MIN_GRID = 28  # an automatic patch grid keeps at least this many patches across the short side
BACKBONES = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")  # ImageNet-pretrained, from PyPI


@dataclass(frozen=True)
class AnomalyConfig:
    """How the anomaly model sees images and builds its memory bank.

    Args:
        long_side: the working size's long side in pixels; the short side follows the median
            aspect ratio of the training images (rounded to a multiple of 16), so parts are
            never squashed (default 640). ``None``: follow the images' own median size, shrunk
            only as far as needed to stay within 1280 px on the long side and 1280 x 512 pixels
            (small images are enlarged to a 224 px long side), so thin defects are not
            downscaled away. Not the default: on KolektorSDD (1264 x 496 instead of 640 x 256)
            it measured the same image AUROC, a lower pixel AUROC (0.942 vs 0.951) and twice the
            FP32 time per image (317 vs 158 ms, 2026-12-05).
        size: ``(height, width)`` to use as given instead (``None``: from ``long_side``).
        backbone: the ImageNet-pretrained feature extractor, ``"efficientnet_lite1"`` (default),
            ``"efficientnet_lite0"`` or ``"efficientnet_lite2"`` (each from its registry package;
            Lite1 ranked first on image AUROC on KolektorSDD in both directions of
            ``benchmarks/inspector_anomaly*.py``, Lite2 on pixel AUROC).
        strides: backbone feature strides concatenated per patch (PatchCore: two middle levels).
        patch_stride: the stride of the patch grid (one memory-bank row per ``patch_stride``
            pixels); finer levels are averaged down to it, coarser ones upsampled. ``None``
            (default): the coarsest of ``strides`` that still gives at least 28 patches across
            the working size's short side (PatchCore's 28 x 28 grid at 224 px), so a large
            working size keeps the bank and the search as small as half the size would, while
            small images keep the fine grid. Fixed at fit; models saved before this setting keep
            the finest stride.
        pool: side of the neighbourhood each feature is averaged over (PatchCore: 3).
        coreset_ratio: fraction of the good patches kept by greedy (k-center) coreset selection
            (PatchCore: 1%-10%).
        max_bank: upper bound on the memory bank's rows whatever the ratio (bounds the search
            time per image).
        projection_dim: random projection used only to choose the coreset (PatchCore: 128).
        sigma: Gaussian smoothing of the upsampled map, in working-size pixels (anomalib: 4).
        score_top: share of the heat map's highest pixels whose mean is the image score
            (default 0.01, the top 1%; ``0``: the single highest pixel, PatchCore's max). The
            mean of the top 1% rewards a defect that is anomalous over an area and discounts a
            lone bright spot of a good part: on KolektorSDD it raised image AUROC from 0.893 to
            0.904 fitting on train and from 0.860 to 0.906 with the folders swapped (Lite1;
            Lite0 and Lite2 likewise, 2026-12-06). Models saved before this setting keep the max.
        target_frr: wanted false-reject rate on good parts; sets the OK/NG threshold.
    """

    long_side: int | None = 640
    size: tuple[int, int] | None = None
    backbone: str = "efficientnet_lite1"
    strides: tuple[int, ...] = (8, 16)
    patch_stride: int | None = None
    pool: int = 3
    coreset_ratio: float = 0.01
    max_bank: int = 10_000
    projection_dim: int = 128
    sigma: float = 4.0
    score_top: float = 0.01
    target_frr: float = 0.01

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["size"] = list(self.size) if self.size else None
        data["strides"] = list(self.strides)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnomalyConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if values.get("size") is not None:
            values["size"] = tuple(int(v) for v in values["size"])
        if "strides" in values:
            values["strides"] = tuple(int(v) for v in values["strides"])
        if "backbone" not in values:  # saved before the setting existed: every model was on Lite0
            values["backbone"] = "efficientnet_lite0"
        if "score_top" not in values:  # saved before the setting existed: the image score was the map's max
            values["score_top"] = 0.0
        if "patch_stride" not in values:  # saved before the setting existed: the grid was the finest stride
            values["patch_stride"] = min(values.get("strides", cls.strides))
        return cls(**values).validated()

    def validated(self) -> AnomalyConfig:
        """``self`` or an ``InvalidInputError`` (1021) naming the first bad setting."""
        checks = (
            (
                "long_side",
                self.long_side,
                self.long_side is None or isinstance(self.long_side, int) and 32 <= self.long_side <= 4096,
                "None or 32..4096",
            ),
            (
                "size",
                self.size,
                self.size is None or _valid_size(self.size),
                "None or (height, width), multiples of 16 in 32..4096",
            ),
            (
                "patch_stride",
                self.patch_stride,
                self.patch_stride is None or self.patch_stride in tuple(self.strides),
                "None or one of strides",
            ),
            (
                "backbone",
                self.backbone,
                self.backbone in BACKBONES,
                "one of " + ", ".join(BACKBONES),
            ),
            ("pool", self.pool, isinstance(self.pool, int) and self.pool >= 1 and self.pool % 2 == 1, "an odd int"),
            ("coreset_ratio", self.coreset_ratio, 0.0 < self.coreset_ratio <= 1.0, "in (0, 1]"),
            ("max_bank", self.max_bank, isinstance(self.max_bank, int) and self.max_bank >= 1, ">= 1"),
            ("projection_dim", self.projection_dim, self.projection_dim >= 1, ">= 1"),
            ("sigma", self.sigma, 0.0 <= self.sigma <= 64.0, "0..64"),
            ("score_top", self.score_top, 0.0 <= self.score_top <= 0.5, "0..0.5"),
            ("target_frr", self.target_frr, 0.0 <= self.target_frr < 1.0, "in [0, 1)"),
        )
        for name, value, ok, allowed in checks:
            if not ok:
                raise InvalidInputError(
                    ErrorCode.ANOMALY_BAD_OPTION,
                    f"anomaly setting {name} must be {allowed}",
                    value=value,
                    hint=f"pass a valid {name} in AnomalyConfig(...)",
                )
        return self

    def with_size_for(self, aspect: float, long_side: float | None = None) -> AnomalyConfig:
        """A copy whose ``size`` and ``patch_stride`` are fixed: the size as given, or ``long_side`` with the
        short side from ``aspect`` (h / w); the grid as given or chosen for that size.

        With ``long_side=None`` in the settings, ``long_side`` here (the images' median long
        side in pixels) sets it, within the automatic limits.
        """
        config = self
        if config.size is None:
            side = self.long_side if self.long_side is not None else auto_long_side(long_side or 640, aspect)
            config = replace(config, size=working_size(side, aspect))
        if config.patch_stride is None:
            short = min(config.size)  # type: ignore[type-var]
            fitting = [s for s in config.strides if short // s >= MIN_GRID]
            config = replace(config, patch_stride=max(fitting) if fitting else min(config.strides))
        return config


def auto_long_side(native: float, aspect: float) -> int:
    """The images' own long side ``native``, shrunk to fit ``MAX_AUTO_LONG_SIDE`` and ``MAX_AUTO_PIXELS``."""
    ratio = min(aspect, 1 / aspect)  # short / long
    fit_area = (MAX_AUTO_PIXELS / ratio) ** 0.5
    return int(max(MIN_AUTO_LONG_SIDE, min(native, MAX_AUTO_LONG_SIDE, fit_area)))


def working_size(long_side: int, aspect: float) -> tuple[int, int]:
    """``(height, width)`` with the long side ``long_side`` and ``height / width`` close to ``aspect``."""
    long_side = max(SIZE_MULTIPLE, round(long_side / SIZE_MULTIPLE) * SIZE_MULTIPLE)
    short = max(SIZE_MULTIPLE, round(long_side * min(aspect, 1 / aspect) / SIZE_MULTIPLE) * SIZE_MULTIPLE)
    return (long_side, short) if aspect >= 1 else (short, long_side)


def _valid_size(size: Any) -> bool:
    return (
        isinstance(size, tuple | list)
        and len(size) == 2
        and all(isinstance(v, int) and 32 <= v <= 4096 and v % SIZE_MULTIPLE == 0 for v in size)
    )
