"""Entity-level fraud, side by side: attributes-only LightGBM, LightGBM + aggregates, GNN, hybrid, blend.

Data: the seeded synthetic entity generator (mule chains, shell rings, camouflage) and YelpChi
framed at entity level (reviews as nodes; R-U-R = same user, R-P-R = same product, sampled to
``--product-links`` random same-product reviews per review; R-S-R / R-T-R need ratings and
dates, which are ``None`` in our copy), and a transaction log (``--data txlog``: the seeded
transaction generator through ``TransactionLog``, accounts labelled from a separate table:
``--labels involved`` = every account in a fraudulent transaction, ``mules`` = the accounts of
mule chains; of the other accounts 70% are labelled 0, the rest and all merchants unknown).
Every seed refits everything; metrics are on the test split (stratified, seeded), mean +- std
over seeds, with the test split's positive rate. ``pick`` is what ``auto`` chose on validation.

    flock /tmp/cpu.lock .venv/bin/python benchmarks/fraud_entities.py --data synthetic --n 5000 --seeds 0 1 2
    flock /tmp/cpu.lock .venv/bin/python benchmarks/fraud_entities.py --data yelpchi --seeds 0
    flock /tmp/cpu.lock .venv/bin/python benchmarks/fraud_entities.py --data scale --n 100000 --seeds 0
    flock /tmp/cpu.lock .venv/bin/python benchmarks/fraud_entities.py --data scale --n 1000000 --degree 10 --seeds 0
    flock /tmp/cpu.lock .venv/bin/python benchmarks/fraud_entities.py --data txlog --n 30000 --labels mules --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

from deepseek_apps import FraudDetector
from deepseek_apps.apps.fraud.entities import EntityTask, TransactionLog
from deepseek_apps.apps.fraud.entities.detector import ENTITY_ARCHS
from deepseek_apps.apps.fraud.entities.synthetic import generate_entities
from deepseek_apps.apps.fraud.synthetic import generate_transactions

METRICS = ("auc", "auprc", "recall_at_1pct_fpr")


def yelpchi_entities(root: str, product_links: int, seed: int = 0):
    """Reviews as nodes (no attributes in our copy but the user's and product's review counts), two relations."""
    with gzip.open(Path(root) / "review_graph" / "metadata.gz", "rt") as fh:
        parts = [line.split() for line in fh if line.strip()]
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(parts))  # the file order leaks the label
    user = np.array([parts[i][0] for i in perm])
    prod = np.array([parts[i][1] for i in perm])
    label = np.array([parts[i][3] == "-1" for i in perm], dtype=float)
    ids = np.array([f"r{i}" for i in range(len(perm))], dtype=object)
    u_count = pd.Series(user).map(pd.Series(user).value_counts()).to_numpy()
    p_count = pd.Series(prod).map(pd.Series(prod).value_counts()).to_numpy()
    nodes = pd.DataFrame({"id": ids, "label": label, "user_reviews": u_count, "product_reviews": p_count})

    def same(keys: np.ndarray, cap: int | None):
        src, dst = [], []
        for _, idx in pd.Series(np.arange(len(keys))).groupby(keys):
            idx = idx.to_numpy()
            if len(idx) < 2:
                continue
            k = len(idx) - 1 if cap is None else min(cap, len(idx) - 1)
            for i in idx:
                others = idx[idx != i]
                pick = others if cap is None or len(others) <= k else rng.choice(others, k, replace=False)
                src += [i] * len(pick)
                dst += pick.tolist()
        return pd.DataFrame({"src": ids[src], "dst": ids[dst]})

    return nodes, {"user": same(user, 50), "product": same(prod, product_links)}


def txlog_entities(n: int, labels: str, seed: int = 0) -> TransactionLog:
    """The transaction generator's log and an account label table (see the module docstring)."""
    table = generate_transactions(n, seed=seed)
    fraud = table.label == 1 if labels == "involved" else table.pattern == "mule_chain"
    bad = set(table.src[fraud]) | {d for d in table.dst[fraud] if d.startswith("a")}
    accounts = sorted(set(table.src) | {d for d in table.dst if d.startswith("a")})
    rng = np.random.default_rng(seed)
    label = [1.0 if a in bad else (0.0 if rng.random() < 0.7 else np.nan) for a in accounts]
    return TransactionLog(table, pd.DataFrame({"id": accounts, "label": label}))


def run_once(nodes, edges, directed, seed: int, epochs: int | None) -> dict:
    t0 = time.perf_counter()
    det = FraudDetector(task=EntityTask(directed=directed), seed=seed).fit(nodes, edges, epochs=epochs)
    fit_s = time.perf_counter() - t0
    graph = det.entity_model_.graph
    ids = graph.ids.tolist()
    t1 = time.perf_counter()
    det.score_entities(ids[:20000])
    score_s = time.perf_counter() - t1
    test = det.metrics_["test"]
    return {
        "seed": seed,
        "pick": det.arch_,
        "nodes": graph.n,
        "test_positive_rate": float(np.mean(graph.label[det.split_["test"]])),
        "fit_s": fit_s,
        "score_per_s": min(len(ids), 20000) / score_s,
        "test": {m: {k: test[m][k] for k in METRICS} for m in ENTITY_ARCHS},
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "det": det,
    }


def online_p99(det, nodes, edges_of_new, repeat: int = 100) -> dict:
    """Latency of scoring one new entity with its edges (inductive), p50 / p99 in ms."""
    lat = []
    for k in range(repeat):
        row = nodes.iloc[[k % len(nodes)]].drop(columns=["label"]).assign(id=f"new{k}")
        t0 = time.perf_counter()
        det.score(row, edges=edges_of_new(f"new{k}", k))
        lat.append((time.perf_counter() - t0) * 1000)
    return {"p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99))}


def summary(runs: list[dict]) -> dict:
    out = {}
    for m in ENTITY_ARCHS:
        out[m] = {
            k: (float(np.mean([r["test"][m][k] for r in runs])), float(np.std([r["test"][m][k] for r in runs])))
            for k in METRICS
        }
    picked = [r["test"][r["pick"]]["auprc"] for r in runs]
    out["pick"] = {"auprc": (float(np.mean(picked)), float(np.std(picked))), "archs": [r["pick"] for r in runs]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", choices=["synthetic", "yelpchi", "scale", "txlog"], default="synthetic")
    ap.add_argument("--labels", choices=["involved", "mules"], default="involved", help="txlog: who is fraudulent")
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--degree", type=float, default=4.0, help="synthetic / scale: random edges per node (plus rings)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=None, help="GNN epochs (default: EntityTask's)")
    ap.add_argument("--root", default="../shared/data/yelpchi")
    ap.add_argument("--product-links", type=int, default=10)
    ap.add_argument("--out", default=None, help="write the JSON here too")
    args = ap.parse_args()
    print(f"# CPU: {platform.processor() or platform.machine()}, torch threads 2; data={args.data} n={args.n}")
    runs = []
    for seed in args.seeds:
        if args.data == "txlog":
            r = run_once(txlog_entities(args.n, args.labels, seed), None, (), seed, args.epochs)
            del r["det"]
            print(json.dumps(r))
            runs.append(r)
            continue
        if args.data == "yelpchi":
            nodes, edges = yelpchi_entities(args.root, args.product_links, seed)
            directed = ()
        else:
            nodes, edges = generate_entities(args.n, seed=seed, degree=args.degree)
            directed = ("transfer",)
        r = run_once(nodes, edges, directed, seed, args.epochs)
        old = nodes["id"].astype(str).to_numpy()
        if args.data == "yelpchi":
            r["online"] = online_p99(
                r["det"], nodes, lambda i, k, old=old: {"user": pd.DataFrame({"src": [i], "dst": [old[k]]})}
            )
        else:
            r["online"] = online_p99(
                r["det"],
                nodes,
                lambda i, k, old=old: {
                    "transfer": pd.DataFrame({"src": [i] * 3, "dst": old[k : k + 3], "amount": 1.0, "timestamp": 1.0})
                },
            )
        r["edges"] = sum(len(e) for e in edges.values())
        del r["det"]
        print(json.dumps(r))
        runs.append(r)
    s = summary(runs)
    print("| model | AUC | AUPRC | recall@1%FPR |")
    print("|---|---|---|---|")
    for m in ENTITY_ARCHS:
        print(f"| {m} | " + " | ".join(f"{s[m][k][0]:.3f} ± {s[m][k][1]:.3f}" for k in METRICS) + " |")
    base = s["trees"]["auprc"]
    print(f"| pick ({', '.join(s['pick']['archs'])}) | | {s['pick']['auprc'][0]:.3f} ± {s['pick']['auprc'][1]:.3f} | |")
    rate = [r["test_positive_rate"] for r in runs]
    print(f"test positive rate: {np.mean(rate):.3f} ± {np.std(rate):.3f}")
    print(f"pick - trees AUPRC: {s['pick']['auprc'][0] - base[0]:+.3f} (trees std {base[1]:.3f})")
    if args.out:
        Path(args.out).write_text(json.dumps({"runs": runs, "summary": s}, indent=2))


if __name__ == "__main__":
    main()
