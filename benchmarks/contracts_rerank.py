"""Span re-ranking (``clauses.rerank``) and window stacking (``clauses.stack``) measured on CUAD,
and the shipped ones fitted.

The tagger (ONNX INT8) runs once over the seed-0 validation contracts (and, with
``--train-fit``, over the training contracts too; outputs cached as in ``contracts_recall.py``).
From those outputs, without the encoder:

- the decoder's own ranking (what shipped before the re-ranker);
- the re-ranker cross-fitted on the validation contracts (2, 4 and 8 folds by contract: each
  contract scored by a re-ranker that never saw it), the honest estimate of one fitted on all;
- with ``--train-fit``: the re-ranker fitted on the training contracts' outputs, scored on
  validation (the tagger is over-confident on the contracts it trained on, so this tests
  whether the features carry over);
- with ``--train-fit``: the window stacker fitted on the training contracts' outputs, its window
  AUPR on validation next to the plain mean of tagger and lexical scores.

``--write DIR`` fits the re-ranker and the window stacker on the training contracts' outputs
(``--fit-on validation``: the re-ranker on all validation contracts, no stacker; ``--fit-on all``:
both on all 400 contracts, for a tagger trained on all of them, whose validation figures are then
in-sample) and stores them
in ``DIR/clause_tagger.json`` (``"span_reranker"``, ``"window_stacker"``), and prints
the validation metrics they give; that is how the shipped model got its own, so its validation
figures stay held out.

    python benchmarks/contracts_rerank.py [--model DIR] [--train-fit] [--write DIR [--fit-on train|validation|all]]
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path

import numpy as np
from contracts_recall import cached_outputs

from deepseek_apps.apps.contracts.clauses.data import load_labelled
from deepseek_apps.apps.contracts.clauses.decode import SpanDecoder, sentence_ends
from deepseek_apps.apps.contracts.clauses.eval import Candidates, candidate_labels, cross_fit_report, span_reports
from deepseek_apps.apps.contracts.clauses.inference import combine
from deepseek_apps.apps.contracts.clauses.rerank import SpanReranker, candidate_features
from deepseek_apps.apps.contracts.evaluate import load_labels, split_contracts

ROOT = Path(__file__).resolve().parents[1]


def records_of(contracts, outputs, size: int = 60, stride: int = 45) -> list[Candidates]:
    """Each contract's candidates, features, labels and rules' answers, from cached outputs."""
    from deepseek_apps.apps.contracts.clauses.data import windows

    decoder, out = SpanDecoder(), []
    for contract, o in zip(contracts, outputs):
        found = decoder.decode(o.word_probs, ends=sentence_ends(contract.words))
        spans = windows(len(contract.words), size, stride)
        x, cats = candidate_features(
            found, o.word_probs, spans, combine(o.window_tagger, o.window_lexical), o.window_lexical
        )
        out.append(Candidates(contract, found, x, cats, candidate_labels(contract, found), o.rules))
    return out


def at_threshold(records: list[Candidates], confidences: list[np.ndarray] | None, threshold: float = 0.5) -> dict:
    """What a user sees at ``min_confidence=threshold``: clauses shown, the share of them right,
    and the share of gold answers some shown clause matches (tagger only)."""
    from deepseek_apps.apps.contracts.clauses.eval import contract_questions, jaccard

    shown = right = found = answers = 0
    for i, r in enumerate(records):
        conf = np.array([q for spans in r.found for _, _, q in spans]) if confidences is None else confidences[i]
        keep = conf >= threshold
        shown, right = shown + int(keep.sum()), right + int((keep & r.labels).sum())
        at = 0
        for category, gold, predicted in contract_questions(r.contract, r.found):
            kept = [text for j, (text, _) in enumerate(predicted) if keep[at + j]]
            at += len(predicted)
            answers += len(gold)
            found += sum(any(jaccard(t, g) >= 0.5 or (category == "Parties" and g in t) for t in kept) for g in gold)
    return {
        "threshold": threshold,
        "shown": shown,
        "precision": round(right / max(shown, 1), 4),
        "recall": round(found / max(answers, 1), 4),
    }


def stack_inputs(contracts, outputs, size: int = 60, stride: int = 45):
    """The window stacker's (own, shared) features and the window labels, all contracts stacked."""
    from deepseek_apps.apps.contracts.clauses.data import windows
    from deepseek_apps.apps.contracts.clauses.stack import window_features

    parts = [
        window_features(o.word_probs, windows(len(c.words), size, stride), o.window_tagger, o.window_lexical)
        for c, o in zip(contracts, outputs)
    ]
    labels = np.concatenate([o.window_labels for o in outputs])
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), labels


def calibration(records: list[Candidates], confidences: list[np.ndarray], bins: int = 5) -> dict:
    """How well a confidence reads as a probability on ``records``: per bin of confidence, the
    candidates, their mean confidence and the share right; and the expected calibration error."""
    conf = np.concatenate(confidences)
    right = np.concatenate([r.labels for r in records])
    edges = np.linspace(0, 1, bins + 1)
    rows, ece = [], 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (conf >= lo) & ((conf < hi) | (hi == 1.0))
        if inside.any():
            rows.append({"bin": f"{lo:.1f}-{hi:.1f}", "candidates": int(inside.sum()),
                         "mean_confidence": round(float(conf[inside].mean()), 3), "right": round(float(right[inside].mean()), 3)})  # fmt: skip
            ece += inside.mean() * abs(conf[inside].mean() - right[inside].mean())
    return {"bins": rows, "ece": round(float(ece), 4)}


def fit_all(records: list[Candidates], fitted_on: str) -> SpanReranker:
    return SpanReranker.fit(
        np.vstack([r.x for r in records]),
        np.concatenate([r.cats for r in records]),
        np.concatenate([r.labels for r in records]),
        fitted_on=fitted_on,
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "cuad")
    parser.add_argument("--model", type=Path, default=None, help="trained model folder (default: the shipped one)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_out")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--stride", type=int, default=30, help="words between inference windows (the runtime's)")
    parser.add_argument("--train-fit", action="store_true", help="also fit on the training contracts' outputs")
    parser.add_argument("--write", type=Path, default=None, help="store a fitted re-ranker in this model folder")
    parser.add_argument(
        "--fit-on",
        choices=("train", "validation", "all"),
        default="train",
        help="what --write fits on; all: training and validation contracts, for a tagger trained on all of them "
        "(its validation figures are then in-sample)",
    )
    args = parser.parse_args(argv)
    from deepseek_apps.core.bench import cpu_info, save_report

    started = time.perf_counter()
    table, _ = load_labels(args.data)
    train, val = split_contracts(list(table["Text File"]), fraction=0.2, seed=0)
    val_contracts = load_labelled(args.data, val)
    val_outputs = cached_outputs(val_contracts, threads=args.threads, folder=args.model, stride=args.stride)
    records = records_of(val_contracts, val_outputs)
    labels = np.concatenate([r.labels for r in records])
    report = {
        "date": date.today().isoformat(), "cpu": cpu_info(), "backend": "onnx-int8", "stride": args.stride,
        "split": "seed-0 20% validation by contract", "contracts": len(records),
        "candidates": int(labels.size), "right": int(labels.sum()),
        "decoder": span_reports(records),
        "cross_fit": {folds: cross_fit_report(records, folds=folds)["reranked"] for folds in (2, 4, 8)},
    }  # fmt: skip
    from deepseek_apps.apps.contracts.clauses.rerank import cross_fit

    oof = cross_fit([(r.x, r.cats, r.labels) for r in records], folds=4)
    report["min_confidence_0.5"] = {
        "decoder": at_threshold(records, None),
        "reranked_4_fold": at_threshold(records, oof),
    }
    fitted = None
    if args.train_fit or (args.write and args.fit_on in ("train", "all")):
        train_contracts = load_labelled(args.data, train)
        train_outputs = cached_outputs(train_contracts, threads=args.threads, folder=args.model, stride=args.stride)
        train_records = records_of(train_contracts, train_outputs)
        fit_name = "fit_on_train"
        fitted_on = f"{len(train_records)} training contracts (CUAD, split seed 0), ONNX INT8 outputs"
        if args.fit_on == "all":  # a tagger trained on all contracts: the validation figures become in-sample
            train_contracts, train_outputs = train_contracts + val_contracts, train_outputs + val_outputs
            train_records, fit_name = train_records + records, "fit_on_all_in_sample"
            fitted_on = f"all {len(train_records)} contracts (CUAD), the tagger's ONNX INT8 outputs"
            report["in_sample"] = "the re-ranker and the stacker were fitted on the validation contracts too"
        fitted = fit_all(train_records, fitted_on)
        scores = [fitted.probabilities(r.x, r.cats) for r in records]
        report[fit_name] = span_reports(records, scores)
        report["min_confidence_0.5"][fit_name] = at_threshold(records, scores)
        decoder_conf = [np.array([q for spans in r.found for _, _, q in spans]) for r in records]
        report["calibration"] = {"decoder": calibration(records, decoder_conf), fit_name: calibration(records, scores)}
        from deepseek_apps.apps.contracts.clauses.eval import window_metrics
        from deepseek_apps.apps.contracts.clauses.stack import WindowStacker

        stacker = WindowStacker.fit(*stack_inputs(train_contracts, train_outputs), fitted_on=fitted_on)
        own, shared, labels = stack_inputs(val_contracts, val_outputs)
        plain = np.concatenate([combine(o.window_tagger, o.window_lexical) for o in val_outputs])
        report["window"] = {
            "tagger_lexical_mean": {k: v for k, v in window_metrics(labels, plain).items() if k != "per_category"},
            f"stacked_{fit_name}": {
                k: v for k, v in window_metrics(labels, stacker.scores(own, shared)).items() if k != "per_category"
            },
        }
    if args.write:
        path = args.write / "clause_tagger.json"
        meta = json.loads(path.read_text())
        if args.fit_on in ("train", "all"):
            meta["span_reranker"], meta["window_stacker"] = fitted.to_dict(), stacker.to_dict()
        else:
            reranker = fit_all(records, f"{len(records)} validation contracts (CUAD, split seed 0), ONNX INT8 outputs")
            meta["span_reranker"] = reranker.to_dict()
            meta.pop("window_stacker", None)
        path.write_text(json.dumps(meta, indent=2))
        report["written"] = str(path)
    report["seconds"] = round(time.perf_counter() - started, 1)
    save_report(args.out, "contracts_rerank", report, markdown(report))
    return report


def markdown(report: dict) -> str:
    lines = [
        f"Span re-ranking, {report['date']}, {report['split']} ({report['contracts']} contracts, "
        f"{report['candidates']} candidates, {report['right']} right), {report['backend']}, "
        f"inference stride {report.get('stride', 30)}, "
        f"CPU: {report['cpu'].get('model', '?')}",
        "",
        "| ranking | span AUPR | P@80R | + rules: AUPR | + rules: P@80R |",
        "|---|---|---|---|---|",
    ]

    def row(name: str, r: dict) -> str:
        s, w = r["span"], r["span_with_rules"]
        return f"| {name} | {s['aupr']:.1f} | {s['p_at_80r']:.1f} | {w['aupr']:.1f} | {w['p_at_80r']:.1f} |"

    lines.append(row("decoder (mean word probability)", report["decoder"]))
    for folds, r in report["cross_fit"].items():
        lines.append(row(f"re-ranker, {folds}-fold cross-fit on validation", r))
    if "fit_on_train" in report:
        lines.append(row("re-ranker fitted on the training contracts", report["fit_on_train"]))
    if "fit_on_all_in_sample" in report:
        lines.append(row("re-ranker fitted on all contracts (in-sample here)", report["fit_on_all_in_sample"]))
    if "window" in report:
        lines += ["", "| window scores (validation) | window AUPR | P@80R | macro AUPR |", "|---|---|---|---|"]
        for name, r in report["window"].items():
            lines.append(f"| {name} | {r['aupr']:.3f} | {r['p_at_80r']:.3f} | {r['macro_aupr']:.3f} |")
    for name, r in report.get("calibration", {}).items():
        cells = ", ".join(
            f"{b['bin']}: {b['candidates']} at {b['mean_confidence']:.2f}, {b['right']:.0%} right" for b in r["bins"]
        )
        lines += ["", f"Calibration, {name} (expected calibration error {r['ece']:.3f}): {cells}"]
    lines += ["", "At `min_confidence=0.5` (tagger spans shown to a user):", ""]
    for name, r in report["min_confidence_0.5"].items():
        lines.append(
            f"- {name}: {r['shown']} clauses shown, {r['precision']:.1%} right, {r['recall']:.1%} of the gold answers found"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
