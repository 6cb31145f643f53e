"""``deepseek-apps recommender train|evaluate|score|export|serve``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recommender", help="rank items for users from their behaviour (DINRecommender)")
    cmds = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = cmds.add_parser("train", help="train DIN on a behaviour log (CSV, Parquet, MovieLens, Amazon)")
    _data_args(t)
    t.add_argument("--out", required=True, help="model folder to write")
    t.add_argument("--model", default="din", choices=["din", "base"])
    t.add_argument("--activation", default="prelu", choices=["prelu", "dice"])
    t.add_argument("--item-features", type=int, default=16, help="embedding size")
    t.add_argument("--attention-heads", type=int, default=1)
    t.add_argument("--max-len", type=int, default=50, help="history length")
    t.add_argument("--user-features", default=None, help="comma-separated user columns (default: all in the log)")
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--batch-size", type=int, default=256)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--mba-lambda", type=float, default=0.0, help="mini-batch aware L2 strength")
    t.add_argument("--patience", type=int, default=2)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=None)
    t.add_argument("--baseline", action="store_true", help="also train the BaseModel and print RelaImpr")
    t.add_argument("--no-progress", action="store_true")
    t.set_defaults(func=_train)

    e = cmds.add_parser("evaluate", help="AUC, GAUC and log loss of a model on a log's held-out split")
    _data_args(e)
    e.add_argument("--model", required=True, help="model folder")
    e.add_argument("--split", default="test", choices=["train", "valid", "test"])
    e.set_defaults(func=_evaluate)

    s = cmds.add_parser("score", help="top-k for many users into JSON lines (resumable)")
    s.add_argument("--model", default=None, help="model folder or bundle (default: the embedded demo model)")
    s.add_argument("--users", default="all", help="'all', a file with one user id per line, or comma-separated ids")
    s.add_argument("--k", type=int, default=10)
    s.add_argument("--out", required=True, help="JSON lines output; re-running resumes")
    s.add_argument("--no-progress", action="store_true")
    s.set_defaults(func=_score)

    x = cmds.add_parser("export", help="ONNX edge bundle (dynamic batch and history), optionally INT8")
    x.add_argument("--model", default=None, help="model folder (default: the embedded demo model)")
    x.add_argument("--out", required=True, help="bundle path (.zip or folder)")
    x.add_argument("--int8", action="store_true")
    x.set_defaults(func=_export)

    v = cmds.add_parser("serve", help="HTTP endpoint (FastAPI): GET /recommend, POST /events, GET /stats")
    v.add_argument("--model", default=None, help="model folder or bundle (default: the embedded demo model)")
    v.add_argument("--host", default="127.0.0.1")
    v.add_argument("--port", type=int, default=8000)
    v.add_argument("--redis-url", default=None, help="e.g. redis://127.0.0.1:6379/0")
    v.add_argument("--max-batch-size", type=int, default=16)
    v.add_argument("--max-latency-ms", type=float, default=2.0)
    v.set_defaults(func=_serve)


def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="log file or MovieLens folder")
    p.add_argument(
        "--format", default=None, choices=["csv", "parquet", "movielens", "amazon"], help="default: from the path"
    )
    p.add_argument("--meta", default=None, help="amazon: product metadata JSON lines")
    p.add_argument("--user-columns", default="", help="csv/parquet: comma-separated user feature columns")


def _load(args: argparse.Namespace):
    from .loaders import load_log

    cols = [c for c in args.user_columns.split(",") if c]
    return load_log(args.data, args.format, user_columns=cols, meta=args.meta)


def _train(args: argparse.Namespace) -> int:
    from .app import DINRecommender
    from .train import TrainSettings

    settings = TrainSettings(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        mba_lambda=args.mba_lambda,
        patience=args.patience,
        seed=args.seed,
        threads=args.threads,
        progress=not args.no_progress,
    )
    rec = DINRecommender(
        user_features=args.user_features.split(",") if args.user_features else None,
        item_features=args.item_features,
        attention_heads=args.attention_heads,
        max_len=args.max_len,
        model=args.model,
        activation=args.activation,
        train_settings=settings,
        threads=args.threads,
    )
    rec.fit(_load(args), baseline=args.baseline)
    rec.save(args.out)
    keep = ("valid", "test", "samples", "baseline_test", "rela_impr_test_auc")
    print(
        json.dumps({"out": args.out, **{k: v for k, v in rec.metrics_.items() if k in keep}}, indent=2, default=float)
    )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from .app import DINRecommender

    metrics = DINRecommender.load(args.model).evaluate(_load(args), split=args.split)
    print(json.dumps({"split": args.split, **metrics.to_dict()}, indent=2, default=float))
    return 0


def _users(spec: str, rec) -> list:
    if spec == "all":
        return list(rec.catalog_.user_ids)
    path = Path(spec)
    raw = path.read_text().split() if path.is_file() else [u for u in spec.split(",") if u]
    ids = rec.catalog_.user_ids
    return [ids[i - 1] if (i := rec.catalog_.user_index(u)) else u for u in raw]


def _score(args: argparse.Namespace) -> int:
    from .app import DINRecommender
    from .scoring import score_users

    rec = DINRecommender(model_path=args.model)
    summary = score_users(rec, _users(args.users, rec), args.out, k=args.k, progress=not args.no_progress)
    print(json.dumps(summary.to_dict(), indent=2))
    return 0 if summary.errors == 0 else 1


def _export(args: argparse.Namespace) -> int:
    from .app import DINRecommender
    from .export import export_bundle

    out = export_bundle(DINRecommender(model_path=args.model), args.out, int8=args.int8)
    print(f"bundle: {out}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from ...errors import require
    from .app import DINRecommender
    from .http import create_app
    from .serving import RecommendationService

    uvicorn = require("uvicorn", "recommender")
    service = RecommendationService(
        DINRecommender(model_path=args.model),
        redis_url=args.redis_url,
        max_batch_size=args.max_batch_size,
        max_latency_ms=args.max_latency_ms,
    )
    print(f"serving on http://{args.host}:{args.port} (redis: {args.redis_url or 'off'})", file=sys.stderr)
    try:
        uvicorn.run(create_app(service), host=args.host, port=args.port, log_level="warning")
    finally:
        service.close()
    return 0
