"""Online scoring of one new transaction in O(k + log n), without rebuilding anything.

For a transaction arriving after the model's history: its causal features come from
per-entity indexes (``EntityIndex.one``), its tree features from per-entity running sums,
its GNN neighbourhood from the latest ``k - 1`` transactions of its account and of its
merchant (plus itself), exactly the subgraph ``TemporalSampler`` ("recent") gives the same
transaction in batch scoring. The tests check the online and batch scores agree.

Example:
    >>> detector.score_one({"transaction_id": "x1", "source": "a12", "destination": "m3",
    ...                     "timestamp": 1_705_000_000, "amount": 42.0})  # doctest: +SKIP
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from ...errors import ErrorCode, InvalidInputError
from .blend import blend
from .data import parse_amounts, parse_timestamps
from .features import RECEIVED, side_columns, time_encoding
from .pipeline import entity_matrix
from .results import FraudScore, Reason
from .trees import contributions, predict_trees


class OnlineScorer:
    """The per-entity state of a fitted detector, for scoring single transactions fast."""

    def __init__(self, det):
        h = det.history_
        self.det = det
        state = det.history_state()  # the indexes batch scoring after the history uses too
        self.src_vocab, self.dst_vocab, self.pair_vocab = (
            {u: i for i, u in enumerate(r.uniq.tolist())} for r in (state.src, state.dst, state.pair)
        )
        self.t_max = float(h.time.max())
        self.src_index, self.dst_index, self.pair_index = state.src.index, state.dst.index, state.pair.index
        inputs = det.history_inputs()
        self.x = inputs.x
        self.x_torch = torch.from_numpy(inputs.x)
        self.n_base = state.n_base
        self.src_sum, self.dst_sum = state.sums
        self.k = det.gnn_config_.num_neighbors[-1]
        self.entities = {kind: det.entities_.get(kind) for kind in ("account", "merchant")}
        if det.label_features_:
            known = det.known_
            self.prior = float(np.nan_to_num(h.label, nan=0.0)[known].mean())
            self.rates = state.rates

    def features(self, src: str, dst: str, t: float, amount: float, channel: str | None, extra: dict) -> np.ndarray:
        """The GNN input row of one new transaction (same columns as ``features_for``)."""
        s, d = self.src_vocab.get(src, -1), self.dst_vocab.get(dst, -1)
        p = self.pair_vocab.get(f"{src}\x1f{dst}", -1)
        amt = np.array([amount])
        cols = [c[0] for c in time_encoding(np.array([t]))] + [float(np.log1p(abs(amount)))]
        for prefix, index, key in (("src", self.src_index, s), ("dst", self.dst_index, d)):
            stats = {k: np.array([v]) for k, v in index.one(key, t, amount).items()}
            cols += [float(c[0]) for c in side_columns(stats, amt, prefix, True)[0]]
        recv = self.dst_index.received_one(self.dst_vocab.get(src, -1), t)
        cols += [float(np.log1p(recv[k])) for k in RECEIVED]
        pair_prior = self.pair_index.one(p, t, 0.0)["n_all"]
        cols += [float(np.log1p(pair_prior)), float(pair_prior == 0)]
        cols += [float(channel == c) for c in self.det.channels_]
        cols += [float(extra[k]) for k in self.det.history_.extra]
        if self.det.label_features_:
            for (pos, cnt), key in zip(self.rates, (s, d)):
                pk, ck = (pos[key], cnt[key]) if key >= 0 else (0.0, 0)
                cols += [(pk + 2 * self.prior) / (ck + 2), float(np.log1p(ck))]
        return np.asarray(cols, dtype=np.float32)

    def entity_row(self, kind: str, entity_id: str) -> np.ndarray:
        return entity_matrix(np.array([entity_id], dtype=object), self.entities[kind])[0]

    def tree_row(self, x: np.ndarray, src: str, dst: str) -> np.ndarray:
        parts = [x]
        for vocab, sums, index in (
            (self.src_vocab, self.src_sum, self.src_index),
            (self.dst_vocab, self.dst_sum, self.dst_index),
        ):
            key = vocab.get(src if sums is self.src_sum else dst, -1)
            n = int(index.ends[key] - index.starts[key]) if key >= 0 else 0
            parts.append((sums[key] / n).astype(np.float32) if n else np.zeros(self.n_base, np.float32))
        parts += [self.entity_row("account", src), self.entity_row("merchant", dst)]
        return np.concatenate(parts)[None, :]

    def subgraph(self, x: np.ndarray, src: str, dst: str):
        """x_dict / edge_index_dict of the new transaction's 2-hop neighbourhood."""
        nbrs = []
        for vocab, index, key in ((self.src_vocab, self.src_index, src), (self.dst_vocab, self.dst_index, dst)):
            code = vocab.get(key, -1)
            if code < 0 or self.k == 0:
                nbrs.append(np.zeros(0, dtype=np.int64))
            else:
                lo, hi = int(index.starts[code]), int(index.ends[code])
                nbrs.append(index.order[max(lo, hi - (self.k - 1)) : hi])
        uniq, inv = np.unique(np.concatenate(nbrs), return_inverse=True)
        acc_local = torch.from_numpy(inv[: len(nbrs[0])] + 1)
        mer_local = torch.from_numpy(inv[len(nbrs[0]) :] + 1)
        x_txn = torch.cat([torch.from_numpy(x)[None, :], self.x_torch[torch.from_numpy(uniq)]])
        zero = torch.zeros(1, dtype=torch.long)
        made_by = torch.cat([zero, acc_local])
        paid_to = torch.cat([zero, mer_local])
        x_dict = {
            "txn": x_txn,
            "account": torch.from_numpy(np.r_[1.0, self.entity_row("account", src)].astype(np.float32))[None, :],
            "merchant": torch.from_numpy(np.r_[1.0, self.entity_row("merchant", dst)].astype(np.float32))[None, :],
        }
        edges = {
            ("account", "makes", "txn"): torch.stack([zero, zero]),
            ("merchant", "receives", "txn"): torch.stack([zero, zero]),
            ("txn", "made_by", "account"): torch.stack([made_by, torch.zeros_like(made_by)]),
            ("txn", "paid_to", "merchant"): torch.stack([paid_to, torch.zeros_like(paid_to)]),
        }
        return x_dict, edges, uniq

    def score(self, txn: dict[str, Any]) -> FraudScore:
        t0 = time.perf_counter()
        det = self.det
        missing = [c for c in ("source", "destination", "timestamp", "amount") if c not in txn]
        missing += [k for k in det.history_.extra if k not in txn]
        if missing:
            raise InvalidInputError(
                ErrorCode.FRAUD_MISSING_COLUMN, f"transaction lacks {missing}", value=sorted(txn), hint="add the fields"
            )
        t = float(parse_timestamps([txn["timestamp"]])[0])
        amount = float(parse_amounts([txn["amount"]], det.max_amount, det.allow_negative_amounts)[0])
        src, dst = str(txn["source"]), str(txn["destination"])
        t = max(t, self.t_max)  # documented: an earlier time than the history is scored as the latest
        x = self.features(src, dst, t, amount, txn.get("channel"), txn)
        m = det.arch_
        x_tree = self.tree_row(x, src, dst)
        if m != "trees":
            x_dict, edges, _ = self.subgraph(x, src, dst)
            with torch.no_grad():
                if m == "hybrid":
                    x_tree = np.hstack([x_tree, det.gnn_.embed(x_dict, edges)[:1].numpy()])
                else:
                    score = float(torch.sigmoid(det.gnn_(x_dict, edges))[0])
        booster = det.hybrid_ if m == "hybrid" else det.trees_
        if m in ("trees", "hybrid"):
            score = float(predict_trees(booster, x_tree)[0])
        elif m == "blend":
            score = float(blend(np.array([score]), predict_trees(booster, x_tree), det.blend_weight_)[0])
        contrib = contributions(booster, x_tree)[0, :-1]
        names = det.tree_feature_names_ + [f"gnn_emb{i}" for i in range(x_tree.shape[1] - len(det.tree_feature_names_))]
        order = np.argsort(-contrib)[: det.top_reasons]
        reasons = [Reason(names[j], float(x_tree[0, j]), float(contrib[j])) for j in order if contrib[j] > 0]
        tid = str(txn.get("transaction_id", "online"))
        ms = (time.perf_counter() - t0) * 1000
        return FraudScore(tid, score, score >= det.threshold_, det.threshold_, reasons, model=m, latency_ms=ms)
