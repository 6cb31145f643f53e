"""``fraud train --nodes/--edges`` or ``--transactions/--entity-labels``; the entity side of ``score`` / ``evaluate`` / ``explain``.

deepseek-apps fraud train --nodes nodes.csv --edges invest=invest.csv --edges sale=sale.csv --out runs/companies
deepseek-apps fraud train --transactions tx.csv --entity-labels mules.csv --out runs/mules  # graph from a log
deepseek-apps fraud score ids.csv --model runs/companies --out scores.jsonl   # fitted ids, or new nodes + --edges
deepseek-apps fraud score new_tx.csv --new-transactions --model runs/mules --out scores.jsonl  # new entities of a log
deepseek-apps fraud evaluate --model runs/companies --data labelled_nodes.csv
deepseek-apps fraud explain c17 --model runs/companies --picture c17.png
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ....errors import ErrorCode, InvalidInputError
from ..cli_train import fit_and_save
from .graph import EntityTask
from .txlog import TransactionLog


def edge_specs(specs: list[str] | None) -> dict[str, str] | None:
    """``["invest=invest.csv", ...]`` as ``{"invest": "invest.csv"}``; one plain path is one table with a relation column."""
    if not specs:
        return None
    if len(specs) == 1 and "=" not in specs[0]:
        return specs[0]
    out = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise InvalidInputError(
                ErrorCode.FRAUD_BAD_EDGES,
                "an --edges value must be RELATION=PATH",
                value=spec,
                hint="e.g. --edges invest=invest.csv",
            )
        out[name] = path
    return out


def graph_input(args: argparse.Namespace) -> tuple[Any, Any]:
    """``fit``'s ``(nodes, edges)``: the node and edge tables, or a ``TransactionLog`` (``--entity-labels``)."""
    if not args.entity_labels:
        return args.nodes, edge_specs(args.edges)
    if args.nodes or args.edges or not args.data:
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            "--entity-labels builds the graph from --transactions; it takes no --nodes / --edges",
            value={"nodes": args.nodes, "edges": args.edges, "transactions": args.data},
            hint="deepseek-apps fraud train --transactions tx.csv --entity-labels mules.csv --out runs/mules",
        )
    return TransactionLog(args.data, args.entity_labels), None


def train(args: argparse.Namespace) -> int:
    from ..app import FraudDetector

    task = EntityTask(directed=tuple(args.directed or ()), epochs=args.epochs)
    amounts = {"max_amount": args.max_amount, "allow_negative_amounts": args.allow_negative_amounts}
    det = FraudDetector(task=task, arch=args.arch, target_fpr=args.target_fpr, seed=args.seed, **amounts)
    nodes, edges = graph_input(args)
    fit_kwargs = {"accounts": edges, "val_fraction": args.val_fraction, "test_fraction": args.test_fraction}
    det, out = fit_and_save(det, nodes, fit_kwargs, args)
    print(
        json.dumps({"arch": det.arch_, "threshold": det.threshold_, "test": det.metrics_.get("test"), "out": str(out)})
    )
    return 0


def score(det, args: argparse.Namespace) -> int:
    from pathlib import Path

    if getattr(args, "new_transactions", False):
        if args.edges:
            raise InvalidInputError(
                ErrorCode.INVALID_ARGUMENT,
                "--new-transactions builds the new entities' edges from the transactions; it takes no --edges",
                value=args.edges,
                hint="deepseek-apps fraud score new_tx.csv --new-transactions --model runs/mules --out scores.jsonl",
            )
        results = det.score_entities_after(args.data)
    else:
        results = det.score(args.data, edges=edge_specs(getattr(args, "edges", None)))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in results), encoding="utf-8")
    print(json.dumps({"scored": len(results), "alerts": sum(r.alert for r in results), "out": str(out)}))
    return 0


def evaluate(det, args: argparse.Namespace) -> int:
    print(json.dumps(det.evaluate(args.data, edges=edge_specs(getattr(args, "edges", None))).to_dict()))
    return 0


def explain(det, args: argparse.Namespace) -> int:
    exp = det.explain(args.transaction_id)
    print(json.dumps(exp.to_dict(), indent=2))
    if args.picture:
        exp.draw().save(args.picture)
        print(f"picture: {args.picture}", file=sys.stderr)
    return 0
