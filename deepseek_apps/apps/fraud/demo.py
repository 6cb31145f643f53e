"""``make demo``: the default fraud detector on a fresh synthetic stream it has never seen.

Writes the transactions to CSV, scores them with the resumable batch scorer, prints the
alert summary and the top alerts with their reasons, times online scoring, and draws the
explanation of the top alert.

python -m deepseek_apps.apps.fraud.demo --out demo_out
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from .app import FraudDetector
from .calibrate import evaluate_scores
from .cli import score_file
from .synthetic import generate_transactions, to_frame


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("demo_out"))
    parser.add_argument("--n", type=int, default=3000)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    det = FraudDetector()
    print(
        f"model: {det.arch_} (trained on the synthetic generator), alert threshold {det.threshold_:.4f} "
        f"for a {det.target_fpr_:.1%} false-positive rate on validation"
    )
    stream = generate_transactions(args.n, seed=2026)
    stream.ids = np.array([f"demo{i}" for i in range(len(stream))], dtype=object)
    stream.time = stream.time + (det.history_.time.max() - stream.time.min()) + 3600  # after the history
    csv = args.out / "fraud_transactions.csv"
    to_frame(stream).to_csv(csv, index=False)
    out = args.out / "fraud_scores.jsonl"
    counts = score_file(det, str(csv), out, progress=False)
    print(json.dumps(counts))
    records = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    scores = np.array([records[i]["score"] for i in stream.ids])
    m = evaluate_scores(stream.label, scores, det.threshold_)
    print(
        f"unseen stream of {len(stream)}: AUC {m.auc:.3f}, AUPRC {m.auprc:.3f}, "
        f"alerts {int((scores >= det.threshold_).sum())}, precision {m.precision_at_threshold:.3f}, "
        f"recall {m.recall_at_threshold:.3f}, FPR {m.fpr_at_threshold:.4f}"
    )
    top = np.argsort(-scores)[:5]
    for i in top:
        reasons = ", ".join(r["feature"] for r in records[stream.ids[i]]["reasons"])
        print(
            f"  {stream.ids[i]} {stream.src[i]} -> {stream.dst[i]} {stream.amount[i]:.2f} "
            f"score {scores[i]:.3f} [{stream.pattern[i]}] reasons: {reasons}"
        )
    row = {
        "transaction_id": "live1",
        "source": stream.src[top[0]],
        "destination": stream.dst[top[0]],
        "timestamp": float(stream.time.max() + 60),
        "amount": float(stream.amount[top[0]]),
        "channel": "card",
    }
    det.score_one(row)
    lat = [det.score_one(row).latency_ms for _ in range(50)]
    print(
        f"online scoring of one transaction: p50 {np.percentile(lat, 50):.1f} ms, p99 {np.percentile(lat, 99):.1f} ms"
    )
    exp = det.explain(stream.ids[top[0]], stream)
    exp.draw().save(args.out / "fraud_top_alert.png")
    print(
        f"explanation of {exp.id}: {[r.feature for r in exp.features[:3]]}, "
        f"{len(exp.neighbours)} neighbours; picture: {args.out / 'fraud_top_alert.png'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
