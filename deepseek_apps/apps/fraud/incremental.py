"""New transactions scored after a timed history, in time proportional to the batch, not to the history.

``rebuild_after_history`` is the reference: history and batch concatenated, every feature and
the whole graph rebuilt (O(history) per call). ``incremental_after_history`` gives the same
inputs for the rows that matter from per-entity indexes of the history, built once
(``HistoryState``, cached on the detector):

- the batch rows' causal features come from their entities' earlier events (history block +
  earlier batch rows), with the rebuild's own arithmetic: entity codes of the combined
  vocabulary, the same time origin and key stride, so every window boundary falls exactly
  where the rebuild puts it; only running sums are taken over shorter prefixes (float64,
  cast to float32 afterwards), which is where a difference of a few ulps can come from;
- the GNN's inputs: the temporal sampler ("recent") reaches each entity's latest ``k``
  events, so the graph holds the batch plus, for every entity it touches, its latest ``k``
  history rows (hop by hop); node ids keep their order, so the sampler picks the same
  neighbours in the same order and the GNN sees the same tensors;
- label features and tree neighbour means of the batch rows come from per-entity sums.

Untimed models (static graphs) have whole-table features and a full-graph GNN: they keep the
rebuild.

Example:
    >>> table, inputs, index = incremental_after_history(detector, new_rows)  # doctest: +SKIP
    >>> detector.score_rows(inputs, index, table.ids[index])  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import TransactionTable
from .features import (
    NEVER_S,
    WINDOWS,
    EntityIndex,
    head_columns,
    pair_ids,
    stream_columns,
    tail_columns,
)
from .pipeline import Inputs, entity_graph, entity_matrix


def rebuild_after_history(det, new: TransactionTable) -> tuple[TransactionTable, Inputs, np.ndarray]:
    """The reference path: inputs of history + ``new`` rebuilt from scratch; the new rows' index."""
    both, known, index = det.with_history(new)
    return both, det.inputs_for(both, known), index


@dataclass
class Role:
    """One entity role (source, destination or pair) of the history: vocabulary, codes, index."""

    uniq: np.ndarray  # sorted entity ids (str)
    codes: np.ndarray  # code of each history row
    index: EntityIndex  # history rows grouped by code, in stream order
    back: np.ndarray  # position of each history row in ``index``

    @classmethod
    def of(cls, ids: np.ndarray, time: np.ndarray, amount: np.ndarray | None) -> Role:
        uniq, codes = np.unique(ids.astype(str), return_inverse=True)
        codes = codes.astype(np.int64)
        index = EntityIndex(codes, time, amount, len(uniq))
        back = np.empty(len(codes), dtype=np.int64)
        back[index.order] = np.arange(len(codes))
        return cls(uniq, codes, index, back)

    def lookup(self, ids: np.ndarray) -> np.ndarray:
        """History code of each id (-1: not in the history)."""
        at = np.searchsorted(self.uniq, ids)
        hit = at < len(self.uniq)
        hit[hit] = self.uniq[at[hit]] == ids[hit]
        return np.where(hit, at, -1)

    def block(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[start, end) of each code's events in ``index`` (empty for -1)."""
        ok = codes >= 0
        c = np.where(ok, codes, 0)
        return np.where(ok, self.index.starts[c], 0), np.where(ok, self.index.ends[c], 0)

    def tail(self, codes: np.ndarray, k: int) -> np.ndarray:
        """History rows of the latest ``k`` events of each code (every event when ``k < 0``)."""
        start, end = self.block(np.unique(codes[codes >= 0]))
        lo = start if k < 0 else np.maximum(start, end - k)
        take = end - lo
        pos = np.repeat(lo - (np.cumsum(take) - take), take) + np.arange(int(take.sum()))
        return self.index.order[pos]


@dataclass
class StreamIndex:
    """Source, destination and pair indexes of a timed history: what the causal features of later rows need.

    Built once, O(n log n); ``stream_after`` reads it. The entity task keeps one over its
    fitted transaction log (``entities/after_log.py``).
    """

    src: Role
    dst: Role
    pair: Role
    t_min: float  # numpy float64, as the rebuild's min / max
    t_max: float

    @classmethod
    def of(cls, table: TransactionTable) -> StreamIndex:
        return cls(
            Role.of(table.src, table.time, table.amount),
            Role.of(table.dst, table.time, table.amount),
            Role.of(pair_ids(table.src, table.dst), table.time, None),
            table.time.min(),
            table.time.max(),
        )


class HistoryState:
    """Per-entity indexes and sums of a fitted detector's timed history (built once, O(n log n)).

    Shared by ``incremental_after_history`` and the online scorer.
    """

    def __init__(self, det):
        h = det.history_
        inputs = det.history_inputs()
        index = StreamIndex.of(h)
        self.src, self.dst, self.pair, self.t_min, self.t_max = (
            index.src,
            index.dst,
            index.pair,
            index.t_min,
            index.t_max,
        )
        self.n_base = len([n for n in inputs.names if not n.endswith(("_label_rate", "_labelled"))])
        self.sums = [_sums(r.codes, inputs.x[:, : self.n_base], len(r.uniq)) for r in (self.src, self.dst)]
        if det.label_features_:  # the out-of-fold rates of a row in no fold: every labelled row
            known = det.known_
            y = np.where(known, np.nan_to_num(h.label, nan=0.0), 0.0)
            self.total_pos, self.total_cnt = float(y[known].sum()), float(known.sum())
            self.rates = [
                (
                    np.bincount(r.codes[known], weights=y[known], minlength=len(r.uniq)),
                    np.bincount(r.codes[known], minlength=len(r.uniq)).astype(np.float64),
                )
                for r in (self.src, self.dst)
            ]


def _sums(keys: np.ndarray, x: np.ndarray, n_keys: int) -> np.ndarray:
    out = np.zeros((n_keys, x.shape[1]))
    np.add.at(out, keys, x.astype(np.float64))
    return out


class _Combined:
    """Codes of one role in the vocabulary of history + batch (what the rebuild's ``encode`` gives)."""

    def __init__(self, role: Role, batch_ids: np.ndarray):
        self.role = role
        ids = np.unique(batch_ids)
        self.extra = ids[role.lookup(ids) < 0]  # batch-only ids, sorted

    def of_ids(self, ids: np.ndarray) -> np.ndarray:
        """Combined code of each id (-1: in neither the history nor the batch)."""
        code = np.searchsorted(self.role.uniq, ids) + np.searchsorted(self.extra, ids)
        at = np.searchsorted(self.extra, ids)
        in_extra = at < len(self.extra)
        in_extra[in_extra] = self.extra[at[in_extra]] == ids[in_extra]
        return np.where((self.role.lookup(ids) >= 0) | in_extra, code, -1)

    def of_codes(self, codes: np.ndarray) -> np.ndarray:
        """Combined code of history codes (-1 stays -1)."""
        ok = codes >= 0
        shift = np.searchsorted(self.extra, self.role.uniq[np.where(ok, codes, 0)])
        return np.where(ok, codes + shift, -1)


class _Batch:
    """The batch's events of one role grouped by entity (its own small ``EntityIndex``)."""

    def __init__(self, ids: np.ndarray, time: np.ndarray, amount: np.ndarray | None):
        self.uniq, codes = np.unique(ids, return_inverse=True)
        self.index = EntityIndex(codes.astype(np.int64), time, amount, len(self.uniq))
        self.pos = np.empty(len(ids), dtype=np.int64)
        self.pos[self.index.order] = np.arange(len(ids))
        self.start = self.index.starts[codes]

    def block(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[start, end) of each id's batch events (empty where it has none)."""
        at = np.minimum(np.searchsorted(self.uniq, ids), len(self.uniq) - 1)
        hit = self.uniq[at] == ids
        return np.where(hit, self.index.starts[at], 0), np.where(hit, self.index.ends[at], 0)


def _first_at_least(times: np.ndarray, t0: float, base: np.ndarray, q: np.ndarray, lo, hi) -> np.ndarray:
    """First j in [lo, hi) with ``base + (times[j] - t0) >= q`` (``hi`` if none): the rebuild's key test."""
    lo, hi = lo.copy(), hi.copy()
    last = max(len(times) - 1, 0)
    while True:
        active = lo < hi
        if not active.any() or len(times) == 0:
            return lo
        mid = (lo + hi) >> 1
        ok = base + (times[np.minimum(mid, last)] - t0) >= q
        hi = np.where(active & ok, mid, hi)
        lo = np.where(active & ~ok, mid + 1, lo)


def _at(values: np.ndarray, i: np.ndarray) -> np.ndarray:
    return values[np.clip(i, 0, max(len(values) - 1, 0))] if len(values) else np.zeros(len(i))


def _prior_stats(t, base, t0, hist: EntityIndex, hs, he, batch: EntityIndex, bs, be) -> dict[str, np.ndarray]:
    """``EntityIndex.batch``'s stats of events whose earlier events are history [hs, he) + batch [bs, be)."""
    n_h, n_b = he - hs, be - bs
    prior = n_h + n_b
    hc, bc = hist.csum, batch.csum
    out = {"n_all": prior.astype(np.float64)}
    total = (hc[he] - hc[hs]) + (bc[be] - bc[bs])
    out["mean_amt"] = np.where(prior > 0, total / np.maximum(prior, 1), 0.0)
    comp = base + (t - t0)
    for name, w in WINDOWS.items():
        q = comp - w
        lh = _first_at_least(hist.time, t0, base, q, hs, he)
        lb = _first_at_least(batch.time, t0, base, q, bs, be)
        out[f"n_{name}"] = ((he - lh) + (be - lb)).astype(np.float64)
        out[f"amt_{name}"] = (hc[he] - hc[lh]) + (bc[be] - bc[lb])
    prev = np.where(n_b > 0, _at(batch.time, be - 1), np.where(n_h > 0, _at(hist.time, he - 1), np.nan))
    out["since_prev"] = np.where(prior > 0, t - prev, NEVER_S)
    out["age"] = t - np.where(n_h > 0, _at(hist.time, hs), np.where(n_b > 0, _at(batch.time, bs), t))
    return out


def reach(state: HistoryState, src_codes: np.ndarray, dst_codes: np.ndarray, num_neighbors) -> np.ndarray:
    """History rows the temporal sampler can reach from new rows of these accounts and merchants (sorted).

    Hop by hop as ``TemporalSampler`` walks: a transaction reaches its account and merchant,
    an account or merchant its latest ``k`` transactions up to the seed (for a seed after the
    history: its latest ``k`` history rows and the batch's own). Taking those for every seed
    at once is a superset of what each seed reaches, and the latest ``k`` of a superset that
    holds the true latest ``k`` are the true latest ``k``.
    """
    rows = np.zeros(0, dtype=np.int64)
    acc, mer = src_codes, dst_codes
    for hop, k in enumerate(num_neighbors):
        if hop % 2 == 0:  # a transaction -> its account and merchant
            if k == 0:
                break
            if hop:
                acc = np.concatenate([src_codes, state.src.codes[rows]])
                mer = np.concatenate([dst_codes, state.dst.codes[rows]])
        else:  # an account / a merchant -> its latest k transactions
            rows = np.union1d(rows, np.concatenate([state.src.tail(acc, int(k)), state.dst.tail(mer, int(k))]))
    return rows


def _time_frame(state: StreamIndex | HistoryState, new: TransactionTable) -> tuple[float, float]:
    """The rebuild's time origin and key stride (``EntityIndex``'s ``t0`` / ``scale`` over history + batch)."""
    t0 = float(min(state.t_min, new.time.min()))
    return t0, float(max(state.t_max, new.time.max()) - t0) + max(WINDOWS.values()) + 1.0


def _side(role: Role, batch: _Batch, comb: _Combined, rows, batch_ids, t, t0, scale):
    """``EntityIndex.batch`` stats of history rows ``rows`` then every batch row, for one role."""
    hk_h, hk_b = role.codes[rows], role.lookup(batch_ids)
    hs_h, _ = role.block(hk_h)
    hs_b, he_b = role.block(hk_b)
    zero = np.zeros(len(rows), dtype=np.int64)
    base = np.concatenate([comb.of_codes(hk_h), comb.of_ids(batch_ids)]) * scale
    hs, he = np.concatenate([hs_h, hs_b]), np.concatenate([role.back[rows], he_b])
    bs, be = np.concatenate([zero, batch.start]), np.concatenate([zero, batch.pos])
    return _prior_stats(t, base, t0, role.index, hs, he, batch.index, bs, be)


def _prior_count(role: Role, batch: _Batch, rows: np.ndarray, batch_ids: np.ndarray) -> np.ndarray:
    """Earlier events of each row's entity: history rows ``rows`` then every batch row."""
    hs_h, _ = role.block(role.codes[rows])
    hs_b, he_b = role.block(role.lookup(batch_ids))
    n_h = np.concatenate([role.back[rows] - hs_h, he_b - hs_b])
    n_b = np.concatenate([np.zeros(len(rows), dtype=np.int64), batch.pos - batch.start])
    return (n_h + n_b).astype(np.float64)


def _received(
    state: StreamIndex | HistoryState, batch: _Batch, comb: _Combined, src_ids, t, t0, scale
) -> dict[str, np.ndarray]:
    """``EntityIndex.received``: what each row's source received (as a destination) before it."""
    key = comb.of_ids(src_ids)
    known = key >= 0
    base = np.where(known, key, 0) * scale
    q = base + (t - t0)
    hs, he = state.dst.block(state.dst.lookup(src_ids))
    bs, be = batch.block(src_ids)
    hist, b = state.dst.index, batch.index
    hi_h, lo_h = (_first_at_least(hist.time, t0, base, v, hs, he) for v in (q, q - WINDOWS["1d"]))
    hi_b, lo_b = (_first_at_least(b.time, t0, base, v, bs, be) for v in (q, q - WINDOWS["1d"]))
    amt = (hist.csum[hi_h] - hist.csum[lo_h]) + (b.csum[hi_b] - b.csum[lo_b])
    return {
        "recv_n_all": np.where(known, (hi_h - hs) + (hi_b - bs), 0).astype(np.float64),
        "recv_n_1d": np.where(known, (hi_h - lo_h) + (hi_b - lo_b), 0).astype(np.float64),
        "recv_amt_1d": np.where(known, amt, 0.0),
    }


def _neighbour_means(state: HistoryState, side: int, hk: np.ndarray, batch: _Batch, x_new: np.ndarray):
    """``neighbour_means`` of the batch rows: their entity's history rows and earlier batch rows."""
    role = (state.src, state.dst)[side]
    hs, he = role.block(hk)
    xs = x_new[batch.index.order].astype(np.float64)
    csum = np.vstack([np.zeros((1, xs.shape[1])), np.cumsum(xs, axis=0)])
    hist_sum = np.where((hk >= 0)[:, None], state.sums[side][np.maximum(hk, 0)], 0.0)
    total = hist_sum + (csum[batch.pos] - csum[batch.start])
    count = (he - hs) + (batch.pos - batch.start)
    return (total / np.maximum(count, 1)[:, None]).astype(np.float32)


def _label_columns(state: HistoryState, hk: list[np.ndarray]) -> np.ndarray:
    """``label_rate_columns`` of rows in no fold (new rows): rates over every labelled history row."""
    prior = state.total_pos / max(state.total_cnt, 1.0)
    cols = []
    for (pos_all, cnt_all), codes in zip(state.rates, hk):
        ok = codes >= 0
        pos = np.where(ok, pos_all[np.maximum(codes, 0)], 0.0)
        cnt = np.where(ok, cnt_all[np.maximum(codes, 0)], 0.0)
        cols += [(pos + prior * 2) / (cnt + 2), np.log1p(cnt)]
    return np.stack(cols, axis=1).astype(np.float32)


def stream_after(index: StreamIndex | HistoryState, rows: np.ndarray, sub: TransactionTable, ids=None):
    """``stream_columns`` of ``sub`` (history rows ``rows``, then a batch after the history) as a rebuild gives them.

    The batch is the last ``len(sub) - len(rows)`` rows of ``sub``; ``ids`` its source,
    destination and pair ids (computed when ``None``). Returns the columns, their names and
    the batch's events grouped per role (``src`` / ``dst`` / ``pair``).
    """
    new = sub.take(np.arange(len(rows), len(sub)))
    if ids is None:
        ids = {"src": new.src.astype(str), "dst": new.dst.astype(str), "pair": pair_ids(new.src, new.dst)}
    roles = {"src": index.src, "dst": index.dst, "pair": index.pair}
    t0, scale = _time_frame(index, new)
    batches = {r: _Batch(ids[r], new.time, None if r == "pair" else new.amount) for r in roles}
    comb = {r: _Combined(roles[r], ids[r]) for r in ("src", "dst")}
    stats = [_side(roles[r], batches[r], comb[r], rows, ids[r], sub.time, t0, scale) for r in ("src", "dst")]
    src_all = np.concatenate([index.src.uniq[index.src.codes[rows]], ids["src"]])
    recv = _received(index, batches["dst"], comb["dst"], src_all, sub.time, t0, scale)
    pair_prior = _prior_count(index.pair, batches["pair"], rows, ids["pair"])
    cols, names = stream_columns(sub.amount, stats[0], stats[1], recv, pair_prior)
    return cols, names, batches


def incremental_after_history(det, transactions) -> tuple[TransactionTable, Inputs, np.ndarray]:
    """``rebuild_after_history``'s inputs of the rows that matter, from the cached ``HistoryState``.

    Returns the table of those rows (the history rows the GNN reaches, in stream order, then
    the new ones), its inputs and the index of the new rows in it (in the new table's order).
    """
    new = det.new_rows(transactions)
    h, state, hist_inputs = det.history_, det.history_state(), det.history_inputs()
    ids = {"src": new.src.astype(str), "dst": new.dst.astype(str), "pair": pair_ids(new.src, new.dst)}
    roles = {"src": state.src, "dst": state.dst, "pair": state.pair}
    hk = {r: roles[r].lookup(ids[r]) for r in roles}
    rows = reach(state, hk["src"], hk["dst"], det.gnn_config_.num_neighbors)
    hist = h.take(rows)
    if hist.label is None:
        hist.label = np.full(len(rows), np.nan, dtype=np.float32)
    sub = hist.concat(new)
    cols, names = head_columns(sub)
    c, nm, batches = stream_after(state, rows, sub, ids)
    c2, nm2 = tail_columns(sub, det.channels_)
    x = np.stack(cols + c + c2, axis=1).astype(np.float32)
    names = names + nm + nm2
    n_h, x_new = len(rows), x[len(rows) :]
    if det.label_features_:
        lab = np.vstack([hist_inputs.x[rows, x.shape[1] :], _label_columns(state, [hk["src"], hk["dst"]])])
        x = np.hstack([x, lab])
        names = names + det.feature_names_[len(names) :]
    means = [_neighbour_means(state, i, hk[r], batches[r], x_new) for i, r in enumerate(("src", "dst"))]
    ent = [entity_matrix(new.src, det.entities_.get("account")), entity_matrix(new.dst, det.entities_.get("merchant"))]
    x_tree = np.vstack([hist_inputs.x_tree[rows], np.hstack([x[n_h:], *means, *ent]).astype(np.float32)])
    graph = entity_graph(sub, x, det.entities_)
    return sub, Inputs(x, x_tree, names, det.tree_feature_names_, graph), np.arange(n_h, len(sub))
