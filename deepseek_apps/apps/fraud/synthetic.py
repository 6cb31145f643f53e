"""A seeded generator of transaction streams: legitimate behaviour plus four fraud patterns.

- legitimate: accounts with Zipf-like activity, a daytime rhythm, favourite merchants,
  merchant-specific log-normal amounts;
- collusion rings: a handful of accounts paying the same few colluding merchants, large
  amounts, over a few days;
- account takeover bursts: an established account suddenly pays many new merchants within
  an hour, amounts far above its habit;
- mule chains: money hops account -> account -> account within hours, then out to a merchant;
- card testing: a stolen card makes dozens of tiny payments at one or two merchants in minutes.

Every fraudulent transaction is labelled 1 and carries its pattern name in ``pattern``.

Example:
    >>> table = generate_transactions(2_000, seed=0)
    >>> len(table), 0.0 < float(table.label.mean()) < 0.2
    (2000, True)
"""

from __future__ import annotations

import numpy as np

from .data import TransactionTable

PATTERNS = ("legit", "collusion_ring", "account_takeover", "mule_chain", "card_testing")
CHANNELS = ("card", "online", "transfer")
DAYS = 60


def _legit(n: int, rng: np.random.Generator, n_acc: int, n_mer: int):
    acc_w = rng.pareto(1.5, n_acc) + 1
    mer_pop = rng.pareto(1.2, n_mer) + 1
    mer_mu = rng.normal(3.2, 0.8, n_mer)
    fav = rng.choice(n_mer, size=(n_acc, 3), p=mer_pop / mer_pop.sum())
    acc = rng.choice(n_acc, size=n, p=acc_w / acc_w.sum())
    mer = np.where(
        rng.random(n) < 0.7, fav[acc, rng.integers(0, 3, n)], rng.choice(n_mer, n, p=mer_pop / mer_pop.sum())
    )
    day = rng.integers(0, DAYS, n)
    hour = np.clip(rng.normal(14, 4, n), 0, 23.99)
    t = day * 86400.0 + hour * 3600.0
    amount = np.round(np.exp(rng.normal(mer_mu[mer], 0.6)), 2)
    channel = rng.choice(3, n, p=[0.6, 0.3, 0.1])
    return [f"a{a}" for a in acc], [f"m{m}" for m in mer], t, amount, channel


def _rings(k: int, rng, n_acc: int, n_mer: int):
    src, dst, t, amt = [], [], [], []
    while len(src) < k:
        members = rng.choice(n_acc, rng.integers(4, 9), replace=False)
        shops = rng.choice(n_mer, rng.integers(2, 4), replace=False)
        start = rng.uniform(0, (DAYS - 4) * 86400)
        m = int(rng.integers(12, 30))
        src += [f"a{a}" for a in rng.choice(members, m)]
        dst += [f"m{s}" for s in rng.choice(shops, m)]
        t += list(start + rng.uniform(0, 3 * 86400, m))
        amt += list(np.round(np.exp(rng.normal(6.0, 0.4, m)), 2))
    return src[:k], dst[:k], t[:k], amt[:k], [0] * k


def _takeovers(k: int, rng, n_acc: int, n_mer: int):
    src, dst, t, amt = [], [], [], []
    while len(src) < k:
        a = int(rng.integers(n_acc))
        start = rng.uniform(10 * 86400, (DAYS - 1) * 86400)
        m = int(rng.integers(5, 15))
        src += [f"a{a}"] * m
        dst += [f"m{s}" for s in rng.choice(n_mer, m)]
        t += list(start + np.sort(rng.uniform(0, 3600, m)))
        amt += list(np.round(np.exp(rng.normal(5.5, 0.5, m)), 2))
    return src[:k], dst[:k], t[:k], amt[:k], [1] * k


def _mules(k: int, rng, n_acc: int, n_mer: int):
    src, dst, t, amt = [], [], [], []
    while len(src) < k:
        chain = [int(x) for x in rng.choice(n_acc, int(rng.integers(3, 6)), replace=False)]
        now = rng.uniform(0, (DAYS - 1) * 86400)
        value = float(np.exp(rng.normal(7.0, 0.3)))
        for a, b in zip(chain[:-1], chain[1:]):
            src.append(f"a{a}")
            dst.append(f"a{b}")
            now += rng.uniform(600, 4 * 3600)
            value *= rng.uniform(0.9, 0.98)
            t.append(now)
            amt.append(round(value, 2))
        src.append(f"a{chain[-1]}")
        dst.append(f"m{int(rng.integers(n_mer))}")
        t.append(now + rng.uniform(600, 3600))
        amt.append(round(value * 0.95, 2))
    return src[:k], dst[:k], t[:k], amt[:k], [2] * k


def _card_testing(k: int, rng, n_acc: int, n_mer: int):
    src, dst, t, amt = [], [], [], []
    while len(src) < k:
        a = int(rng.integers(n_acc))
        shops = rng.choice(n_mer, 2)
        start = rng.uniform(0, (DAYS - 1) * 86400)
        m = int(rng.integers(15, 40))
        src += [f"a{a}"] * m
        dst += [f"m{s}" for s in rng.choice(shops, m)]
        t += list(start + np.sort(rng.uniform(0, 900, m)))
        amt += list(np.round(rng.uniform(0.5, 2.0, m), 2))
    return src[:k], dst[:k], t[:k], amt[:k], [1] * k


def generate_transactions(n: int = 10_000, fraud_rate: float = 0.03, seed: int = 0) -> TransactionTable:
    """``n`` transactions over 60 days, about ``fraud_rate`` of them fraudulent, sorted by time.

    Args:
        n: number of transactions.
        fraud_rate: share of fraudulent transactions, split evenly over the four patterns.
        seed: random seed; the same seed gives the same table.

    Returns:
        A ``TransactionTable`` with ``label`` and an ``extra``-free schema; the pattern of each
        row is in ``pattern_of(table)``.
    """
    rng = np.random.default_rng(seed)
    n_acc = max(50, n // 15)
    n_mer = max(20, n // 150)
    n_fraud = int(round(n * fraud_rate))
    per = [n_fraud // 4] * 4
    per[0] += n_fraud - sum(per)
    src, dst, t, amt, ch = _legit(n - n_fraud, rng, n_acc, n_mer)
    pattern = [0] * (n - n_fraud)
    src, dst, t, amt, ch = list(src), list(dst), list(t), list(amt), list(ch)
    for code, (make, k) in enumerate(zip((_rings, _takeovers, _mules, _card_testing), per), start=1):
        if k == 0:
            continue
        s, d, tt, a, c = make(k, rng, n_acc, n_mer)
        src += s
        dst += d
        t += tt
        amt += a
        ch += c
        pattern += [code] * k
    t = np.asarray(t, dtype=np.float64) + 1_700_000_000.0
    order = np.argsort(t, kind="stable")
    pattern_arr = np.asarray(pattern)[order]
    table = TransactionTable(
        ids=np.array([f"t{i}" for i in range(n)], dtype=object),
        src=np.asarray(src, dtype=object)[order],
        dst=np.asarray(dst, dtype=object)[order],
        time=t[order],
        amount=np.asarray(amt, dtype=np.float64)[order],
        channel=np.asarray(CHANNELS, dtype=object)[np.asarray(ch)[order]],
        label=(pattern_arr > 0).astype(np.float32),
        row=np.arange(n),
    )
    table.pattern = np.asarray(PATTERNS, dtype=object)[pattern_arr]  # type: ignore[attr-defined]
    return table


def to_frame(table: TransactionTable):
    """The table as a pandas DataFrame with the standard column names (for CSV / Parquet)."""
    import pandas as pd

    frame = pd.DataFrame(
        {
            "transaction_id": table.ids,
            "source": table.src,
            "destination": table.dst,
            "timestamp": table.time,
            "amount": table.amount,
        }
    )
    if table.channel is not None:
        frame["channel"] = table.channel
    if table.label is not None:
        frame["label"] = table.label
    return frame
