"""FraudDetector: GNN vs LightGBM vs hybrid vs blend on YelpChi, and scale on synthetic streams.

Quality: ``../shared/data/yelpchi/review_graph`` (rows shuffled once with seed 0 on load),
stratified 40/20/40 train/validation/test split drawn with each seed, 3 seeds; the models
are trained on train, early-stopped and calibrated on validation, reported on test. The
"product" row is the model ``model="auto"`` picks on validation AUPRC.

Scale: synthetic streams of 1e4 and 1e5 transactions (1e6 with ``--big``), each in its own
process (clean peak memory): features + graph build, GNN seconds per epoch (mini-batch,
temporal sampler), tree fit, batch scoring throughput (1k-row ``score()`` calls: the old full
rebuild of history + batch against the incremental path, with their largest score difference),
online scoring p50/p99 of single transactions for each model.

    python benchmarks/fraud.py [--data ../shared/data/yelpchi] [--seeds 0 1 2] [--big] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("gnn", "trees", "hybrid", "blend")
REFERENCE = {  # ../shared/data/README.md, review_graph, 40/20/40 stratified, 3 seeds
    "LightGBM structural + OOF label (reference)": {"auc": 0.846, "auprc": 0.474, "recall_at_1pct_fpr": 0.174},
    "hetero GraphSAGE + label trick (reference)": {"auc": 0.844, "auprc": 0.464, "recall_at_1pct_fpr": None},
}


def yelpchi(root: Path, seeds: list[int], epochs: int) -> dict:
    from deepseek_apps import FraudDetector
    from deepseek_apps.apps.fraud.model import GNNConfig
    from deepseek_apps.apps.fraud.yelpchi import load_review_graph

    table = load_review_graph(root, seed=0)
    runs = []
    for seed in seeds:
        t0 = time.perf_counter()
        det = FraudDetector(
            val_fraction=0.2, test_fraction=0.4, seed=seed, gnn=GNNConfig(epochs=epochs, patience=15, seed=seed)
        )
        det.fit(table)
        test = det.metrics_["test"]
        runs.append(
            {
                "seed": seed,
                "chosen": det.model_,
                "test": test,
                "fit_seconds": det.fit_seconds_,
                "wall": time.perf_counter() - t0,
            }
        )
        print(
            json.dumps({"seed": seed, "chosen": det.model_, **{m: round(test[m]["auc"], 4) for m in MODELS}}),
            flush=True,
        )
    rows = {}
    for m in (*MODELS, "product"):
        vals = [r["test"][r["chosen"] if m == "product" else m] for r in runs]
        rows[m] = {
            k: (float(np.mean([v[k] for v in vals])), float(np.std([v[k] for v in vals])))
            for k in ("auc", "auprc", "recall_at_1pct_fpr")
        }
    return {"runs": runs, "summary": rows, "split": runs[0]["test"]["trees"]["n"]}


def quality_table(res: dict) -> str:
    s = res["summary"]
    base = s["trees"]["auprc"][0]
    lines = ["| model | test AUC | test AUPRC | recall @ 1% FPR | AUPRC vs trees |", "|---|---|---|---|---|"]
    names = {
        "gnn": "hetero GraphSAGE (ours, OOF label features)",
        "trees": "LightGBM + neighbour aggregates (ours)",
        "hybrid": "hybrid: GNN embeddings into LightGBM (ours)",
        "blend": "blend: GNN + LightGBM log-odds (ours)",
        "product": "product (model picked on validation)",
    }
    for m, label in names.items():
        r = s[m]
        lines.append(
            f"| {label} | {r['auc'][0]:.3f} ± {r['auc'][1]:.3f} | {r['auprc'][0]:.3f} ± {r['auprc'][1]:.3f} | "
            f"{r['recall_at_1pct_fpr'][0]:.3f} ± {r['recall_at_1pct_fpr'][1]:.3f} | {r['auprc'][0] / base:.3f}x |"
        )
    for label, r in REFERENCE.items():
        rec = "-" if r["recall_at_1pct_fpr"] is None else f"{r['recall_at_1pct_fpr']:.3f}"
        lines.append(f"| {label} | {r['auc']:.3f} | {r['auprc']:.3f} | {rec} | - |")
    return "\n".join(lines)


def scale_one(n: int, online_repeat: int) -> dict:
    """One size, in this process: build, fit (2 GNN epochs), batch and online scoring."""
    from deepseek_apps import FraudDetector
    from deepseek_apps.apps.fraud.model import GNNConfig
    from deepseek_apps.apps.fraud.pipeline import build_inputs
    from deepseek_apps.apps.fraud.synthetic import generate_transactions
    from deepseek_apps.apps.fraud.trees import TreeConfig
    from deepseek_apps.core.bench import _rss_mb

    build_inputs(generate_transactions(500, seed=3), ["card"], False, None)  # imports and first-call costs
    base_rss = _rss_mb("VmRSS")
    table = generate_transactions(n, seed=0)
    t0 = time.perf_counter()
    build_inputs(table, ["card", "online", "transfer"], False, None)
    build_s = time.perf_counter() - t0
    det = FraudDetector(gnn=GNNConfig(epochs=2, patience=9), trees=TreeConfig(n_estimators=200, early_stopping=200))
    t0 = time.perf_counter()
    det.fit(table)
    fit_s = time.perf_counter() - t0
    epoch_s = float(np.mean([h["train_seconds"] for h in det.gnn_history_]))
    n_train = len(det.split_["train"])
    new = generate_transactions(1000, seed=1)
    new.ids = np.array([f"new{i}" for i in range(len(new))], dtype=object)
    new.time = new.time + 61 * 86400
    out = {
        "n": n,
        "partial": True,
        "build_s": build_s,
        "fit_s": fit_s,
        "gnn_epoch_s": epoch_s,
        "gnn_train_rows": n_train,
        "trees_fit_s": det.fit_seconds_["trees"],
        "batch": {},
        "online": {},
    }
    det.model_, det.threshold_ = "blend", det.thresholds_["blend"]
    t0 = time.perf_counter()
    det.score_history(reasons=False)  # every transaction of the graph: inputs built once, models over all
    out["history_txn_per_s"] = n / (time.perf_counter() - t0)
    print(json.dumps(out), file=sys.stderr, flush=True)  # partial results survive a later failure
    t0 = time.perf_counter()
    det.history_state()  # the per-entity indexes score() and score_one() share (built once, timed separately)
    out["state_s"] = time.perf_counter() - t0
    out.update(rebuild_vs_incremental(det, new))
    for m in MODELS:
        det.model_ = m
        det.threshold_ = det.thresholds_[m]
        t0 = time.perf_counter()
        det.score(new, reasons=False)
        out["batch"][m] = len(new) / (time.perf_counter() - t0)
        rows = [
            {
                "transaction_id": f"o{i}",
                "source": new.src[i],
                "destination": new.dst[i],
                "timestamp": float(new.time[i]),
                "amount": float(new.amount[i]),
                "channel": new.channel[i],
            }
            for i in range(online_repeat)
        ]
        t0 = time.perf_counter()
        det.score_one(rows[0])  # the first call builds the online state (timed separately)
        out.setdefault("online_setup_s", time.perf_counter() - t0)
        for r in rows[:20]:
            det.score_one(r)
        lat = []
        for r in rows:
            t = time.perf_counter()
            det.score_one(r)
            lat.append((time.perf_counter() - t) * 1000)
        out["online"][m] = {"p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99))}
    out["partial"] = False
    out["peak_rss_mb"] = _rss_mb("VmHWM")
    out["base_rss_mb"] = base_rss
    return out


def rebuild_vs_incremental(det, new, repeat: int = 2) -> dict:
    """1k-row ``score()`` calls (blend): the old full rebuild of history + batch against the incremental path.

    Both give the same scores (``batch_max_diff``: the largest difference, 0.0 when bit-identical).
    """
    from deepseek_apps.apps.fraud.incremental import rebuild_after_history

    det.model_, det.threshold_ = "blend", det.thresholds_["blend"]

    def rebuild():
        both, inputs, index = rebuild_after_history(det, new)
        return det.score_rows(inputs, index, both.ids[index], reasons=False)

    out = {}
    for name, fn in (("rebuild", rebuild), ("incremental", lambda: det.score(new, reasons=False))):
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            scores = fn()
            times.append(time.perf_counter() - t0)
        out[f"batch_{name}_txn_per_s"] = len(new) / min(times)
        out[f"batch_{name}_scores"] = np.array([s.score for s in scores])
    out["batch_max_diff"] = float(np.abs(out.pop("batch_rebuild_scores") - out.pop("batch_incremental_scores")).max())
    return out


def scale(sizes: list[int], threads: int, online_repeat: int) -> list[dict]:
    results = []
    for n in sizes:
        cmd = [
            sys.executable,
            __file__,
            "--scale-one",
            str(n),
            "--threads",
            str(threads),
            "--online-repeat",
            str(online_repeat),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            continue
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), flush=True)
    return results


def scale_table(results: list[dict]) -> str:
    head = (
        "| transactions | features + graph s | GNN s / epoch (train rows) | LightGBM fit s | scoring txn/s: whole graph / 1k new (blend) | "
        "1k new txn/s: rebuild / incremental (max diff) | state s | "
        "online p50 / p99 ms: trees | gnn | hybrid | blend | peak RSS MB |"
    )
    lines = [head, "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        on = r["online"]
        cells = [
            f"{r['n']:,}",
            f"{r['build_s']:.2f}",
            f"{r['gnn_epoch_s']:.1f} ({r['gnn_train_rows']:,})",
            f"{r['trees_fit_s']:.1f}",
            f"{r['history_txn_per_s']:.0f} / {r['batch']['blend']:.0f}",
            f"{r['batch_rebuild_txn_per_s']:.0f} / {r['batch_incremental_txn_per_s']:.0f} ({r['batch_max_diff']:.1g})",
            f"{r['state_s']:.2f}",
        ]
        cells += [f"{on[m]['p50_ms']:.1f} / {on[m]['p99_ms']:.1f}" for m in ("trees", "gnn", "hybrid", "blend")]
        cells.append(f"{r['peak_rss_mb']:.0f} ({r['base_rss_mb']:.0f})")
        lines.append("| " + " | ".join(cells) + " |")
    if len(results) > 1:
        a, b = results[0], results[-1]
        k = b["n"] / a["n"]
        lines.append("")
        lines.append(
            f"Growth {a['n']:,} -> {b['n']:,} ({k:.0f}x data): features {b['build_s'] / a['build_s']:.1f}x, "
            f"GNN epoch {b['gnn_epoch_s'] / a['gnn_epoch_s']:.1f}x, LightGBM {b['trees_fit_s'] / a['trees_fit_s']:.1f}x, "
            f"online p99 (blend) {b['online']['blend']['p99_ms'] / a['online']['blend']['p99_ms']:.1f}x, "
            f"1k-row score() rebuild {b['batch_rebuild_txn_per_s'] / a['batch_rebuild_txn_per_s']:.2f}x "
            f"vs incremental {b['batch_incremental_txn_per_s'] / a['batch_incremental_txn_per_s']:.2f}x throughput, "
            f"peak RSS {b['peak_rss_mb'] / a['peak_rss_mb']:.1f}x."
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "yelpchi")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--big", action="store_true", help="add the 1e6-transaction scale run (minutes, GBs)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--online-repeat", type=int, default=300)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--scale-one", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=ROOT / "bench_out")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.scale_one:
        print(json.dumps(scale_one(args.scale_one, args.online_repeat)))
        return
    from deepseek_apps.core.bench import cpu_info

    report = {"date": date.today().isoformat(), "cpu": cpu_info(), "threads": args.threads}
    md = [f"# FraudDetector benchmark ({report['date']}, {report['cpu']['model']}, {args.threads} thread(s))", ""]
    if not args.skip_quality and (args.data / "review_graph").exists():
        report["yelpchi"] = yelpchi(args.data, args.seeds, args.epochs)
        md += [
            f"## YelpChi review_graph, stratified 40/20/40, seeds {args.seeds} (test n={report['yelpchi']['split']})",
            "",
            quality_table(report["yelpchi"]),
            "",
        ]
    if not args.skip_scale:
        sizes = args.sizes + ([1_000_000] if args.big else [])
        report["scale"] = scale(sizes, args.threads, args.online_repeat)
        md += ["## Scale (synthetic streams)", "", scale_table(report["scale"]), ""]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fraud.json").write_text(json.dumps(report, indent=2, default=float))
    (args.out / "fraud.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
