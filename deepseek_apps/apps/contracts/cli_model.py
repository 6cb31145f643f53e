"""``deepseek-apps contracts train|evaluate``: the learned clause tagger on CUAD-layout data.

``train`` fine-tunes LoRA adapters and heads on the contracts of ``--data`` (a ``labels.csv``
in CUAD's layout plus ``contracts/*.txt``), holds out a seeded split by contract, evaluates on
it and writes ``clause_tagger.safetensors``, ``clause_tagger.json`` (config + metrics) and a
model card. ``evaluate`` prints field P/R/F1 and clause AUPR / precision at 80% recall.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def add_commands(cmds: argparse._SubParsersAction) -> None:
    """Register ``train`` and ``evaluate`` under ``deepseek-apps contracts``."""
    t = cmds.add_parser("train", help="fine-tune the clause tagger on labelled contracts (CUAD layout)")
    t.add_argument("--data", required=True, help="folder with labels.csv and contracts/*.txt")
    t.add_argument("--out", required=True, help="output folder for the trained weights")
    t.add_argument("--epochs", type=int, default=2)
    t.add_argument("--neg-ratio", type=float, default=0.5, help="clause-free windows per clause window")
    t.add_argument("--rank", type=int, default=16, help="LoRA rank")
    t.add_argument("--val-fraction", type=float, default=0.2, help="contracts held out for the report")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--max-steps", type=int, default=None, help="stop after this many batches (quick runs)")
    t.add_argument("--init", default=None, help="continue from trained weights ('default' = the shipped model)")
    t.add_argument("--lr", type=float, default=5e-4, help="adapter learning rate (heads: 4x)")
    t.set_defaults(func=_train)
    e = cmds.add_parser("evaluate", help="field P/R/F1 and clause AUPR on labelled contracts")
    e.add_argument("--data", required=True, help="folder with labels.csv and contracts/*.txt")
    e.add_argument("--model", default=None, help="trained tagger folder (default: the shipped model)")
    e.add_argument("--split", choices=["val", "all"], default="val", help="the seeded held-out part, or every contract")
    e.add_argument("--val-fraction", type=float, default=0.2)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--backend", choices=["onnx-int8", "onnx", "torch"], default="onnx-int8")
    e.add_argument(
        "--baseline", action="store_true", help="also score TF-IDF + logistic regression (trained on the rest)"
    )
    e.add_argument("--limit", type=int, default=None, help="only the first N contracts")
    e.add_argument("--json", action="store_true", help="print the report as JSON")
    e.set_defaults(func=_evaluate)


def _split(data: str, fraction: float, seed: int) -> tuple[list[str], list[str]]:
    from .evaluate import load_labels, split_contracts

    table, _ = load_labels(data)
    return split_contracts(list(table["Text File"]), fraction=fraction, seed=seed)


def _train(args: argparse.Namespace) -> int:
    import torch

    from .clause_data import load_labelled, window_texts
    from .clause_eval import evaluate_tagger
    from .clause_lexical import LexicalScorer
    from .clause_runtime import ClauseModel
    from .clause_train import TrainConfig, save_tagger, train_tagger

    torch.set_num_threads(args.threads)
    train_names, val_names = _split(args.data, args.val_fraction, args.seed)
    init = args.init
    if init == "default":
        from .clause_runtime import DEFAULT_DIR

        init = str(DEFAULT_DIR)
    config = TrainConfig(
        epochs=args.epochs,
        neg_ratio=args.neg_ratio,
        rank=args.rank,
        seed=args.seed,
        max_steps=args.max_steps,
        init=init,
        lr=args.lr,
        head_lr=4 * args.lr,
    )
    started = time.perf_counter()
    contracts = load_labelled(args.data, train_names)
    tagger, _, losses = train_tagger(contracts, config)
    meta = {"train_contracts": len(train_names), "val_contracts": len(val_names), "losses": losses}
    meta["train_seconds"] = round(time.perf_counter() - started, 1)
    save_tagger(tagger, args.out, config, meta)
    texts, labels = window_texts(contracts, config.size, config.stride)
    LexicalScorer(min_df=2 if len(texts) > 1000 else 1).fit(texts, labels).save(args.out)
    if val_names:
        model = ClauseModel(args.out, backend="torch", threads=args.threads)
        report = evaluate_tagger(model, load_labelled(args.data, val_names))
        meta["validation"] = _summary(report)
        save_tagger(tagger, args.out, config, meta)
    print(json.dumps({"out": str(args.out), **meta}, indent=2))
    return 0


def _summary(report: dict) -> dict:
    window = {name: {k: v for k, v in m.items() if k != "per_category"} for name, m in report["window"].items()}
    return {"contracts": report["contracts"], "windows": report["windows"], "window": window, "span": report["span"]}


def _evaluate(args: argparse.Namespace) -> int:
    from .app import ContractParser
    from .clause_data import load_labelled
    from .clause_eval import evaluate_tagger
    from .clause_runtime import ClauseModel
    from .evaluate import load_labels, score_fields

    train_names, val_names = _split(args.data, args.val_fraction, args.seed)
    names = val_names if args.split == "val" else sorted(train_names + val_names)
    names = names[: args.limit] if args.limit else names
    table, folder = load_labels(args.data)
    rows = {r["Text File"]: r for r in table.to_dict("records")}
    rules = ContractParser(clauses=False)
    fields = score_fields([(rules.analyze(folder / n), rows[n]) for n in names])
    model = ClauseModel(args.model, backend=args.backend)
    baseline = load_labelled(args.data, train_names) if args.baseline and args.split == "val" else None
    report = {
        "split": args.split,
        "fields": fields,
        **evaluate_tagger(model, load_labelled(args.data, names), baseline),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{len(names)} contracts ({args.split})\n\nfield                      P      R      F1")
    for field, s in fields.items():
        print(f"{field:<24} {s['precision']:6.3f} {s['recall']:6.3f} {s['f1']:6.3f}")
    print("\nclause windows            AUPR   P@80R")
    for name, m in report["window"].items():
        print(f"{name:<24} {m['aupr']:6.3f} {m['p_at_80r']:6.3f}")
    span = report["span"]
    print(f"\nclause spans (CUAD)      AUPR {span['aupr']:.1f}  P@80R {span['p_at_80r']:.1f}", file=sys.stdout)
    return 0
