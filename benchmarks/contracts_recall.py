"""Where the clause tagger's span recall goes, and decoding settings chosen to win it back.

Runs the shipped tagger (ONNX INT8) once over the contracts of the seed-0 20% validation
split of CUAD and caches, per contract, the word probabilities, the window scores and the
rules' answers (``--cache``, default a folder in the system temp dir keyed by the weights'
hash and the inference stride). From the cache, without the encoder:

- ``diagnose``: every gold answer no decoded span matches (Jaccard >= 0.5, at any
  confidence) gets one cause, checked in this order: (d) its category never fires on the
  split, (e) its text is not found in the contract, (a) no word of it reaches the word
  threshold, (c) it is longer than the tagger's window, (b) the decoder cuts it (sentence
  ends, gaps, a run too long or too short around it). Counts and shares, per cause and per
  category.
- ``sweep``: span AUPR / P@80R (CUAD's rules, ``clauses.eval.span_metrics``) of decoding
  variants (``clauses.decode.SpanDecoder``), tagger alone and with the rules' parties and
  dates, and the window AUPR (unchanged by decoding).

    python benchmarks/contracts_recall.py [--data ../shared/data/cuad] [--out bench_out]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from deepseek_apps.apps.contracts.clauses.data import CATEGORIES, LabelledContract, load_labelled, locate, windows
from deepseek_apps.apps.contracts.clauses.decode import SpanDecoder, blend_window_scores
from deepseek_apps.apps.contracts.clauses.eval import (
    contract_questions,
    default_rules,
    jaccard,
    rule_answers,
    span_metrics,
    window_metrics,
)
from deepseek_apps.apps.contracts.clauses.inference import combine
from deepseek_apps.apps.contracts.evaluate import load_labels, split_contracts

ROOT = Path(__file__).resolve().parents[1]
CAUSES = {
    "category_never_fires": "(d) the category never fires on the split",
    "not_in_text": "(e) the answer text is not found in the contract",
    "below_threshold": "(a) no word of the answer reaches the lowest word threshold",
    "longer_than_window": "(c) the answer is longer than the tagger's window",
    "sentence_cut": "(b) decoder: cut at a sentence end",
    "run_mismatch": "(b) decoder: the run above threshold is too short / too long / split",
}


@dataclass
class ModelOutputs:
    """One contract's cached tagger outputs: word probabilities, window scores, rules' answers."""

    word_probs: np.ndarray
    window_tagger: np.ndarray
    window_lexical: np.ndarray | None
    window_labels: np.ndarray
    rules: dict[str, list[tuple[str, float]]]


def cached_outputs(
    contracts: list[LabelledContract],
    cache: Path | None = None,
    backend: str = "onnx-int8",
    threads: int = 2,
    folder: Path | None = None,
    stride: int = 30,
) -> list[ModelOutputs]:
    """The tagger's outputs on ``contracts``, read from ``cache`` or computed once and written there
    (``folder``: a trained model folder, default the shipped one; ``stride``: words between
    inference windows)."""
    from tqdm.auto import tqdm

    from deepseek_apps.apps.contracts.clauses.runtime import ClauseModel

    model = None
    out = []
    for contract in tqdm(contracts, desc="tagger outputs", unit="contract"):
        if model is None or cache is None:
            model = model or ClauseModel(folder, backend=backend, threads=threads, stride=stride)
            key = hashlib.sha256(model.weights).hexdigest()[:12] + f"-{backend}-s{model.stride}"
            cache = cache or Path(tempfile.gettempdir()) / "deepseek_contracts_recall" / key
            cache.mkdir(parents=True, exist_ok=True)
        path = cache / (hashlib.sha256(contract.name.encode()).hexdigest()[:16] + ".npz")
        rules_path = path.with_suffix(".json")
        if not path.is_file():
            _, _, word_probs = model.predict_words(contract.words)
            _, tagger, lexical = model.window_parts(contract.words, word_probs)
            labels = contract.window_labels(model.size, model.window_stride)[1]
            extra = {} if lexical is None else {"window_lexical": lexical}
            np.savez_compressed(path, word_probs=word_probs, window_tagger=tagger, window_labels=labels, **extra)
            rules_path.write_text(json.dumps(rule_answers(_rules()(contract.text))))
        with np.load(path) as f:
            out.append(
                ModelOutputs(
                    f["word_probs"],
                    f["window_tagger"],
                    f["window_lexical"] if "window_lexical" in f else None,
                    f["window_labels"],
                    {k: [tuple(x) for x in v] for k, v in json.loads(rules_path.read_text()).items()},
                )
            )
    return out


_RULES = []


def _rules():
    if not _RULES:
        _RULES.append(default_rules())
    return _RULES[0]


def _matches(category: str, prediction: str, answer: str) -> bool:
    return jaccard(prediction, answer) >= 0.5 or (category == "Parties" and answer in prediction)


def _answer_words(contract: LabelledContract, clause: str) -> np.ndarray:
    """Indices of the words of ``contract`` one gold clause string covers (empty: not found)."""
    starts, ends = contract.offsets[:, 0], contract.offsets[:, 1]
    hit = np.zeros(len(contract.words), dtype=bool)
    for a, b in locate(contract.text, [clause]):
        hit |= (starts < b) & (ends > a)
    return np.flatnonzero(hit)


@dataclass
class MissedAnswer:
    """One gold answer no decoded span matches, and why."""

    contract: str
    category: str
    cause: str
    n_words: int
    max_prob: float


@dataclass
class RecallDiagnosis:
    """Where the gold answers the decoder never reaches go: counts per cause and per category."""

    decoder: dict
    answers: int
    matched: int
    missed: list[MissedAnswer] = field(default_factory=list)

    def by_cause(self) -> dict[str, dict[str, float]]:
        counts = Counter(m.cause for m in self.missed)
        n_missed = max(len(self.missed), 1)
        return {
            cause: {
                "answers": counts.get(cause, 0),
                "share_of_missed": round(counts.get(cause, 0) / n_missed, 4),
                "share_of_all_answers": round(counts.get(cause, 0) / max(self.answers, 1), 4),
            }
            for cause in CAUSES
        }

    def by_category(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for m in self.missed:
            row = out.setdefault(m.category, dict.fromkeys(CAUSES, 0))
            row[m.cause] += 1
        return dict(sorted(out.items(), key=lambda kv: -sum(kv[1].values())))

    def to_dict(self) -> dict:
        return {
            "decoder": self.decoder,
            "answers": self.answers,
            "matched": self.matched,
            "recall_ceiling": round(self.matched / max(self.answers, 1), 4),
            "missed": len(self.missed),
            "by_cause": self.by_cause(),
            "by_category": self.by_category(),
            "missed_max_prob_quantiles": {
                q: round(float(np.quantile([m.max_prob for m in self.missed], q)), 3) if self.missed else None
                for q in (0.25, 0.5, 0.75)
            },
        }


def diagnose(
    contracts: list[LabelledContract], outputs: list[ModelOutputs], decoder: SpanDecoder, window: int = 60
) -> RecallDiagnosis:
    """Classify every gold answer that no span of ``decoder`` matches (at any confidence).

    Causes, first that applies: the category never fires on these contracts; the answer is not
    found in the text; no word of it reaches the lowest threshold (``levels`` included); it is longer
    than ``window`` words; undoing the sentence cuts would match it; otherwise the run above
    the threshold does not line up with it.
    """
    decoded = [decoder.decode(o.word_probs, c.words) for c, o in zip(contracts, outputs)]
    fires = np.array([any(found[k] for found in decoded) for k in range(len(CATEGORIES))])
    floor = np.minimum(decoder.thresholds(len(CATEGORIES)), min(decoder.levels, default=1.0))
    uncut = SpanDecoder(**{**decoder.to_dict(), "cut_sentences": False})
    report = RecallDiagnosis(decoder=decoder.to_dict(), answers=0, matched=0)
    for contract, output, found in zip(contracts, outputs, decoded):
        loose = None
        for k, (category, _, predicted) in enumerate(contract_questions(contract, found)):
            for raw in contract.clauses[k]:
                answer = " ".join(raw.replace("<omitted>", " ").split())
                if not answer:
                    continue
                report.answers += 1
                if any(_matches(category, text, answer) for text, _ in predicted):
                    report.matched += 1
                    continue
                idx = _answer_words(contract, raw)
                top = float(output.word_probs[idx, k].max()) if idx.size else 0.0
                if not fires[k]:
                    cause = "category_never_fires"
                elif not idx.size:
                    cause = "not_in_text"
                elif top < floor[k]:
                    cause = "below_threshold"
                elif idx.size > window:
                    cause = "longer_than_window"
                else:
                    loose = loose or contract_questions(contract, uncut.decode(output.word_probs, contract.words))
                    hit = any(_matches(category, text, answer) for text, _ in loose[k][2])
                    cause = "sentence_cut" if hit else "run_mismatch"
                report.missed.append(MissedAnswer(contract.name, category, cause, int(idx.size), round(top, 3)))
    return report


def span_report(
    contracts: list[LabelledContract],
    outputs: list[ModelOutputs],
    decoder: SpanDecoder,
    lexical_weight: float | None = None,
    size: int = 60,
    stride: int = 45,
) -> dict:
    """CUAD span metrics of ``decoder``: tagger spans alone and with the rules' parties and dates.

    With ``lexical_weight`` the span confidences are mixed with the lexical scores of the
    detection windows (``size`` words every ``stride``; ``decode.blend_window_scores``).
    """
    questions, combined = [], []
    for contract, output in zip(contracts, outputs):
        found = decoder.decode(output.word_probs, contract.words)
        if lexical_weight is not None and output.window_lexical is not None:
            spans = windows(len(contract.words), size, stride)
            found = blend_window_scores(found, spans, output.window_lexical, lexical_weight)
        for category, gold, predicted in contract_questions(contract, found):
            questions.append((category, gold, predicted))
            combined.append((category, gold, predicted + output.rules.get(category, [])))
    report = {"decoder": decoder.to_dict(), "lexical_weight": lexical_weight}
    return {**report, "span": span_metrics(questions), "span_with_rules": span_metrics(combined)}


def window_report(outputs: list[ModelOutputs]) -> dict:
    """Window AUPR of the shipped scores (tagger + lexical) and the tagger alone, from the cache."""
    labels = np.concatenate([o.window_labels for o in outputs])
    tagger = np.concatenate([o.window_tagger for o in outputs])
    out = {"tagger": window_metrics(labels, tagger)}
    if all(o.window_lexical is not None for o in outputs):
        shipped = np.concatenate([combine(o.window_tagger, o.window_lexical) for o in outputs])
        out["shipped"] = window_metrics(labels, shipped)
    return {k: {m: v for m, v in r.items() if m != "per_category"} for k, r in out.items()}


def choose_thresholds(
    contracts: list[LabelledContract],
    outputs: list[ModelOutputs],
    base: SpanDecoder,
    grid: tuple[float, ...] = (0.1, 0.15, 0.2, 0.3, 0.4, 0.5),
) -> tuple[float, ...]:
    """Per category, the first threshold in ``grid`` with the best span AUPR of that category's
    questions (``base``'s other settings; ties keep the higher threshold)."""
    best = np.full(len(CATEGORIES), -1.0)
    chosen = np.full(len(CATEGORIES), float(np.max(base.thresholds(len(CATEGORIES)))))
    for t in sorted(grid, reverse=True):
        decoder = SpanDecoder(**{**base.to_dict(), "threshold": t})
        per: list[list] = [[] for _ in CATEGORIES]
        for contract, output in zip(contracts, outputs):
            for k, question in enumerate(
                contract_questions(contract, decoder.decode(output.word_probs, contract.words))
            ):
                per[k].append(question)
        for k, questions in enumerate(per):
            if sum(len(g) for _, g, _ in questions) == 0:
                continue
            aupr = span_metrics(questions)["aupr"]
            if aupr > best[k]:
                best[k], chosen[k] = aupr, t
    return tuple(float(t) for t in chosen)


BEFORE = SpanDecoder(levels=(), max_gap=2)  # the decoding of issue 18's numbers: runs >= 0.3 only
SHIPPED = SpanDecoder()  # ``decode_spans`` defaults, what ``ContractParser.find_clauses`` uses
VARIANTS = {
    "before: runs >= 0.3, gap 2, cut at sentence ends": BEFORE,
    "gap 10": SpanDecoder(levels=(), max_gap=10),
    "+ candidates at 0.1, gap 2": SpanDecoder(levels=(0.1,), max_gap=2),
    "+ candidates at 0.1, gap 6": SpanDecoder(levels=(0.1,), max_gap=6),
    "+ candidates at 0.1, gap 10 (shipped now)": SHIPPED,
    "+ candidates at 0.1, gap 16": SpanDecoder(levels=(0.1,), max_gap=16),
    "+ candidates at 0.15 and 0.05, gap 10": SpanDecoder(levels=(0.15, 0.05), max_gap=10),
    "shipped + uncut runs kept": SpanDecoder(keep_uncut=True),
    "shipped, at most 10 spans per category": SpanDecoder(max_spans=10),
}


def two_fold(contracts: list[LabelledContract], outputs: list[ModelOutputs], base: SpanDecoder) -> list[dict]:
    """Per-category thresholds chosen on one half of the split, scored on the other (both ways)."""
    half, rows = len(contracts) // 2, []
    for fit, score in ((slice(0, half), slice(half, None)), (slice(half, None), slice(0, half))):
        chosen = choose_thresholds(contracts[fit], outputs[fit], base)
        tuned = SpanDecoder(**{**base.to_dict(), "threshold": chosen})
        before, after = span_report(contracts[score], outputs[score], base), span_report(contracts[score], outputs[score], tuned)  # fmt: skip
        rows.append({k: {"global": before[k], "per_category": after[k]} for k in ("span", "span_with_rules")})
    return rows


def markdown(report: dict) -> str:
    d = report["diagnosis"]
    lines = [f"Clause span recall, {report['date']}, {report['split']} ({report['contracts']} contracts), "
             f"{report['backend']}, CPU: {report['cpu'].get('model', '?')}", ""]  # fmt: skip
    lines += ["| cause of a missed gold answer | before | share of missed | after (shipped now) | share of missed |",
              "|---|---|---|---|---|"]  # fmt: skip
    for cause, label in CAUSES.items():
        a, b = d["before"]["by_cause"][cause], d["after"]["by_cause"][cause]
        lines.append(
            f"| {label} | {a['answers']} | {a['share_of_missed']:.0%} | {b['answers']} | {b['share_of_missed']:.0%} |"
        )
    lines.append(f"| **recall ceiling (matched by some span) of {d['before']['answers']} answers** | "
                 f"{d['before']['recall_ceiling']:.1%} | | {d['after']['recall_ceiling']:.1%} | |")  # fmt: skip
    lines += [
        "",
        "| decoder | span AUPR | P@80R | + rules: AUPR | + rules: P@80R | predictions |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in report["variants"].items():
        s, w = r["span"], r["span_with_rules"]
        lines.append(
            f"| {name} | {s['aupr']:.1f} | {s['p_at_80r']:.1f} | {w['aupr']:.1f} | {w['p_at_80r']:.1f} | {s['predictions']} |"
        )
    for w, r in report.get("lexical_blend", {}).items():
        s, c = r["span"], r["span_with_rules"]
        lines.append(f"| shipped, confidence mixed with lexical window scores (weight {w}) | {s['aupr']:.1f} | "
                     f"{s['p_at_80r']:.1f} | {c['aupr']:.1f} | {c['p_at_80r']:.1f} | {s['predictions']} |")  # fmt: skip
    pc = report.get("per_category_thresholds")
    if pc:
        s, c = pc["in_sample"]["span"], pc["in_sample"]["span_with_rules"]
        lines.append(f"| shipped, per-category first thresholds chosen on this split (in-sample) | {s['aupr']:.1f} | "
                     f"{s['p_at_80r']:.1f} | {c['aupr']:.1f} | {c['p_at_80r']:.1f} | {s['predictions']} |")  # fmt: skip
        lines += [
            "",
            "Per-category thresholds chosen on one half of the split, scored on the other (span / + rules):",
            "",
        ]
        for i, fold in enumerate(pc["two_fold"]):
            a, b = fold["span"], fold["span_with_rules"]
            lines.append(f"- fold {i + 1}: AUPR {a['global']['aupr']:.1f} -> {a['per_category']['aupr']:.1f}, "
                         f"P@80R {a['global']['p_at_80r']:.1f} -> {a['per_category']['p_at_80r']:.1f}; + rules: "
                         f"AUPR {b['global']['aupr']:.1f} -> {b['per_category']['aupr']:.1f}, "
                         f"P@80R {b['global']['p_at_80r']:.1f} -> {b['per_category']['p_at_80r']:.1f}")  # fmt: skip
    win = report["window"]
    lines += [
        "",
        f"Window AUPR (unchanged by decoding): shipped {win['shipped']['aupr']:.3f}, tagger {win['tagger']['aupr']:.3f}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "cuad")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_out")
    parser.add_argument("--cache", type=Path, default=None, help="tagger outputs per contract (default: temp dir)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    from deepseek_apps.core.bench import cpu_info, save_report

    table, _ = load_labels(args.data)
    _, val = split_contracts(list(table["Text File"]), fraction=0.2, seed=0)
    contracts = load_labelled(args.data, val)
    started = time.perf_counter()
    outputs = cached_outputs(contracts, args.cache, threads=args.threads)
    report = {
        "date": date.today().isoformat(), "cpu": cpu_info(), "backend": "onnx-int8",
        "split": "seed-0 20% validation by contract", "contracts": len(contracts),
        "window": window_report(outputs),
        "variants": {name: span_report(contracts, outputs, d) for name, d in VARIANTS.items()},
        "lexical_blend": {w: span_report(contracts, outputs, SHIPPED, lexical_weight=w) for w in (0.8, 0.7, 0.5)},
        "diagnosis": {"before": diagnose(contracts, outputs, BEFORE).to_dict(), "after": diagnose(contracts, outputs, SHIPPED).to_dict()},
    }  # fmt: skip
    chosen = choose_thresholds(contracts, outputs, SHIPPED)
    report["per_category_thresholds"] = {
        "thresholds": dict(zip(CATEGORIES, chosen)),
        "in_sample": span_report(contracts, outputs, SpanDecoder(**{**SHIPPED.to_dict(), "threshold": chosen})),
        "two_fold": two_fold(contracts, outputs, SHIPPED),
    }
    report["seconds"] = round(time.perf_counter() - started, 1)
    save_report(args.out, "contracts_recall", report, markdown(report))
    return report


if __name__ == "__main__":
    main()
