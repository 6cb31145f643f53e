"""A seeded synthetic entity graph: mule accounts, shell-company rings and camouflage.

Entities are accounts and companies with ``n_attributes`` numeric attributes; about
``fraud_rate`` of them are fraudulent and ``labelled`` of all labels are known (the rest empty).
Relations: ``transfer`` (directed, with amount and timestamp), ``device`` (shared devices,
undirected) and ``invest`` (company to company, undirected).

- Mule accounts form chains that pass money on quickly (large transfers, short gaps) and
  share devices in small groups.
- Shell companies form rings that invest in each other.
- Camouflage: every fraudster also links to many random benign entities, so a plain
  neighbour average looks benign; fraudsters' own attributes differ only slightly.

Example:
    >>> nodes, edges = generate_entities(500, seed=0)
    >>> sorted(edges), int(nodes["label"].notna().sum()) > 0
    (['device', 'invest', 'transfer'], True)
"""

from __future__ import annotations

import numpy as np


def _ring_pairs(members: np.ndarray, size: int, rng: np.random.Generator, links: int = 2) -> list[tuple[int, int]]:
    """Within each group of ``size`` members, each member links to ``links`` others."""
    pairs = []
    for start in range(0, len(members), size):
        group = members[start : start + size]
        for i in range(len(group)):
            for j in rng.choice(len(group), size=min(links, len(group)), replace=False):
                if j != i:
                    pairs.append((int(group[i]), int(group[j])))
    return pairs


def generate_entities(
    n: int = 5000,
    seed: int = 0,
    fraud_rate: float = 0.04,
    labelled: float = 0.7,
    n_attributes: int = 12,
    camouflage: int = 10,
    degree: float = 4.0,
):
    """``(nodes, edges)``: a node DataFrame (id, type, label, x0..) and ``{relation: DataFrame}``."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    company = rng.random(n) < 0.3
    fraud = rng.random(n) < fraud_rate
    x = rng.normal(size=(n, n_attributes))
    x[:, 0] = rng.lognormal(3, 1, n)  # balance-like, heavy-tailed
    x[fraud, 1] += 0.35  # faint signal in the attributes alone
    x[fraud, 2] -= 0.25
    x[fraud, 0] *= rng.uniform(0.6, 1.0, fraud.sum())
    ids = np.array([f"{'c' if c else 'a'}{i}" for i, c in enumerate(company)], dtype=object)
    mules = rng.permutation(np.flatnonzero(fraud & ~company))
    shells = rng.permutation(np.flatnonzero(fraud & company))
    benign = np.flatnonzero(~fraud)
    accounts, companies = np.flatnonzero(~company), np.flatnonzero(company)

    m = int(degree * n)
    src, dst = rng.choice(n, m), rng.choice(n, m)
    amount = rng.lognormal(4, 1, m)
    t = rng.uniform(0, 1e6, m)
    families = rng.choice(benign, int(0.1 * len(benign)), replace=False)  # benign groups look like rings too
    mule_pairs = _ring_pairs(mules, 6, rng) + _ring_pairs(families, 6, rng)
    camo = [(int(f), int(b)) for f in np.flatnonzero(fraud) for b in rng.choice(benign, camouflage)]
    ms, md = np.array([p[0] for p in mule_pairs + camo] or [0]), np.array([p[1] for p in mule_pairs + camo] or [0])
    k = len(mule_pairs)
    m_amount = np.r_[rng.lognormal(5.2, 0.6, k), rng.lognormal(4, 1, len(ms) - k)]
    transfer = pd.DataFrame(
        {
            "src": ids[np.r_[src, ms]],
            "dst": ids[np.r_[dst, md]],
            "amount": np.r_[amount, m_amount].round(2),
            "timestamp": np.r_[t, rng.uniform(0, 1e6, len(ms))].round(0),
        }
    )
    d = int(0.8 * len(accounts))
    dev_a = rng.choice(accounts, d)
    dev_b = rng.choice(accounts, d)
    dev_pairs = _ring_pairs(mules, 4, rng) + _ring_pairs(families[company[families] == 0], 4, rng)
    device = pd.DataFrame(
        {
            "src": ids[np.r_[dev_a, [p[0] for p in dev_pairs]].astype(int)],
            "dst": ids[np.r_[dev_b, [p[1] for p in dev_pairs]].astype(int)],
        }
    )
    inv = int(1.5 * len(companies))
    holdings = rng.choice(companies[~fraud[companies]], int(0.1 * len(companies)), replace=False)
    shell_pairs = _ring_pairs(shells, 5, rng) + _ring_pairs(holdings, 5, rng)
    camo_c = [(int(s), int(b)) for s in shells for b in rng.choice(companies, camouflage // 2)]
    pairs = shell_pairs + camo_c
    invest = pd.DataFrame(
        {
            "src": ids[np.r_[rng.choice(companies, inv), [p[0] for p in pairs]].astype(int)],
            "dst": ids[np.r_[rng.choice(companies, inv), [p[1] for p in pairs]].astype(int)],
            "share": np.r_[rng.uniform(0, 1, inv), rng.uniform(0.3, 1, len(pairs))].round(3),
        }
    )
    noisy = np.where(rng.random(n) < 0.03, 1 - fraud, fraud)  # a few labels are wrong, as in real data
    label = np.where(rng.random(n) < labelled, noisy.astype(float), np.nan)
    nodes = pd.DataFrame({"id": ids, "type": np.where(company, "company", "account"), "label": label})
    for j in range(n_attributes):
        nodes[f"x{j}"] = x[:, j].round(4)
    return nodes, {"transfer": transfer, "device": device, "invest": invest}
