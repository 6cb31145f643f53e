"""Strictly causal transaction features: time encodings, per-entity velocity, recency.

A transaction's features use only the transactions before it in the stream (earlier time,
or the same time and an earlier row): never itself, never anything later. The same numbers
come out of the vectorised batch path (``features_for``, O(n log n)) and the single-event
path (``EntityIndex.one``, O(log n)) used for online scoring; the tests check both the
causality and the agreement.

Without timestamps (``table.time is None``, e.g. YelpChi) the graph is static: the features
are structural (degrees, two-hop degree means) over the whole table, transductive by nature.

Example:
    >>> from deepseek_apps.apps.fraud.synthetic import generate_transactions
    >>> table = generate_transactions(500, seed=0)
    >>> x, names = features_for(table)
    >>> x.shape[0] == len(table)
    True
"""

from __future__ import annotations

import numpy as np

from .data import TransactionTable

WINDOWS = {"1h": 3600.0, "1d": 86400.0, "7d": 7 * 86400.0}
NEVER_S = 10 * 365 * 86400.0  # "seconds since the previous event" of a first event
DAY, WEEK = 86400.0, 7 * 86400.0
RECEIVED = ("recv_n_all", "recv_n_1d", "recv_amt_1d")


class EntityIndex:
    """Events grouped by entity key, in stream order within each entity.

    Args:
        keys: entity code per event (int64, 0..num_keys-1), events in stream order.
        time: event times (float64), nondecreasing; ``None`` for a static graph.
        amount: event amounts; ``None`` when there are none.
    """

    def __init__(self, keys: np.ndarray, time: np.ndarray | None, amount: np.ndarray | None, num_keys: int):
        n = len(keys)
        self.n = n
        self.order = np.lexsort((np.arange(n), keys))
        self.keys = keys[self.order]
        self.time = None if time is None else time[self.order]
        amt = np.zeros(n) if amount is None else np.abs(amount[self.order])
        self.csum = np.concatenate([[0.0], np.cumsum(amt)])
        self.starts = np.searchsorted(self.keys, np.arange(num_keys), side="left")
        self.ends = np.searchsorted(self.keys, np.arange(num_keys), side="right")
        if time is not None and n:
            self.t0 = float(self.time.min())
            self.scale = float(self.time.max() - self.t0) + max(WINDOWS.values()) + 1.0
            self.comp = self.keys * self.scale + (self.time - self.t0)

    def received(self, keys: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """Indexed events of entity ``keys[i]`` strictly before ``t[i]``: count and 1-day count, amount.

        Used for "the source recently received money" (mule chains): the index is over
        destinations, the queries are sources. ``t`` must lie within the indexed time span.
        """
        known = keys >= 0
        q = np.where(known, keys, 0) * self.scale + (t - self.t0)
        hi = np.searchsorted(self.comp, q, side="left")
        lo = np.searchsorted(self.comp, q - WINDOWS["1d"], side="left")
        start = self.starts[np.where(known, keys, 0)]
        lo = np.maximum(lo, start)
        return {
            "recv_n_all": np.where(known, hi - start, 0).astype(np.float64),
            "recv_n_1d": np.where(known, hi - lo, 0).astype(np.float64),
            "recv_amt_1d": np.where(known, self.csum[hi] - self.csum[lo], 0.0),
        }

    def received_one(self, key: int, t: float) -> dict[str, float]:
        """``received`` for one query after the indexed events (``key=-1``: never a destination)."""
        if key < 0:
            return {"recv_n_all": 0.0, "recv_n_1d": 0.0, "recv_amt_1d": 0.0}
        lo, hi = int(self.starts[key]), int(self.ends[key])
        times = self.time[lo:hi]
        end = lo + int(np.searchsorted(times, t, side="left"))
        first = lo + int(np.searchsorted(times, t - WINDOWS["1d"], side="left"))
        return {
            "recv_n_all": float(end - lo),
            "recv_n_1d": float(end - first),
            "recv_amt_1d": float(self.csum[end] - self.csum[first]),
        }

    def batch(self) -> dict[str, np.ndarray]:
        """Stats of every event over the events of its entity before it (original order)."""
        n = self.n
        pos = np.arange(n)
        start = self.starts[self.keys] if n else pos
        prior = pos - start
        out = {"n_all": prior.astype(np.float64)}
        out["mean_amt"] = np.where(prior > 0, (self.csum[pos] - self.csum[start]) / np.maximum(prior, 1), 0.0)
        if self.time is not None and n:
            t = self.time
            for name, w in WINDOWS.items():
                lo = np.searchsorted(self.comp, self.comp - w, side="left")
                out[f"n_{name}"] = (pos - lo).astype(np.float64)
                out[f"amt_{name}"] = self.csum[pos] - self.csum[lo]
            prev = np.where(prior > 0, t[np.maximum(pos - 1, 0)], np.nan)
            out["since_prev"] = np.where(prior > 0, t - prev, NEVER_S)
            out["age"] = t - t[start]
        back = np.empty(n, dtype=np.int64)
        back[self.order] = pos
        return {k: v[back] for k, v in out.items()}

    def one(self, key: int, t: float | None, amount: float) -> dict[str, float]:
        """Stats of one new event after every indexed event (``key=-1``: an unseen entity)."""
        if key < 0:
            lo = hi = 0
        else:
            lo, hi = int(self.starts[key]), int(self.ends[key])
        prior = hi - lo
        out = {"n_all": float(prior)}
        out["mean_amt"] = (self.csum[hi] - self.csum[lo]) / prior if prior else 0.0
        if self.time is not None:
            times = self.time[lo:hi]
            for name, w in WINDOWS.items():
                first = lo + int(np.searchsorted(times, t - w, side="left"))
                out[f"n_{name}"] = float(hi - first)
                out[f"amt_{name}"] = float(self.csum[hi] - self.csum[first])
            out["since_prev"] = float(t - times[-1]) if prior else NEVER_S
            out["age"] = float(t - times[0]) if prior else 0.0
        return out


def time_encoding(t: np.ndarray) -> list[np.ndarray]:
    """Hour-of-day and day-of-week as sine / cosine pairs of unix seconds ``t``."""
    hour = 2 * np.pi * (t % DAY) / DAY
    dow = 2 * np.pi * (t % WEEK) / WEEK
    return [np.sin(hour), np.cos(hour), np.sin(dow), np.cos(dow)]


def side_columns(stats: dict[str, np.ndarray], amount: np.ndarray | None, prefix: str, temporal: bool):
    """Feature columns (log-scaled) of one side (source or destination) from entity stats."""
    cols, names = [], []
    keys = ["n_all"] + ([f"n_{w}" for w in WINDOWS] if temporal else [])
    if amount is not None and temporal:
        keys += [f"amt_{w}" for w in WINDOWS]
    for k in keys:
        cols.append(np.log1p(np.asarray(stats[k], dtype=np.float64)))
        names.append(f"{prefix}_{k}")
    if temporal:
        cols += [np.log1p(np.asarray(stats["since_prev"])), np.log1p(np.asarray(stats["age"]))]
        names += [f"{prefix}_since_prev", f"{prefix}_age"]
    if amount is not None:
        ratio = np.where(np.asarray(stats["n_all"]) > 0, np.log1p(np.abs(amount)) - np.log1p(stats["mean_amt"]), 0.0)
        cols.append(ratio)
        names.append(f"{prefix}_amount_vs_mean")
    return cols, names


def encode(values: np.ndarray, vocab: dict[str, int] | None = None) -> tuple[np.ndarray, dict[str, int]]:
    """Integer codes of string ids (a new vocabulary when ``vocab`` is None; unseen ids -> -1)."""
    if vocab is None:
        uniq, codes = np.unique(values.astype(str), return_inverse=True)
        return codes.astype(np.int64), {u: i for i, u in enumerate(uniq.tolist())}
    return np.fromiter((vocab.get(v, -1) for v in values), dtype=np.int64, count=len(values)), vocab


def features_for(table: TransactionTable, channels: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """The feature matrix (float32) of every transaction in ``table`` and the feature names."""
    temporal = table.time is not None
    cols, names = head_columns(table)
    src, _ = encode(table.src)
    dst, _ = encode(table.dst)
    pair, _ = encode(pair_ids(table.src, table.dst))
    if temporal:
        sides = []
        for keys in (src, dst):
            index = EntityIndex(keys, table.time, table.amount, int(keys.max()) + 1 if len(keys) else 0)
            sides.append(index.batch())
        _, dst_vocab = encode(table.dst)
        recv = index.received(encode(table.src, dst_vocab)[0], table.time)
        pair_prior = EntityIndex(pair, table.time, None, int(pair.max()) + 1 if len(pair) else 0).batch()["n_all"]
        c, nm = stream_columns(table.amount, sides[0], sides[1], recv, pair_prior)
    else:
        c, nm = structural_columns(src, dst, pair)
    cols += c
    names += nm
    c, nm = tail_columns(table, channels)
    x = np.stack(cols + c, axis=1).astype(np.float32) if cols + c else np.zeros((len(table), 0), np.float32)
    return x, names + nm


def pair_ids(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """One string per (source, destination) pair: the key of the pair features."""
    return np.char.add(np.char.add(src.astype(str), "\x1f"), dst.astype(str))


def stream_columns(amount, src_stats: dict, dst_stats: dict, recv: dict, pair_prior: np.ndarray):
    """The per-entity columns of a timed stream from the stats of each row's source, destination and pair.

    ``src_stats`` / ``dst_stats`` are ``EntityIndex.batch`` dicts, ``recv`` ``EntityIndex.received``'s,
    ``pair_prior`` the pair's earlier-event count; the full rebuild and the incremental path
    (``incremental.py``) both assemble their columns here.
    """
    cols: list[np.ndarray] = []
    names: list[str] = []
    for prefix, stats in (("src", src_stats), ("dst", dst_stats)):
        c, nm = side_columns(stats, amount, prefix, True)
        cols += c
        names += nm
    cols += [np.log1p(recv[k]) for k in RECEIVED]
    names += [f"src_{k}" for k in RECEIVED]
    cols += [np.log1p(pair_prior), (pair_prior == 0).astype(np.float64)]
    names += ["pair_n_all", "pair_new"]
    return cols, names


def head_columns(table: TransactionTable) -> tuple[list[np.ndarray], list[str]]:
    """Time encodings and the log amount of each row."""
    cols: list[np.ndarray] = []
    names: list[str] = []
    if table.time is not None:
        cols += time_encoding(table.time)
        names += ["hour_sin", "hour_cos", "dow_sin", "dow_cos"]
    if table.amount is not None:
        cols.append(np.log1p(np.abs(table.amount)))
        names.append("log_amount")
    return cols, names


def tail_columns(table: TransactionTable, channels: list[str] | None) -> tuple[list[np.ndarray], list[str]]:
    """Channel indicators and the table's extra numeric columns."""
    cols: list[np.ndarray] = []
    names: list[str] = []
    if table.channel is not None and channels:
        for ch in channels:
            cols.append((table.channel == ch).astype(np.float64))
            names.append(f"channel={ch}")
    for k, v in table.extra.items():
        cols.append(v.astype(np.float64))
        names.append(k)
    return cols, names


def structural_columns(src: np.ndarray, dst: np.ndarray, pair: np.ndarray):
    """Static-graph features: degrees, pair multiplicity and two-hop degree means (whole table)."""
    ds = np.bincount(src).astype(np.float64)
    dd = np.bincount(dst).astype(np.float64)
    dp = np.bincount(pair).astype(np.float64)
    src_mean_dst = np.bincount(src, weights=np.log1p(dd[dst])) / np.maximum(ds, 1)
    dst_mean_src = np.bincount(dst, weights=np.log1p(ds[src])) / np.maximum(dd, 1)
    cols = [
        np.log1p(ds[src]),
        np.log1p(dd[dst]),
        np.log1p(dp[pair]),
        src_mean_dst[src],
        dst_mean_src[dst],
        np.log1p(np.bincount(src, weights=1.0 / dd[dst])[src]),
    ]
    names = ["src_degree", "dst_degree", "pair_count", "src_mean_dst_degree", "dst_mean_src_degree", "src_share_of_dst"]
    return cols, names


def label_rate_columns(
    src: np.ndarray, dst: np.ndarray, label: np.ndarray, known: np.ndarray, folds: int = 5, seed: int = 0
) -> tuple[np.ndarray, list[str]]:
    """Out-of-fold fraud rates of each row's source and destination (the "label trick").

    Rows with a known label are split into ``folds`` random folds; a row's rate counts only
    labelled rows of other folds, so its own label (and its fold's) never reaches its
    features. Rows without a known label use every labelled row. Leave-one-out would leak:
    trees decode the count shift (see ``../shared/data/README.md``).
    """
    rng = np.random.default_rng(seed)
    fold = np.full(len(src), -1)
    idx = np.flatnonzero(known)
    fold[idx] = rng.permutation(len(idx)) % folds
    y = np.where(known, label, 0.0)
    total_pos, total_cnt = float(y[known].sum()), float(known.sum())
    prior = np.full(len(src), total_pos / max(total_cnt, 1.0))
    for f in range(folds):  # the smoothing prior of a fold's rows leaves that fold out too
        in_f = fold == f
        prior[in_f] = (total_pos - y[in_f].sum()) / max(total_cnt - in_f.sum(), 1.0)
    cols = []
    for keys in (src, dst):
        n_keys = int(keys.max()) + 1
        pos_all = np.bincount(keys[known], weights=y[known], minlength=n_keys)
        cnt_all = np.bincount(keys[known], minlength=n_keys).astype(np.float64)
        pos = pos_all[keys].copy()
        cnt = cnt_all[keys].copy()
        for f in range(folds):
            in_f = fold == f
            pos_f = np.bincount(keys[in_f], weights=y[in_f], minlength=n_keys)
            cnt_f = np.bincount(keys[in_f], minlength=n_keys).astype(np.float64)
            pos[in_f] -= pos_f[keys[in_f]]
            cnt[in_f] -= cnt_f[keys[in_f]]
        cols += [(pos + prior * 2) / (cnt + 2), np.log1p(cnt)]
    names = ["src_label_rate", "src_labelled", "dst_label_rate", "dst_labelled"]
    return np.stack(cols, axis=1).astype(np.float32), names
