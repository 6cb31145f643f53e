"""Settings of the anomaly model, and the working size that follows the data's aspect ratio."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from ....errors import ErrorCode, InvalidInputError

SIZE_MULTIPLE = 16  # the deepest feature is at stride 16


@dataclass(frozen=True)
class AnomalyConfig:
    """How the anomaly model sees images and builds its memory bank.

    Args:
        long_side: the working size's long side in pixels; the short side follows the median
            aspect ratio of the training images (rounded to a multiple of 16), so parts are
            never squashed.
        size: ``(height, width)`` to use as given instead (``None``: from ``long_side``).
        strides: backbone feature strides concatenated per patch (PatchCore: two middle levels).
        pool: side of the neighbourhood each feature is averaged over (PatchCore: 3).
        coreset_ratio: fraction of the good patches kept by greedy coreset selection (PatchCore: 1%-10%).
        max_bank: upper bound on the memory bank's rows whatever the ratio.
        projection_dim: random projection used only to choose the coreset (PatchCore: 128).
        sigma: Gaussian smoothing of the upsampled map, in working-size pixels (anomalib: 4).
        target_frr: wanted false-reject rate on good parts; sets the OK/NG threshold.
    """

    long_side: int = 640
    size: tuple[int, int] | None = None
    strides: tuple[int, ...] = (8, 16)
    pool: int = 3
    coreset_ratio: float = 0.01
    max_bank: int = 50_000
    projection_dim: int = 128
    sigma: float = 4.0
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
        return cls(**values).validated()

    def validated(self) -> AnomalyConfig:
        """``self`` or an ``InvalidInputError`` (1021) naming the first bad setting."""
        checks = (
            ("long_side", self.long_side, isinstance(self.long_side, int) and 32 <= self.long_side <= 4096, "32..4096"),
            (
                "size",
                self.size,
                self.size is None or _valid_size(self.size),
                "None or (height, width), multiples of 16 in 32..4096",
            ),
            ("pool", self.pool, isinstance(self.pool, int) and self.pool >= 1 and self.pool % 2 == 1, "an odd int"),
            ("coreset_ratio", self.coreset_ratio, 0.0 < self.coreset_ratio <= 1.0, "in (0, 1]"),
            ("max_bank", self.max_bank, isinstance(self.max_bank, int) and self.max_bank >= 1, ">= 1"),
            ("projection_dim", self.projection_dim, self.projection_dim >= 1, ">= 1"),
            ("sigma", self.sigma, 0.0 <= self.sigma <= 64.0, "0..64"),
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

    def with_size_for(self, aspect: float) -> AnomalyConfig:
        """A copy whose ``size`` is fixed: as given, or ``long_side`` with the short side from ``aspect`` (h / w)."""
        if self.size is not None:
            return self
        return replace(self, size=working_size(self.long_side, aspect))


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
