"""Why an entity scored as it did: attribute contributions and, per relation, the neighbours that drove it.

Attributes: LightGBM's TreeSHAP contributions (log-odds) of the scoring tree model (``hybrid``
when it scores, ``attributes`` when it does, ``trees`` otherwise; the GNN has no exact
attribution, so ``gnn`` and ``blend`` are explained through ``trees``). Neighbours: for each
relation channel, the ``trees`` score with that one neighbour removed from the entity's
neighbourhood (aggregates and label rates recomputed); ``influence`` = score with it minus
score without it. The picture colours edges by relation.

Example:
    >>> exp = detector.explain("c17")  # doctest: +SKIP
    >>> [(n.relation, n.id, round(n.influence, 3)) for n in exp.neighbours][:3]  # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..results import Reason
from ..trees import contributions, predict_trees
from .detector import EntityModel
from .features import Channel, node_features

MAX_PER_RELATION = 12
PALETTE = [(31, 119, 180), (44, 160, 44), (148, 103, 189), (255, 127, 14), (23, 190, 207), (140, 86, 75)]


@dataclass(frozen=True)
class NeighbourLink:
    """A neighbour of the explained entity in one relation channel, and its pull on the score."""

    id: str
    relation: str
    score: float
    label: float | None
    influence: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "relation": self.relation,
            "score": round(self.score, 6),
            "label": self.label,
            "influence": round(self.influence, 6),
        }


@dataclass
class EntityExplanation:
    """The attributes and neighbours (per relation) behind one entity's score."""

    id: str
    score: float
    alert: bool
    model: str
    attributes: list[Reason]
    neighbours: list[NeighbourLink]
    degree: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "score": round(self.score, 6),
            "alert": self.alert,
            "model": self.model,
            "attributes": [r.to_dict() for r in self.attributes],
            "neighbours": [n.to_dict() for n in self.neighbours],
            "degree": self.degree,
        }

    def relations(self) -> list[str]:
        return sorted(self.degree)

    def draw(self, size: int = 520, relations: list[str] | None = None):
        """The neighbourhood (PIL image): edges coloured by relation, nodes red by score, ringed if labelled fraud."""
        from PIL import Image, ImageDraw

        keep = [n for n in self.neighbours if relations is None or n.relation in relations]
        colour = {r: PALETTE[i % len(PALETTE)] for i, r in enumerate(self.relations())}
        img = Image.new("RGB", (size, size), "white")
        draw = ImageDraw.Draw(img)
        cx = cy = size / 2
        r = size * 0.03

        def node(x, y, score, label, text):
            fill = (255, int(235 - 200 * score), int(235 - 200 * score))
            draw.ellipse([x - r, y - r, x + r, y + r], fill=fill, outline="black", width=3 if label == 1 else 1)
            draw.text((x + r + 2, y - r), text, fill="black")

        for i, n in enumerate(keep):
            a = 2 * math.pi * i / max(len(keep), 1)
            x, y = cx + size * 0.38 * math.cos(a), cy + size * 0.38 * math.sin(a)
            width = 1 + int(6 * min(1.0, abs(n.influence) / 0.2))
            draw.line([cx, cy, x, y], fill=colour[n.relation], width=width)
            node(x, y, n.score, n.label, n.id[:12])
        node(cx, cy, self.score, None, self.id[:12])
        for i, (rel, col) in enumerate(colour.items()):
            draw.text((8, 8 + 14 * i), rel, fill=col)
        return img


def _row_channels(model: EntityModel, i: int, drop: tuple[str, int] | None = None) -> dict[str, Channel]:
    out = {}
    for name, ch in model.channels.items():
        mask = ch.rows == i
        if drop is not None and drop[0] == name:
            mask &= ch.cols != drop[1]
        out[name] = Channel(np.zeros(int(mask.sum()), np.int64), ch.cols[mask], ch.attrs[mask], ch.attr_names)
    return out


def _trees_score(model: EntityModel, i: int, drop: tuple[str, int] | None = None) -> float:
    feats = node_features(
        model.x_all[[i]],
        model.x_all,
        _row_channels(model, i, drop),
        model.fold[[i]],
        model.fold,
        model.train_label(),
        model.node_names,
    )
    return float(predict_trees(model.boosters["trees"], feats.trees)[0])


def explain_entity(model: EntityModel, i: int, arch: str, threshold: float, top: int = 5) -> EntityExplanation:
    """Attributes and neighbours per relation behind node ``i``'s score under ``arch``."""
    booster_name = arch if arch in ("hybrid", "attributes") else "trees"
    row = _row_channels(model, i)
    feats = node_features(
        model.x_all[[i]], model.x_all, row, model.fold[[i]], model.fold, model.train_label(), model.node_names
    )
    x = feats.trees
    names = model.tree_names
    if booster_name == "hybrid":
        x = np.hstack([x, model.hybrid_row(i, row)])
        names = model.hybrid_names
    elif booster_name == "attributes":
        x, names = x[:, : model.n_attributes], names[: model.n_attributes]
    contrib = contributions(model.boosters[booster_name], x)[0, :-1]
    order = np.argsort(-np.abs(contrib))[:top]
    reasons = [Reason(names[j], float(x[0, j]), float(contrib[j])) for j in order]
    base = _trees_score(model, i)
    links = []
    for name, ch in row.items():
        cols = ch.cols
        if len(cols) > MAX_PER_RELATION:  # the most suspicious neighbours first
            cols = cols[np.argsort(-model.scores["trees"][cols])[:MAX_PER_RELATION]]
        for j in cols.tolist():
            label = model.graph.label[j]
            links.append(
                NeighbourLink(
                    str(model.graph.ids[j]),
                    name,
                    float(model.scores[arch][j]),
                    None if np.isnan(label) else float(label),
                    base - _trees_score(model, i, (name, j)),
                )
            )
    links.sort(key=lambda n: -abs(n.influence))
    score = float(model.scores[arch][i])
    degree = {name: int((ch.rows == i).sum()) for name, ch in model.channels.items()}
    return EntityExplanation(str(model.graph.ids[i]), score, score >= threshold, arch, reasons, links, degree)
