"""``deepseek-apps fraud train|evaluate|score|explain|export``.

``score`` writes one JSON line per transaction and resumes: a re-run skips ids already in
the output (a torn last line is cut off first) and scores the rest; a transaction that
fails validation becomes a line with an ``error`` instead of stopping the job.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ...core.runtime.jsonl import read_records


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fraud", help="fraud detection on transaction graphs (FraudDetector)")
    cmds = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    t = cmds.add_parser("train", help="train on labelled transactions (CSV / Parquet / JSONL)")
    t.add_argument("--data", required=True, help="transactions file, or 'synthetic:N' for generated data")
    t.add_argument("--out", required=True, help="output model folder")
    t.add_argument("--model", default="auto", choices=["auto", "gnn", "trees", "hybrid", "blend"])
    t.add_argument("--target-fpr", type=float, default=0.01)
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--no-time", action="store_true", help="the file has no timestamps (static graph)")
    t.add_argument("--accounts", default=None, help="optional account table (entity_id + numeric attributes)")
    t.add_argument("--merchants", default=None, help="optional merchant table (entity_id + numeric attributes)")
    t.set_defaults(func=_train)
    for name, helptext in (("evaluate", "metrics of every model on new labelled transactions"),):
        e = cmds.add_parser(name, help=helptext)
        e.add_argument("--data", required=True)
        e.add_argument("--model", default=None, help="model folder (default: the shipped model)")
        e.set_defaults(func=_evaluate)
    s = cmds.add_parser("score", help="score new transactions into JSON lines (resumable)")
    s.add_argument("data", help="transactions file")
    s.add_argument("--out", required=True, help="output .jsonl")
    s.add_argument("--model", default=None)
    s.add_argument("--batch-size", type=int, default=10000, help="rows per call (each call re-reads the history)")
    s.add_argument("--no-progress", action="store_true")
    s.set_defaults(func=_score)
    x = cmds.add_parser("explain", help="why a history transaction scored as it did")
    x.add_argument("transaction_id")
    x.add_argument("--model", default=None)
    x.add_argument("--data", default=None, help="new transactions holding the id (scored after the history)")
    x.add_argument("--picture", default=None, help="write the subgraph picture (.png)")
    x.set_defaults(func=_explain)
    o = cmds.add_parser("export", help="copy a model into a verified bundle (.zip or folder)")
    o.add_argument("--model", default=None)
    o.add_argument("--out", required=True)
    o.set_defaults(func=_export)


def _detector(path):
    from .app import FraudDetector

    return FraudDetector.load(path) if path else FraudDetector()


def _read(data: str, temporal: bool = True):
    from .data import load_transactions

    if data.startswith("synthetic:"):
        from .synthetic import generate_transactions

        return generate_transactions(int(data.split(":", 1)[1]), seed=0)
    return load_transactions(data, require_time=temporal, require_amount=temporal)


def _train(args: argparse.Namespace) -> int:
    from .app import FraudDetector
    from .model import GNNConfig

    det = FraudDetector(model=args.model, target_fpr=args.target_fpr, gnn=GNNConfig(epochs=args.epochs, seed=args.seed))
    det.seed = args.seed
    det.fit(_read(args.data, not args.no_time), accounts=args.accounts, merchants=args.merchants, progress=True)
    det.save(args.out)
    print(json.dumps({"model": det.model_, "test": det.metrics_["test"], "out": str(args.out)}, indent=2))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    det = _detector(args.model)
    print(json.dumps(det.evaluate(_read(args.data, det.temporal_)), indent=2))
    return 0


def read_done(out: Path) -> set[str]:
    """Ids already written to ``out``; a torn last line is cut off the file."""
    return set(read_records(out, key="id"))


def score_file(det, data: str, out: str | Path, batch_size: int = 10000, progress: bool = True) -> dict:
    """Score ``data`` into ``out`` (JSON lines), resuming; returns counts."""
    from tqdm.auto import tqdm

    from ...errors import DeepSeekAppsError
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
            chunk = todo.iloc[start : start + batch_size]
            try:
                lines = [json.dumps(s.to_dict()) for s in det.score(chunk.reset_index(drop=True))]
                counts["alerts"] += sum(json.loads(x)["alert"] for x in lines)
            except DeepSeekAppsError:
                lines = [_score_alone(det, row) for _, row in chunk.iterrows()]  # find the bad rows
            counts["errors"] += sum(json.loads(x)["error"] is not None for x in lines)
            counts["scored"] += len(lines)
            fh.write("".join(x + "\n" for x in lines))
            fh.flush()
            os.fsync(fh.fileno())
            bar.update(len(chunk))
    bar.close()
    return counts


def _score_alone(det, row) -> str:
    from ...errors import DeepSeekAppsError
    from .results import FraudScore

    try:
        return json.dumps(det.score([row.to_dict()])[0].to_dict())
    except DeepSeekAppsError as exc:
        return json.dumps(
            FraudScore(str(row["transaction_id"]), 0.0, False, det.threshold_, error=exc.to_dict()).to_dict()
        )


def _score(args: argparse.Namespace) -> int:
    det = _detector(args.model)
    counts = score_file(det, args.data, args.out, args.batch_size, progress=not args.no_progress)
    print(json.dumps(counts))
    return 0


def _explain(args: argparse.Namespace) -> int:
    det = _detector(args.model)
    exp = det.explain(args.transaction_id, _read(args.data, det.temporal_) if args.data else None)
    print(json.dumps(exp.to_dict(), indent=2))
    if args.picture:
        exp.draw().save(args.picture)
        print(f"picture: {args.picture}", file=sys.stderr)
    return 0


def _export(args: argparse.Namespace) -> int:
    det = _detector(args.model)
    print(det.save(args.out))
    return 0
