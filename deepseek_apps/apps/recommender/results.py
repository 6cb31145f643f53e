"""Typed results of the recommender."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Recommendation:
    """One ranked item for a user, with what in the user's history drove it.

    Attributes:
        item_id: the raw item id, as in the training log.
        score: predicted click probability.
        rank: 1-based position in the returned list.
        category: the item's category name ("unknown" for items the model has not seen).
        title: display title when the log had one.
        history: the user's history the model looked at (raw item ids, oldest first).
        attention: the local activation unit's weight of each ``history`` item for this
            candidate (not normalised, as in DIN; 0 for padding).
        known_item: False for a candidate the model never saw (scored by its category only).
        cold_start: True when the user had no history (scored from item and user features).
    """

    item_id: Any
    score: float
    rank: int
    category: str = "unknown"
    title: str = ""
    history: list = field(default_factory=list)
    attention: list[float] = field(default_factory=list)
    known_item: bool = True
    cold_start: bool = False

    def top_history(self, n: int = 3) -> list[tuple[Any, float]]:
        """The ``n`` history items with the largest attention weight, largest first."""
        pairs = sorted(zip(self.history, self.attention), key=lambda p: -p[1])
        return pairs[:n]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Ranking:
    """The answer to one ``predict`` request: the user's top items, best first, or the error.

    Attributes:
        user_id: the request's user id (as given).
        items: ``Recommendation``s, best first (empty when the request failed).
        error: ``None``, or the recorded error's ``to_dict()`` with ``errors="record"``.
    """

    user_id: Any
    items: list[Recommendation] = field(default_factory=list)
    error: dict | None = None

    @property
    def item_ids(self) -> list:
        return [r.item_id for r in self.items]

    def to_dict(self) -> dict:
        return {"user_id": self.user_id, "items": [r.to_dict() for r in self.items], "error": self.error}


@dataclass
class ItemScore:
    """The click probability of one given item for a user (``DINRecommender.score``), unranked.

    Attributes:
        item_id: the raw item id, as given.
        score: predicted click probability.
        category: the item's category name ("unknown" for items the model has not seen).
        known_item: False for an item the model never saw.
        history: the history the model looked at (raw item ids, oldest first).
        attention: the weight of each ``history`` item for this one.
    """

    item_id: Any
    score: float
    category: str = "unknown"
    known_item: bool = True
    history: list = field(default_factory=list)
    attention: list[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)
