"""Typed results of the inspector."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Defect:
    """One detected defect; ``box`` is ``(x0, y0, x1, y1)`` in input-image pixels."""

    label: str
    score: float
    box: tuple[float, float, float, float]

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "score": round(self.score, 5), "box": [round(v, 2) for v in self.box]}


@dataclass
class Inspection:
    """The verdict for one image: ``ok`` is True when no defect passed the threshold."""

    defects: list[Defect] = field(default_factory=list)
    latency_ms: float = 0.0
    source: str = ""
    width: int = 0
    height: int = 0
    error: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.defects

    @property
    def verdict(self) -> str:
        return "ERROR" if self.error else ("OK" if self.ok else "NG")

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "verdict": self.verdict,
            "ok": self.ok,
            "width": self.width,
            "height": self.height,
            "defects": [d.to_dict() for d in self.defects],
            "latency_ms": round(self.latency_ms, 3),
            "error": self.error,
        }
