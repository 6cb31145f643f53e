"""Why a transaction scored as it did: feature attributions, neighbour occlusion, a picture.

- Features: TreeSHAP contributions of the trees / hybrid (whichever the detector uses), or
  gradient x (input - training mean) of the GNN when the GNN is the model.
- Neighbours: the transaction's causal 2-hop subgraph (the one it was scored on); each
  neighbouring transaction is removed in turn and the GNN re-scores: ``influence`` is the
  score with it minus the score without it (occlusion, as ``torch_geometric.explain``'s
  ``Explainer`` does with masks, but exact for this small subgraph).

Example:
    >>> exp = FraudDetector().explain("t42")  # doctest: +SKIP
    >>> exp.neighbours[0].influence, exp.draw().size  # doctest: +SKIP
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from ...errors import ErrorCode, InvalidInputError
from .results import Explanation, NeighbourInfluence, Reason
from .sampler import TemporalSampler
from .trees import contributions


def _inputs(det):
    cache = det.__dict__.get("_explain_inputs")
    if cache is None:
        cache = det._inputs(det.history_, det.known_)
        det.__dict__["_explain_inputs"] = cache
    return cache


def _subgraph(data, index: int, num_neighbors):
    out = TemporalSampler(data, list(num_neighbors), strategy="recent").sample("txn", torch.tensor([index]))
    x_dict = {t: data[t].x[n] for t, n in out.node.items()}
    for t in data.node_types:
        x_dict.setdefault(t, torch.zeros(0, data[t].x.shape[1]))
    edges = {et: torch.stack([out.row[et], out.col[et]]) for et in out.row}
    return out, x_dict, edges


def _without(edges: dict, txn_local: int) -> dict:
    out = {}
    for et, ei in edges.items():
        keep = torch.ones(ei.shape[1], dtype=torch.bool)
        if et[0] == "txn":
            keep &= ei[0] != txn_local
        if et[2] == "txn":
            keep &= ei[1] != txn_local
        out[et] = ei[:, keep]
    return out


def _feature_reasons(det, inputs, index: int, x_dict, edges) -> list[Reason]:
    if det.model_ == "gnn":
        x = x_dict["txn"].clone().requires_grad_(True)
        logit = det.gnn_({**x_dict, "txn": x}, edges)[0]
        logit.backward()
        attr = (x.grad[0] * (x[0] - det.gnn_.mean)).detach().numpy()
        vals, names = inputs.x[index], det.feature_names_
    else:
        row = inputs.x_tree[index : index + 1]
        booster = det.trees_
        names = det.tree_feature_names_
        if det.model_ == "hybrid":
            with torch.no_grad():
                emb = det.gnn_.embed(x_dict, edges)[:1].numpy()
            row = np.hstack([row, emb])
            booster = det.hybrid_
            names = names + [f"gnn_emb{i}" for i in range(emb.shape[1])]
        attr = contributions(booster, row)[0, :-1]
        vals = row[0]
    order = np.argsort(-np.abs(attr))[: max(det.top_reasons, 5)]
    return [Reason(names[j], float(vals[j]), float(attr[j])) for j in order]


def explain(det, txn_id: str, transactions=None) -> Explanation:
    """The ``Explanation`` of one transaction: of the history, or of new ``transactions`` scored after it.

    An account or merchant id explains that entity's highest-scoring transaction.
    """
    if transactions is None:
        h, inputs = det.history_, _inputs(det)
        lookup = det.__dict__.setdefault("_id_lookup", {str(k): i for i, k in enumerate(h.ids.tolist())})
    else:
        h, known, _ = det._with_history(det._table(transactions, require_time=det.temporal_))
        inputs = det._inputs(h, known)
        lookup = {str(k): i for i, k in enumerate(h.ids.tolist())}
    if txn_id not in lookup and (txn_id in set(h.src.tolist()) or txn_id in set(h.dst.tolist())):
        # an account or merchant id: explain its highest-scoring transaction
        rows = np.flatnonzero((h.src == txn_id) | (h.dst == txn_id))
        scores = det._scores(inputs, rows, h.ids[rows], False, time.perf_counter())
        txn_id = str(h.ids[rows[int(np.argmax([s.score for s in scores]))]])
    if txn_id not in lookup:
        raise InvalidInputError(
            ErrorCode.FRAUD_UNKNOWN_ENTITY,
            "transaction id is neither in the model's history nor in the given transactions",
            value=txn_id,
            hint="pass the new transactions with transactions=..., or an id the model was fitted on",
        )
    index = lookup[txn_id]
    data = inputs.graph.data
    out, x_dict, edges = _subgraph(data, index, det.gnn_config_.num_neighbors)
    det.gnn_.eval()
    with torch.no_grad():
        base = float(torch.sigmoid(det.gnn_(x_dict, edges))[0])
        txn_nodes = out.node["txn"].tolist()
        influence = {
            j: base - float(torch.sigmoid(det.gnn_(x_dict, _without(edges, j)))[0]) for j in range(1, len(txn_nodes))
        }
    via = {}
    for et, name in ((("txn", "made_by", "account"), "account"), (("txn", "paid_to", "merchant"), "merchant")):
        for j in out.row.get(et, torch.zeros(0, dtype=torch.long)).tolist():
            via.setdefault(j, name)
    neighbours = []
    for j, inf in sorted(influence.items(), key=lambda kv: -abs(kv[1])):
        g = txn_nodes[j]
        lab = None if h.label is None or np.isnan(h.label[g]) else float(h.label[g])
        amt = None if h.amount is None else float(h.amount[g])
        neighbours.append(
            NeighbourInfluence(str(h.ids[g]), via.get(j, "account"), str(h.src[g]), str(h.dst[g]), amt, lab, inf)
        )
    score = det._scores(inputs, np.array([index]), np.array([txn_id], dtype=object), False, time.perf_counter())[0]
    edge_list = [(str(h.src[index]), "makes", txn_id), (txn_id, "paid_to", str(h.dst[index]))]
    edge_list += [
        (n.id, "made_by" if n.via == "account" else "paid_to", n.source if n.via == "account" else n.destination)
        for n in neighbours
    ]
    return Explanation(
        txn_id,
        score.score,
        score.alert,
        str(h.src[index]),
        str(h.dst[index]),
        _feature_reasons(det, inputs, index, x_dict, edges),
        neighbours,
        edge_list,
    )


def _colour(v: float, scale: float) -> tuple[int, int, int]:
    a = min(1.0, abs(v) / scale) if scale > 0 else 0.0
    return (
        (int(255 - 40 * a), int(230 - 190 * a), int(230 - 190 * a))
        if v >= 0
        else (int(230 - 190 * a), int(230 - 140 * a), 255)
    )


def draw_explanation(exp: Explanation, size: int = 520):
    """The subgraph: account left, merchant right, the explained transaction between, neighbours around."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(img)
    cx, cy, r = size / 2, size / 2, size * 0.035
    acc, mer = (size * 0.3, cy), (size * 0.7, cy)
    scale = max([abs(n.influence) for n in exp.neighbours] + [1e-6])
    groups = {
        "account": [n for n in exp.neighbours if n.via == "account"],
        "merchant": [n for n in exp.neighbours if n.via == "merchant"],
    }
    for (hx, hy), group, side in ((acc, groups["account"], -1), (mer, groups["merchant"], 1)):
        for i, n in enumerate(group):
            ang = (
                math.pi / 2
                - side * (math.pi / 2)
                + (i - (len(group) - 1) / 2) * (math.pi * 0.9 / max(len(group) - 1, 1))
            )
            px, py = hx + math.cos(ang) * size * 0.22, hy + math.sin(ang) * size * 0.22
            draw.line([(px, py), (hx, hy)], fill=(170, 170, 170), width=1)
            draw.ellipse(
                [px - r * 0.7, py - r * 0.7, px + r * 0.7, py + r * 0.7],
                fill=_colour(n.influence, scale),
                outline=(200, 0, 0) if n.label == 1 else (90, 90, 90),
                width=3 if n.label == 1 else 1,
            )
            draw.text((px - r, py + r * 0.8), n.id[:10], fill=(60, 60, 60))
    draw.line([acc, (cx, cy), mer], fill=(60, 60, 60), width=3)
    for (x, y), label, fill in ((acc, exp.source, (120, 170, 220)), (mer, exp.destination, (140, 200, 140))):
        draw.rectangle([x - r, y - r, x + r, y + r], fill=fill, outline=(40, 40, 40))
        draw.text((x - r, y + r + 2), label[:12], fill=(0, 0, 0))
    seed_fill = (220, 50, 50) if exp.alert else (250, 200, 80)
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=seed_fill, outline=(0, 0, 0), width=2)
    draw.text(
        (8, 8), f"transaction {exp.id}  score {exp.score:.3f}  {'ALERT' if exp.alert else 'no alert'}", fill=(0, 0, 0)
    )
    draw.text((8, size - 18), "red: raises the score  blue: lowers it  red ring: labelled fraud", fill=(80, 80, 80))
    return img
