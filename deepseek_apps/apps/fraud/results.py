"""Typed results of the fraud detector."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Reason:
    """One feature's push on a score: ``contribution`` > 0 raises it (log-odds for trees)."""

    feature: str
    value: float
    contribution: float

    def to_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, "value": round(self.value, 5), "contribution": round(self.contribution, 5)}


@dataclass
class FraudScore:
    """The verdict for one transaction (or entity): probability-like score, alert, top reasons."""

    id: str
    score: float
    alert: bool
    threshold: float
    reasons: list[Reason] = field(default_factory=list)
    kind: str = "transaction"  # or "account" / "merchant"
    model: str = ""
    latency_ms: float = 0.0
    error: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "score": None if self.error else round(self.score, 6),
            "alert": self.alert,
            "threshold": round(self.threshold, 6),
            "model": self.model,
            "reasons": [r.to_dict() for r in self.reasons],
            "latency_ms": round(self.latency_ms, 3),
            "error": self.error,
        }


@dataclass(frozen=True)
class NeighbourInfluence:
    """A neighbouring transaction and how much removing it from the graph changes the GNN score."""

    id: str
    via: str  # "account" or "merchant": which shared entity links it to the explained transaction
    source: str
    destination: str
    amount: float | None
    label: float | None
    influence: float  # score with it minus score without it

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "via": self.via,
            "source": self.source,
            "destination": self.destination,
            "amount": self.amount,
            "label": self.label,
            "influence": round(self.influence, 6),
        }


@dataclass
class Explanation:
    """What drove one transaction's score: features, neighbours and edges of its subgraph."""

    id: str
    score: float
    alert: bool
    source: str
    destination: str
    features: list[Reason]
    neighbours: list[NeighbourInfluence]
    edges: list[tuple[str, str, str]]  # (from, relation, to) of the explained subgraph

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "score": round(self.score, 6),
            "alert": self.alert,
            "source": self.source,
            "destination": self.destination,
            "features": [r.to_dict() for r in self.features],
            "neighbours": [n.to_dict() for n in self.neighbours],
            "edges": [list(e) for e in self.edges],
        }

    def draw(self, size: int = 520):
        """A small picture of the subgraph (PIL image): red = pushes the score up, blue = down."""
        from .picture import draw_explanation

        return draw_explanation(self, size)
