"""``deepseek-apps contracts train|evaluate|export``: the learned clause tagger on CUAD-layout data.

``train`` fine-tunes LoRA adapters and heads on the contracts of ``--data`` (a ``labels.csv``
in CUAD's layout plus ``contracts/*.txt``), holds out a seeded split by contract, evaluates on
it and writes a model folder (``ContractParser.load(DIR)`` opens it); the final metrics are
the last line of stdout, as JSON. ``evaluate`` prints field P/R/F1 and clause AUPR / precision
at 80% recall; ``export`` writes an edge bundle that runs without PyTorch.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ...core.device import add_device_options
from ...core.scale.options import add_engine_options, train_engine_options
from .clauses.inference import BACKENDS


def add_commands(cmds: argparse._SubParsersAction) -> None:
    """Register ``train``, ``evaluate`` and ``export`` under ``deepseek-apps contracts``."""
    t = cmds.add_parser("train", help="fine-tune the clause tagger on labelled contracts (CUAD layout)")
    t.add_argument("--data", required=True, help="folder with labels.csv and contracts/*.txt")
    t.add_argument("--out", required=True, help="output model folder (ContractParser.load(OUT) opens it)")
    t.add_argument("--epochs", type=int, default=2, help="passes over the training windows")
    t.add_argument("--seed", type=int, default=0, help="seed of the split by contract (and of the draws, by default)")
    t.add_argument(
        "--sample-seed",
        type=int,
        default=None,
        help="seed of the initialisation and of the window draws (default: --seed); to continue a run "
        "with --init on the same held-out contracts, keep --seed and change this",
    )
    t.add_argument("--val-fraction", type=float, default=0.2, help="contracts held out for the validation report")
    t.add_argument("--neg-ratio", type=float, default=0.5, help="clause-free windows per clause window")
    t.add_argument("--rank", type=int, default=16, help="LoRA rank")
    t.add_argument("--threads", type=int, default=2, help="PyTorch intra-op threads")
    add_device_options(t)  # --device, --precision
    add_engine_options(t, train=True)  # --engine ray --workers N: DDP on Ray Train
    t.add_argument("--max-steps", type=int, default=None, help="stop after this many batches (quick runs)")
    t.add_argument("--init", default=None, help="continue from a model folder ('default' = the shipped model)")
    t.add_argument("--lr", type=float, default=5e-4, help="adapter learning rate (heads: 4x)")
    t.add_argument(
        "--layers", type=int, default=None, help="keep the encoder's first N of its 6 layers (faster; default: all)"
    )
    t.add_argument(
        "--teacher",
        default=None,
        help="distil from a trained model folder ('default' = the shipped model): the loss also follows its probabilities",
    )
    t.add_argument("--distill", type=float, default=0.5, help="weight of the teacher's probabilities in the loss")
    t.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    t.set_defaults(func=_train)
    e = cmds.add_parser("evaluate", help="field P/R/F1 and clause AUPR on labelled contracts")
    e.add_argument("--data", required=True, help="folder with labels.csv and contracts/*.txt")
    e.add_argument("--model", default=None, help="model folder or bundle (default: the shipped model)")
    e.add_argument("--split", choices=["val", "all"], default="val", help="the seeded held-out part, or every contract")
    e.add_argument("--val-fraction", type=float, default=0.2, help="held-out fraction of --split val")
    e.add_argument("--seed", type=int, default=0, help="seed of the split (as in train)")
    e.add_argument(
        "--backend",
        choices=list(BACKENDS),
        default=None,
        help="clause model runtime (default: the model's)",
    )
    e.add_argument(
        "--baseline", action="store_true", help="also score TF-IDF + logistic regression (trained on the rest)"
    )
    e.add_argument("--limit", type=int, default=None, help="only the first N contracts")
    e.add_argument("--json", action="store_true", help="print the report as JSON (the metrics JSON is always last)")
    e.set_defaults(func=_evaluate)
    x = cmds.add_parser("export", help="write an edge bundle (ONNX + tokenizer, runs without PyTorch)")
    x.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    x.add_argument("--out", required=True, help="bundle path: a .zip, or a folder")
    x.add_argument("--no-int8", action="store_true", help="keep the encoder in FP32 (default: dynamic INT8)")
    x.set_defaults(func=_export)


def _train(args: argparse.Namespace) -> int:
    import torch

    from .app import ContractParser

    torch.set_num_threads(args.threads)
    settings = dict(
        val_fraction=args.val_fraction, seed=args.seed, epochs=args.epochs, progress=not args.no_progress,
        neg_ratio=args.neg_ratio, rank=args.rank, max_steps=args.max_steps, init=args.init, lr=args.lr,
        sample_seed=args.sample_seed, layers=args.layers, teacher=args.teacher, distill=args.distill,
        device=args.device, precision=args.precision,
    )  # fmt: skip
    if args.engine == "ray":  # DDP on Ray Train workers; rank 0 saves to --out
        from ...core.scale.ray_train import fit_app_on_ray

        _, metrics = fit_app_on_ray(ContractParser(), args.data, settings, args.out, **train_engine_options(args))
        out = Path(args.out)
    else:
        parser = ContractParser().fit(args.data, **settings)
        out, metrics = parser.save(args.out), parser.metrics_
    print(json.dumps({"out": str(out), **(metrics or {})}))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from .app import ContractParser

    parser = ContractParser(model_path=args.model, clause_backend=args.backend)
    metrics = parser.evaluate(
        args.data, val_fraction=args.val_fraction if args.split == "val" else None, seed=args.seed, limit=args.limit,
        baseline=args.baseline,
    )  # fmt: skip
    report = metrics.to_dict()
    if not args.json:
        print(f"{metrics.contracts} contracts ({metrics.split})\n\nfield                      P      R      F1")
        for field, s in metrics.fields.items():
            print(f"{field:<24} {s['precision']:6.3f} {s['recall']:6.3f} {s['f1']:6.3f}")
        print("\nclause windows            AUPR   P@80R")
        for name, m in metrics.window.items():
            print(f"{name:<24} {m['aupr']:6.3f} {m['p_at_80r']:6.3f}")
        print(f"\nclause spans (CUAD)      AUPR {metrics.span['aupr']:.1f}  P@80R {metrics.span['p_at_80r']:.1f}\n")
    print(json.dumps(report, default=float))
    return 0


def _export(args: argparse.Namespace) -> int:
    from .app import ContractParser

    out = ContractParser(model_path=args.model).export(args.out, int8=not args.no_int8)
    print(json.dumps({"bundle": str(out), "int8": not args.no_int8}))
    return 0
