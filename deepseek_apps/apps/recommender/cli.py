"""``deepseek-apps recommender train|evaluate|predict (score)|export|serve``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ...core.device import add_device_options
from ...core.scale.options import add_engine_options, engine_options, train_engine_options


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recommender", help="rank items for users from their behaviour (DINRecommender)")
    cmds = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = cmds.add_parser(
        "train",
        help="train DIN on a behaviour log (CSV, Parquet, MovieLens, Amazon)",
        description="Train DIN. The split is leave-last-out per user (last click = test, the one before = "
        "validation), so there is no --val-fraction. The last stdout line is the final metrics as JSON.",
    )
    _data_args(t)
    t.add_argument("--out", required=True, help="model folder to write (open it with DINRecommender.load)")
    t.add_argument(
        "--arch", default="din", choices=["din", "base"], help="din: attention pooling; base: the BaseModel (sum)"
    )
    t.add_argument("--activation", default="prelu", choices=["prelu", "dice"], help="activation of the MLPs")
    t.add_argument("--item-features", type=int, default=16, help="embedding size of items, categories, user features")
    t.add_argument("--attention-heads", type=int, default=1, help="heads of the local activation unit")
    t.add_argument("--max-len", type=int, default=50, help="history length: the most recent clicks the model sees")
    t.add_argument("--user-features", default=None, help="comma-separated user columns (default: all in the log)")
    t.add_argument("--epochs", type=int, default=10, help="maximum epochs (early stopping on validation GAUC)")
    t.add_argument("--batch-size", type=int, default=256, help="samples per optimiser step")
    t.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    t.add_argument("--mba-lambda", type=float, default=0.0, help="mini-batch aware L2 strength")
    t.add_argument("--patience", type=int, default=2, help="epochs without a better validation GAUC before stopping")
    t.add_argument("--seed", type=int, default=0, help="seed of negative sampling, initialisation and shuffling")
    t.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    add_device_options(t)  # --device, --precision
    add_engine_options(t, train=True)  # --engine ray --workers N: DDP on Ray Train
    t.add_argument("--baseline", action="store_true", help="also train the BaseModel and print RelaImpr")
    t.add_argument("--no-progress", action="store_true", help="no progress bars or per-epoch lines")
    t.set_defaults(func=_train)

    e = cmds.add_parser("evaluate", help="AUC, GAUC and log loss of a model on a log's held-out split (JSON)")
    _data_args(e)
    e.add_argument("--model", default=None, help="model folder or bundle (default: the shipped model)")
    e.add_argument("--split", default="test", choices=["train", "valid", "test"], help="which held-out clicks")
    e.set_defaults(func=_evaluate)

    s = cmds.add_parser(
        "predict", aliases=["score"], help="top-k for many users into JSON lines (resumable, errors recorded)"
    )
    s.add_argument("--model", default=None, help="model folder or bundle (default: the shipped model)")
    s.add_argument("--users", default="all", help="'all', a file with one user id per line, or comma-separated ids")
    s.add_argument("--k", type=int, default=10, help="items per user")
    s.add_argument("--out", required=True, help="JSON lines output; re-running resumes")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_engine_options(s)
    s.set_defaults(func=_score)

    x = cmds.add_parser("export", help="ONNX edge bundle (dynamic batch and history), INT8 by default")
    x.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    x.add_argument("--out", required=True, help="bundle path (.zip or folder)")
    x.add_argument("--no-int8", dest="int8", action="store_false", help="keep FP32 weights")
    x.add_argument("--int8", dest="int8", action="store_true", help=argparse.SUPPRESS)  # the old flag, now the default
    x.set_defaults(func=_export, int8=True)

    v = cmds.add_parser("serve", help="HTTP endpoint (FastAPI): GET /recommend, POST /events, GET /stats")
    v.add_argument("--model", default=None, help="model folder or bundle (default: the shipped model)")
    v.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    v.add_argument("--port", type=int, default=8000, help="port to listen on")
    v.add_argument("--redis-url", default=None, help="e.g. redis://127.0.0.1:6379/0 (default: in-process cache only)")
    v.add_argument("--max-batch-size", type=int, default=16, help="requests per batched forward pass")
    v.add_argument("--max-latency-ms", type=float, default=2.0, help="how long a request waits for company")
    v.add_argument("--max-body-bytes", type=int, default=64 * 1024, help="largest request body (413 beyond it)")
    v.add_argument("--max-id-chars", type=int, default=256, help="longest user / item id accepted")
    v.add_argument("--max-history-users", type=int, default=100_000, help="users whose history is kept in process")
    v.set_defaults(func=_serve)


def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="behaviour log: CSV / Parquet file, MovieLens folder, Amazon reviews")
    p.add_argument(
        "--format",
        default=None,
        choices=["csv", "parquet", "movielens", "amazon"],
        help="log format (default: from the path)",
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
        device=args.device,
        precision=args.precision,
        # on Ray: the Trainer checkpoints into --out each epoch, Ray keeps them, a lost worker resumes
        out_dir=args.out if args.engine == "ray" else None,
    )
    rec = DINRecommender(
        user_features=args.user_features.split(",") if args.user_features else None,
        item_features=args.item_features,
        attention_heads=args.attention_heads,
        max_len=args.max_len,
        arch=args.arch,
        activation=args.activation,
        train_settings=settings,
        threads=args.threads,
    )
    if args.engine == "ray":  # DDP on Ray Train workers; rank 0 saves to --out
        from ...core.scale.ray_train import fit_app_on_ray

        rec, _ = fit_app_on_ray(rec, _load(args), {"baseline": args.baseline}, args.out, **train_engine_options(args))
    else:
        rec.fit(_load(args), baseline=args.baseline)
        rec.save(args.out)
    keep = ("valid", "test", "samples", "baseline_test", "rela_impr_test_auc")
    print(json.dumps({"out": str(args.out), **{k: v for k, v in rec.metrics_.items() if k in keep}}, default=float))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from .app import DINRecommender

    rec = DINRecommender.load(args.model) if args.model else DINRecommender.pretrained()
    metrics = rec.evaluate(_load(args), split=args.split)
    print(json.dumps({"split": args.split, **metrics.to_dict()}, default=float))
    return 0


def _users(spec: str, rec) -> list:
    if spec == "all":
        return list(rec.catalog_.user_ids)
    path = Path(spec)
    raw = path.read_text().split() if path.is_file() else [u for u in spec.split(",") if u]
    return [rec.catalog_.canonical_user(u) for u in raw]  # the one id rule of ids.py


def _score(args: argparse.Namespace) -> int:
    from .app import DINRecommender
    from .scoring import score_users

    rec = DINRecommender(model_path=args.model)
    chunk = {"chunk": args.batch_size} if args.batch_size else {}
    summary = score_users(
        rec, _users(args.users, rec), args.out, k=args.k, progress=not args.no_progress, **chunk, **engine_options(args)
    )
    print(json.dumps(summary.to_dict(), indent=2))
    return 0 if summary.errors == 0 else 1


def _export(args: argparse.Namespace) -> int:
    from .app import DINRecommender

    out = DINRecommender(model_path=args.model).export(args.out, int8=args.int8)
    print(f"bundle: {out}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from ...errors import require
    from .app import DINRecommender
    from .http import create_app
    from .serving import RecommendationService, ServiceLimits

    uvicorn = require("uvicorn", "recommender")
    service = RecommendationService(
        DINRecommender(model_path=args.model),
        redis_url=args.redis_url,
        max_batch_size=args.max_batch_size,
        max_latency_ms=args.max_latency_ms,
        limits=ServiceLimits(
            max_body_bytes=args.max_body_bytes,
            max_id_chars=args.max_id_chars,
            max_history_users=args.max_history_users,
        ),
    )
    print(f"serving on http://{args.host}:{args.port} (redis: {args.redis_url or 'off'})", file=sys.stderr)
    try:
        uvicorn.run(create_app(service), host=args.host, port=args.port, log_level="warning")
    finally:
        service.close()
    return 0
