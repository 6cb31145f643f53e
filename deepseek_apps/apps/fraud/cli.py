"""``deepseek-apps fraud train|evaluate|predict (score)|export|explain``.

``--model`` is always a model path (a folder from ``train`` / ``save`` or a bundle from
``export``; default: the shipped model); ``--arch`` always an architecture.

``predict`` (alias ``score``) writes one JSON line per transaction and resumes: a re-run
skips rows already in the output (a torn last line is cut off first) and scores the rest. Every
row is checked first, at once; a row that fails becomes a line with an ``error`` (code,
message, ``row``: its 0-based position in the file) and the good rows are scored in chunks,
each once, with the scores the file without the bad rows gets (see ``rows`` for the rules:
a repeated id keeps its first row, labels are ignored, amounts above ``--max-amount`` or
negative ones without ``--allow-negative-amounts`` are 1209). An empty, header-only,
binary or unreadable file stops the job with 1210 / 1211 and a hint.

    deepseek-apps fraud train --data transactions.csv --out fraud_model --epochs 20
    deepseek-apps fraud train --transactions tx.csv --entity-labels mules.csv --out runs/mules  # entities
    deepseek-apps fraud evaluate --model fraud_model --data labelled.csv
    deepseek-apps fraud predict new.csv --model fraud_model --out scores.jsonl
    deepseek-apps fraud score new_tx.csv --new-transactions --model runs/mules --out scores.jsonl  # new entities
    deepseek-apps fraud export --model fraud_model --out fraud_bundle.zip
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from ...core.device import add_device_options
from ...core.runtime.jsonl import append_records, locked_output, read_records
from ...core.scale.options import add_engine_options, engine_options
from ...errors import ErrorCode, InvalidInputError, require
from .cli_train import fit_and_save
from .data import MAX_AMOUNT

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
    _amount_flags(p)


def _amount_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--max-amount", type=float, default=MAX_AMOUNT, help="amounts above it are refused, code 1209 (default 1e12)"
    )
    p.add_argument(
        "--allow-negative-amounts", action="store_true", help="accept negative amounts (refunds) instead of 1209"
    )


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fraud", help="fraud detection on transaction graphs (FraudDetector)")
    cmds = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    t = cmds.add_parser("train", help="train on labelled transactions (CSV / Parquet / JSONL)")
    t.add_argument(
        "--data",
        "--transactions",
        dest="data",
        default=None,
        help="labelled transactions file, or 'synthetic:N' for generated data; with --entity-labels: the transaction log",
    )
    t.add_argument(
        "--entity-labels",
        default=None,
        help="entity task from the --transactions log: entity labels (id, label 1 / 0 / empty; unlisted = unknown)",
    )
    t.add_argument("--nodes", default=None, help="entity task: node table (id, label, attributes, type)")
    t.add_argument("--edges", action="append", help="entity task: RELATION=PATH (repeat), or one table")
    t.add_argument("--directed", action="append", help="entity task: a directed relation's name (repeat; '*' = all)")
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
    add_device_options(t)  # --device, --precision
    add_engine_options(t, train=True)  # --engine ray --workers N: the GNN under DDP on Ray Train
    _amount_flags(t)
    t.set_defaults(func=_train)
    e = cmds.add_parser("evaluate", help="metrics of every architecture on new labelled transactions (JSON)")
    e.add_argument("--data", required=True, help="labelled transactions, later than the model's history")
    _serving_flags(e)
    e.set_defaults(func=_evaluate)
    s = cmds.add_parser(
        "predict", aliases=["score"], help="score new transactions into JSON lines (resumable, per-row errors)"
    )
    s.add_argument("data", help="transactions file (CSV / Parquet / JSONL); entity models: node ids or new nodes")
    s.add_argument("--edges", action="append", help="entity models: RELATION=PATH edges of new nodes (repeat)")
    s.add_argument(
        "--new-transactions",
        action="store_true",
        help="entity models fitted on a transaction log: DATA holds new transactions; score the new entities they bring",
    )
    s.add_argument("--out", required=True, help="output .jsonl (re-running skips ids already in it)")
    _serving_flags(s)
    s.add_argument("--batch-size", type=int, default=10000, help="rows per call (each call re-reads the history)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_engine_options(s)
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

    overrides = {
        "arch": getattr(args, "arch", None),
        "target_fpr": getattr(args, "target_fpr", None),
        **_amount_rules(args),
    }
    if args.model:
        return FraudDetector.load(args.model, **overrides)
    det = FraudDetector(**overrides)
    det.threshold_  # noqa: B018  (load the shipped model now: a bad one fails here, not mid-job)
    return det


def _amount_rules(args: argparse.Namespace) -> dict:
    return {
        "max_amount": getattr(args, "max_amount", MAX_AMOUNT),
        "allow_negative_amounts": getattr(args, "allow_negative_amounts", False),
    }


def _read(data: str, temporal: bool, args: argparse.Namespace):
    from .data import load_transactions

    if data.startswith("synthetic:"):
        from .synthetic import generate_transactions

        return generate_transactions(int(data.split(":", 1)[1]), seed=0)
    return load_transactions(data, require_time=temporal, require_amount=temporal, **_amount_rules(args))


def _train(args: argparse.Namespace) -> int:
    from .app import FraudDetector

    if args.nodes or args.entity_labels:
        from .entities import cli as entity_cli

        return entity_cli.train(args)
    if not args.data:
        raise SystemExit(
            "fraud train needs --data (transactions), --nodes/--edges or --transactions/--entity-labels (entities)"
        )
    from .model import GNNConfig

    gnn = GNNConfig(device=args.device, precision=args.precision)
    det = FraudDetector(arch=args.arch, target_fpr=args.target_fpr, seed=args.seed, gnn=gnn, **_amount_rules(args))
    fit_kwargs = {
        "accounts": args.accounts,
        "merchants": args.merchants,
        "val_fraction": args.val_fraction,
        "test_fraction": args.test_fraction,
        "seed": args.seed,
        "epochs": args.epochs,
        "progress": not args.no_progress,
    }
    det, out = fit_and_save(det, _read(args.data, not args.no_time, args), fit_kwargs, args)
    print(json.dumps({"arch": det.arch_, "threshold": det.threshold_, "test": det.metrics_["test"], "out": str(out)}))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    det = _detector(args)
    if det.__dict__.get("entity_model_") is not None:
        from .entities import cli as entity_cli

        return entity_cli.evaluate(det, args)
    print(json.dumps(det.evaluate(_read(args.data, det.temporal_, args)).to_dict()))
    return 0


def read_done(out: Path) -> set[str]:
    """Ids already written to ``out``; a torn last line is cut off the file."""
    return set(read_records(out, key="id"))


def lines_per_id(out: Path) -> Counter:
    """How many lines ``out`` holds for each id (a torn last line is cut off first)."""
    read_records(out, key="id")
    if not out.exists():
        return Counter()
    return Counter(json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines())


def rows_done(ids: np.ndarray, written: Counter) -> np.ndarray:
    """Rows whose line is already written: the k-th row with an id is done when ``k`` lines hold it.

    Lines are written in input order for each id (a repeated id's first row before its
    repeats), so counting is exact even when an input repeats an id.
    """
    pd = require("pandas", "fraud")
    series = pd.Series(ids, dtype=object)
    seen = series.groupby(series, sort=False).cumcount().to_numpy()
    return seen < series.map(written).fillna(0).to_numpy()


def score_file(
    det,
    data: str,
    out: str | Path,
    batch_size: int = 10000,
    progress: bool = True,
    engine: str = "local",
    **ray_options,
) -> dict:
    """Score ``data`` into ``out`` (JSON lines), resuming; bad rows become lines with an ``error``; returns counts.

    Every row is checked at once first (``FraudDetector.check_rows``); the good rows are scored
    in chunks of ``batch_size`` (each chunk once, together: a file without the bad rows gets
    the same scores); each bad row's line (code, message, ``row``) is written with the chunk
    it falls in, in input order. A second job on the same ``out`` fails with 4004.

    ``engine="ray"`` runs the same chunks on a Ray cluster (``ray_options``: ``address``,
    ``workers``) and writes ``out`` as a folder of parts (see ``core.scale.parts``).
    """
    from tqdm.auto import tqdm

    from ...core.scale.session import check_engine

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    checked = det.check_rows(data)
    if check_engine(engine) == "ray":
        from .ray_adapter import score_on_ray

        return score_on_ray(det, data, out, checked, plan_chunks, chunk_results, batch_size, progress, **ray_options)
    with locked_output(out) as fh:
        todo = ~rows_done(checked.ids, lines_per_id(out))
        good = checked.good[todo[checked.good]]
        bad = np.array([i for i in checked.errors if todo[i]], dtype=np.int64)
        counts = {"total": len(checked), "skipped": int((~todo).sum()), "scored": 0, "alerts": 0, "errors": 0}
        bar = tqdm(total=int(todo.sum()), unit="txn", desc="score", disable=not progress, dynamic_ncols=True)
        for chunk, carried in plan_chunks(good, bad, batch_size):
            results = chunk_results(det, checked, chunk, carried)
            counts["scored"] += len(chunk)
            counts["alerts"] += sum(r.alert for r in results if r.error is None)
            counts["errors"] += len(carried)
            append_records(fh, [r.to_dict() for r in results])
            bar.update(len(results))
        bar.close()
    return counts


def plan_chunks(good: np.ndarray, bad: np.ndarray, batch_size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Chunks of ``batch_size`` good rows, each with the bad rows whose lines it writes.

    A bad row goes with the first chunk that reaches past it (the last chunk takes the rest).
    """
    chunks = [good[s : s + batch_size] for s in range(0, len(good), batch_size)] or [good]
    last = np.array([c[-1] if len(c) else -1 for c in chunks])
    home = np.minimum(np.searchsorted(last, bad), len(chunks) - 1)
    return [(chunk, bad[home == k]) for k, chunk in enumerate(chunks)]


def chunk_results(det, checked, chunk: np.ndarray, carried: np.ndarray) -> list:
    """One chunk's results in input order: its good rows scored together, its bad rows' coded errors."""
    lines = [(int(i), det.failed_row(checked, int(i))) for i in carried]
    if len(chunk):
        lines += list(zip(chunk.tolist(), det.score(checked.rows(chunk))))
    return [r for _, r in sorted(lines, key=lambda pair: pair[0])]


def _predict(args: argparse.Namespace) -> int:
    det = _detector(args)
    if det.__dict__.get("entity_model_") is not None:
        from .entities import cli as entity_cli

        return entity_cli.score(det, args)
    if args.new_transactions:
        raise InvalidInputError(
            ErrorCode.FRAUD_WRONG_TASK,
            "--new-transactions is for entity models fitted on a transaction log; this is a transaction model",
            value=args.model,
            hint="drop --new-transactions: a transaction model scores the transactions in DATA",
        )
    counts = score_file(
        det, args.data, args.out, args.batch_size, progress=not args.no_progress, **engine_options(args)
    )
    print(json.dumps(counts))
    return 0


def _explain(args: argparse.Namespace) -> int:
    det = _detector(args)
    if det.__dict__.get("entity_model_") is not None:
        from .entities import cli as entity_cli

        return entity_cli.explain(det, args)
    exp = det.explain(args.transaction_id, _read(args.data, det.temporal_, args) if args.data else None)
    print(json.dumps(exp.to_dict(), indent=2))
    if args.picture:
        exp.draw().save(args.picture)
        print(f"picture: {args.picture}", file=sys.stderr)
    return 0


def _export(args: argparse.Namespace) -> int:
    det = _detector(args)
    print(det.export(args.out, int8=not args.no_int8))
    return 0
