"""``deepseek-apps fraud train|evaluate|predict (score)|export|explain``.

``--model`` is always a model path (a folder from ``train`` / ``save`` or a bundle from
``export``; default: the shipped model); ``--arch`` always an architecture.

``predict`` (alias ``score``) writes one JSON line per transaction and resumes: a re-run
skips ids already in the output (a torn last line is cut off first) and scores the rest; a
transaction that fails validation becomes a line with an ``error`` instead of stopping the job.

    deepseek-apps fraud train --data transactions.csv --out fraud_model --epochs 20
    deepseek-apps fraud evaluate --model fraud_model --data labelled.csv
    deepseek-apps fraud predict new.csv --model fraud_model --out scores.jsonl
    deepseek-apps fraud export --model fraud_model --out fraud_bundle.zip
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ...core.runtime.jsonl import read_records

ARCH_CHOICES = ["auto", "gnn", "trees", "hybrid", "blend"]
MODEL_HELP = "model folder or bundle (default: the shipped model, see `deepseek-apps models fraud`)"


def _serving_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help=MODEL_HELP)
    p.add_argument(
        "--arch",
        default=None,
        choices=ARCH_CHOICES,
        help="score with this architecture of the model (default: the model's)",
    )
    p.add_argument(
        "--target-fpr",
        type=float,
        default=None,
        help="re-calibrate the alert threshold to this validation false-positive rate (default: the model's)",
    )


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fraud", help="fraud detection on transaction graphs (FraudDetector)")
    cmds = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    t = cmds.add_parser("train", help="train on labelled transactions (CSV / Parquet / JSONL)")
    t.add_argument("--data", required=True, help="labelled transactions file, or 'synthetic:N' for generated data")
    t.add_argument("--out", required=True, help="model folder to write (open it with FraudDetector.load)")
    t.add_argument("--arch", default="auto", choices=ARCH_CHOICES, help="architecture; auto = best validation AUPRC")
    t.add_argument("--target-fpr", type=float, default=0.01, help="validation false-positive rate the alert keeps")
    t.add_argument("--epochs", type=int, default=30, help="GNN epochs (early stopping on validation AUPRC)")
    t.add_argument("--seed", type=int, default=0, help="split and training seed")
    t.add_argument("--val-fraction", type=float, default=0.2, help="share of labelled rows for validation")
    t.add_argument("--test-fraction", type=float, default=0.2, help="share of labelled rows for the test report")
    t.add_argument("--no-time", action="store_true", help="the file has no timestamps (static graph)")
    t.add_argument("--accounts", default=None, help="optional account table (entity_id + numeric attributes)")
    t.add_argument("--merchants", default=None, help="optional merchant table (entity_id + numeric attributes)")
    t.add_argument("--no-progress", action="store_true", help="no progress bars")
    t.set_defaults(func=_train)
    e = cmds.add_parser("evaluate", help="metrics of every architecture on new labelled transactions (JSON)")
    e.add_argument("--data", required=True, help="labelled transactions, later than the model's history")
    _serving_flags(e)
    e.set_defaults(func=_evaluate)
    s = cmds.add_parser(
        "predict", aliases=["score"], help="score new transactions into JSON lines (resumable, per-row errors)"
    )
    s.add_argument("data", help="transactions file (CSV / Parquet / JSONL)")
    s.add_argument("--out", required=True, help="output .jsonl (re-running skips ids already in it)")
    _serving_flags(s)
    s.add_argument("--batch-size", type=int, default=10000, help="rows per call (each call re-reads the history)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.set_defaults(func=_predict)
    x = cmds.add_parser("explain", help="why a transaction scored as it did (features, neighbours, picture)")
    x.add_argument("transaction_id", help="a history transaction id, an id in --data, or an account / merchant id")
    _serving_flags(x)
    x.add_argument("--data", default=None, help="new transactions holding the id (scored after the history)")
    x.add_argument("--picture", default=None, help="write the subgraph picture (.png)")
    x.set_defaults(func=_explain)
    o = cmds.add_parser("export", help="write a model as a hash-verified bundle (.zip or folder)")
    o.add_argument("--model", default=None, help=MODEL_HELP)
    o.add_argument("--out", required=True, help="bundle path: a .zip or a folder")
    o.add_argument("--no-int8", action="store_true", help="do not ask for int8 (recorded in the manifest either way)")
    o.set_defaults(func=_export)


def _detector(args: argparse.Namespace):
    from .app import FraudDetector

    overrides = {"arch": getattr(args, "arch", None), "target_fpr": getattr(args, "target_fpr", None)}
    if args.model:
        return FraudDetector.load(args.model, **overrides)
    det = FraudDetector(**overrides)
    det.threshold_  # noqa: B018  (load the shipped model now: a bad one fails here, not mid-job)
    return det


def _read(data: str, temporal: bool = True):
    from .data import load_transactions

    if data.startswith("synthetic:"):
        from .synthetic import generate_transactions

        return generate_transactions(int(data.split(":", 1)[1]), seed=0)
    return load_transactions(data, require_time=temporal, require_amount=temporal)


def _train(args: argparse.Namespace) -> int:
    from .app import FraudDetector

    det = FraudDetector(arch=args.arch, target_fpr=args.target_fpr, seed=args.seed)
    det.fit(
        _read(args.data, not args.no_time),
        accounts=args.accounts,
        merchants=args.merchants,
        val_fraction=args.val_fraction,
        test_fraction=args.test_fraction,
        seed=args.seed,
        epochs=args.epochs,
        progress=not args.no_progress,
    )
    out = det.save(args.out)
    print(json.dumps({"arch": det.arch_, "threshold": det.threshold_, "test": det.metrics_["test"], "out": str(out)}))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    det = _detector(args)
    print(json.dumps(det.evaluate(_read(args.data, det.temporal_)).to_dict()))
    return 0


def read_done(out: Path) -> set[str]:
    """Ids already written to ``out``; a torn last line is cut off the file."""
    return set(read_records(out, key="id"))


def score_file(det, data: str, out: str | Path, batch_size: int = 10000, progress: bool = True) -> dict:
    """Score ``data`` into ``out`` (JSON lines), resuming; bad rows become lines with an ``error``; returns counts."""
    from tqdm.auto import tqdm

    from .data import read_frame

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame = read_frame(data)
    if "transaction_id" not in frame.columns:
        frame["transaction_id"] = [f"row{i}" for i in range(len(frame))]
    frame["transaction_id"] = frame["transaction_id"].astype(str)
    done = read_done(out)
    todo = frame[~frame["transaction_id"].isin(done)]
    counts = {"total": len(frame), "skipped": len(frame) - len(todo), "scored": 0, "alerts": 0, "errors": 0}
    bar = tqdm(total=len(todo), unit="txn", desc="score", disable=not progress, dynamic_ncols=True)
    with open(out, "a", encoding="utf-8") as fh:
        for start in range(0, len(todo), batch_size):
            chunk = todo.iloc[start : start + batch_size].reset_index(drop=True)
            results = det.predict(chunk, errors="record")
            counts["alerts"] += sum(r.alert for r in results)
            counts["errors"] += sum(r.error is not None for r in results)
            counts["scored"] += len(results)
            fh.write("".join(json.dumps(r.to_dict()) + "\n" for r in results))
            fh.flush()
            os.fsync(fh.fileno())
            bar.update(len(chunk))
    bar.close()
    return counts


def _predict(args: argparse.Namespace) -> int:
    det = _detector(args)
    counts = score_file(det, args.data, args.out, args.batch_size, progress=not args.no_progress)
    print(json.dumps(counts))
    return 0


def _explain(args: argparse.Namespace) -> int:
    det = _detector(args)
    exp = det.explain(args.transaction_id, _read(args.data, det.temporal_) if args.data else None)
    print(json.dumps(exp.to_dict(), indent=2))
    if args.picture:
        exp.draw().save(args.picture)
        print(f"picture: {args.picture}", file=sys.stderr)
    return 0


def _export(args: argparse.Namespace) -> int:
    det = _detector(args)
    print(det.export(args.out, int8=not args.no_int8))
    return 0
