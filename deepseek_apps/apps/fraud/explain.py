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

import numpy as np
import torch

from ...errors import ErrorCode, InvalidInputError
from .results import Explanation, NeighbourInfluence, Reason
from .sampler import TemporalSampler
from .trees import contributions


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
    if det.arch_ == "gnn":
        x = x_dict["txn"].clone().requires_grad_(True)
        logit = det.gnn_({**x_dict, "txn": x}, edges)[0]
        logit.backward()
        attr = (x.grad[0] * (x[0] - det.gnn_.mean)).detach().numpy()
        vals, names = inputs.x[index], det.feature_names_
    else:
        row = inputs.x_tree[index : index + 1]
        booster = det.trees_
        names = det.tree_feature_names_
        if det.arch_ == "hybrid":
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
        h, inputs, lookup = det.history_, det.history_inputs(), det.history_index()
    else:
        h, known, _ = det.with_history(transactions)
        inputs = det.inputs_for(h, known)
        lookup = {str(k): i for i, k in enumerate(h.ids.tolist())}
    if txn_id not in lookup and (txn_id in set(h.src.tolist()) or txn_id in set(h.dst.tolist())):
        # an account or merchant id: explain its highest-scoring transaction
        rows = np.flatnonzero((h.src == txn_id) | (h.dst == txn_id))
        scores = det.score_rows(inputs, rows, h.ids[rows], reasons=False)
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
    score = det.score_rows(inputs, np.array([index]), np.array([txn_id], dtype=object), reasons=False)[0]
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
