"""Clause detection metrics: window level (pooled AUPR) and span level (as the CUAD paper).

Window level: every (window, category) pair is one binary decision, all pooled; AUPR is the
average precision over the pooled scores and "P@80R" the best precision at recall >= 0.8.

Span level, as CUAD's official ``evaluate.py``: per (contract, category) the gold answers are
the clause strings; predictions are texts with a confidence. For each threshold in
0.99, 0.98, ..., 0.01, 0.001, 0, the predictions above it are kept; a gold answer is found
when some kept prediction has word-set Jaccard >= 0.5 with it (for Parties, also when it is a
substring of one); a kept prediction matching no answer is a false positive. Precision is
made monotone from the right and integrated over recall.

Example:
    >>> jaccard("The Company shall indemnify.", "company shall indemnify")
    0.75
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deepseek_apps.core.metrics import average_precision

from .data import CATEGORIES, window_texts
from .decode import SpanDecoder, sentence_ends
from .rerank import candidate_features, cross_fit, with_confidences
from .stack import window_features

_DROP = re.compile(r"[.,;:]")
THRESHOLDS = [*np.round(np.arange(0.99, 0.0, -0.01), 2), 0.001, 0.0]


def _word_set(text: str) -> set[str]:
    return set(_DROP.sub("", text).lower().replace("/", " ").split())


def jaccard(prediction: str, truth: str) -> float:
    a, b = _word_set(prediction), _word_set(truth)
    return len(a & b) / len(a | b) if a | b else 0.0


def precision_at_recall(labels: np.ndarray, scores: np.ndarray, recall: float = 0.8) -> float:
    """The best precision over score thresholds that keep recall >= ``recall`` (0 without a positive)."""
    y, s = np.asarray(labels, np.float64).ravel(), np.asarray(scores, np.float64).ravel()
    if y.sum() == 0:
        return 0.0
    order = np.argsort(-s, kind="mergesort")
    s_sorted = s[order]
    distinct = np.r_[np.flatnonzero(np.diff(s_sorted)), len(s) - 1]
    tp = np.cumsum(y[order])[distinct]
    precision, reached = tp / (distinct + 1), tp / y.sum()
    return float(precision[reached >= recall].max())


def pr_summary(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Pooled AUPR (average precision), precision at 80% recall and the positive rate."""
    y, s = np.asarray(labels).ravel(), np.asarray(scores).ravel()
    return {
        "aupr": round(average_precision(y, s), 4),
        "p_at_80r": round(precision_at_recall(y, s, 0.8), 4),
        "positives": int(y.sum()),
        "pairs": int(y.size),
    }


def window_metrics(labels: np.ndarray, scores: np.ndarray) -> dict:
    """Pooled metrics plus the mean of per-category AUPR (categories with a positive)."""
    pooled = pr_summary(labels, scores)
    per = {
        CATEGORIES[c]: round(average_precision(labels[:, c], scores[:, c]), 4)
        for c in range(labels.shape[1])
        if labels[:, c].any()
    }
    return {**pooled, "macro_aupr": round(float(np.mean(list(per.values()))), 4), "per_category": per}


def trapezoid(x: np.ndarray, y: np.ndarray) -> float:
    """Area under the points (x, y) by the trapezoidal rule (x monotone), as ``sklearn.metrics.auc``."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return float(abs(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2)))


def span_metrics(questions: list[tuple[str, list[str], list[tuple[str, float]]]]) -> dict[str, float]:
    """CUAD span AUPR / P@80R / P@90R over (category, gold texts, [(predicted text, confidence)])."""
    gold_best, pred_conf, pred_ok, n_gold = [], [], [], 0
    for category, gold, predicted in questions:
        substring = category == "Parties"
        n_gold += len(gold)
        for answer in gold:
            hits = [c for text, c in predicted if jaccard(text, answer) >= 0.5 or (substring and answer in text)]
            gold_best.append(max(hits) if hits else -1.0)
        for text, conf in predicted:
            pred_conf.append(conf)
            pred_ok.append(any(jaccard(text, a) >= 0.5 or (substring and a in text) for a in gold))
    gold_best, pred_conf, pred_ok = np.array(gold_best), np.array(pred_conf), np.array(pred_ok, dtype=bool)
    precisions, recalls = [1.0], [0.0]
    for t in THRESHOLDS:
        tp = int((gold_best > t).sum())
        fp = int(((pred_conf > t) & ~pred_ok).sum())
        precisions.append(tp / (tp + fp) if tp + fp else 0.0)
        recalls.append(tp / n_gold if n_gold else 0.0)
    smooth = np.maximum.accumulate(np.array(precisions)[::-1])[::-1]
    recalls = np.array(recalls)

    def at(r: float) -> float:
        return float(smooth[recalls >= r][0]) if (recalls >= r).any() else 0.0

    return {
        "aupr": round(100 * trapezoid(recalls, smooth), 2),
        "p_at_80r": round(100 * at(0.8), 2),
        "p_at_90r": round(100 * at(0.9), 2),
        "answers": n_gold,
        "predictions": len(pred_conf),
    }


def gold_answers(clauses: list[str]) -> list[str]:
    """CUAD's gold answers of one (contract, category): the clause strings, ``<omitted>`` as a space."""
    return [g for g in (" ".join(s.replace("<omitted>", " ").split()) for s in clauses) if g]


def contract_questions(
    contract, found: list[list[tuple[int, int, float]]]
) -> list[tuple[str, list[str], list[tuple[str, float]]]]:
    """The 41 span questions of one labelled contract: (category, gold texts, [(predicted text,
    confidence)]) with the predictions given as word spans per category (``decode_spans``)."""
    questions = []
    for c, category in enumerate(CATEGORIES):
        predicted = [(contract.text[contract.offsets[a, 0] : contract.offsets[b - 1, 1]], p) for a, b, p in found[c]]
        questions.append((category, gold_answers(contract.clauses[c]), predicted))
    return questions


def candidate_labels(contract, found: list[list[tuple[int, int, float]]]) -> np.ndarray:
    """True for each candidate span (``rerank.candidate_features`` order) that CUAD's rules count
    as a right answer: word-set Jaccard >= 0.5 with a gold answer (Parties: or the answer inside it)."""
    out = []
    for category, gold, predicted in contract_questions(contract, found):
        substring = category == "Parties"
        out += [any(jaccard(text, a) >= 0.5 or (substring and a in text) for a in gold) for text, _ in predicted]
    return np.asarray(out, dtype=bool)


@dataclass
class Candidates:
    """One labelled contract's decoded candidates, their re-ranker features and labels, the
    rules' answers, and its windows' stacker features (``stack.window_features``; None without a
    lexical scorer) and labels: what ``evaluate_tagger(candidates=...)`` collects for
    ``cross_fit_report`` and ``stack.cross_fit_windows``."""

    contract: Any
    found: list
    x: np.ndarray
    cats: np.ndarray
    labels: np.ndarray
    extra: dict = field(default_factory=dict)
    windows: tuple[np.ndarray, np.ndarray] | None = None
    window_labels: np.ndarray | None = None


def span_reports(records: list[Candidates], confidences: list[np.ndarray] | None = None) -> dict[str, dict]:
    """Span metrics (tagger alone, and with the rules' answers) of ``records``, their candidates
    ranked by ``confidences`` (one array per record) or by the decoder's own."""
    questions, combined = [], []
    for i, record in enumerate(records):
        found = record.found if confidences is None else with_confidences(record.found, confidences[i])
        for category, gold, predicted in contract_questions(record.contract, found):
            questions.append((category, gold, predicted))
            combined.append((category, gold, predicted + record.extra.get(category, [])))
    return {"span": span_metrics(questions), "span_with_rules": span_metrics(combined)}


def cross_fit_report(records: list[Candidates], folds: int = 4, seed: int = 0) -> dict:
    """Span metrics with the re-ranker fitted on the other folds of contracts (an honest estimate
    of a re-ranker fitted on all of them), next to the decoder's own ranking."""
    oof = cross_fit([(r.x, r.cats, r.labels) for r in records], folds=folds, seed=seed)
    return {
        "folds": folds,
        "contracts": len(records),
        "decoder": span_reports(records),
        "reranked": span_reports(records, oof),
    }


def tfidf_baseline(train_texts: list[str], train_labels: np.ndarray, test_texts: list[str]) -> np.ndarray:
    """Scores (n_test, n_categories) of the baseline: TF-IDF word 1-2 grams (200k features) +
    one logistic regression per category, fitted on ``train_texts``."""
    from .lexical import LexicalScorer

    return LexicalScorer(max_features=200_000).fit(train_texts, train_labels).score(test_texts)


def rule_answers(analysis) -> dict[str, list[tuple[str, float]]]:
    """CUAD answers given by the rules, at confidence 1.0: party names and role aliases
    (Parties) and the evidence of the agreement and effective dates."""
    answers: dict[str, list[tuple[str, float]]] = {"Parties": [], "Agreement Date": [], "Effective Date": []}
    for party in analysis.parties:
        answers["Parties"] += [(party.name, 1.0)] + [(role, 1.0) for role in party.roles]
    for kind, category in (("agreement", "Agreement Date"), ("effective", "Effective Date")):
        dates = [f for f in analysis.facts if f.label == "DATE" and f.kind == kind]
        answers[category] += [(f.evidence.text, 1.0) for f in dates][:1]
    return answers


def default_rules() -> Callable[[str], Any]:
    """Contract text -> the default rules' facts (``rules.extract`` with the shipped glossary)."""
    from ..glossary import load_legal_terms
    from ..reading.documents import read_document
    from ..rules import extract

    terms = load_legal_terms()
    return lambda text: extract(read_document(text.encode("utf-8"), filename="contract.txt"), terms)


def evaluate_tagger(
    model,
    contracts: list,
    train_contracts: list | None = None,
    progress: bool = True,
    rules: Callable[[str], Any] | bool = True,
    candidates: list | None = None,
) -> dict:
    """Window- and span-level clause metrics of ``model`` (a ``ClauseModel``) on labelled contracts.

    With ``train_contracts`` the TF-IDF + logistic-regression baseline is trained on their
    windows and scored on the same windows, so the comparison comes from one run. With
    ``rules`` (True: the default rules; or contract text -> the rules' analysis) the span
    metrics are also given for the parser as a whole: the tagger's spans plus the rules'
    parties and dates (``rule_answers``). Spans are ranked as the model ranks them
    (``ClauseRuntime.clause_spans``: by its span re-ranker when it has one, and then
    ``span_decoder`` gives the decoder's own ranking too). Window scores ("shipped") are the
    model's (``ClauseRuntime.window_scores``: its window stacker when it has one, and then
    ``tagger_lexical_mean`` gives the plain mean too). ``candidates``: a list that receives
    each contract's ``Candidates`` (for ``cross_fit_report``).
    """
    from tqdm.auto import tqdm

    from .inference import combine

    rules = default_rules() if rules is True else rules or None

    decoder, reranker = SpanDecoder(), getattr(model, "reranker", None)
    stacked = getattr(model, "window_stacker", None) is not None
    records = []
    labels, word_max, shipped, lexical, mean, texts = [], [], [], [], [], []
    for contract in tqdm(contracts, desc="clause eval", unit="contract", disable=not progress):
        _, _, word_probs = model.predict_words(contract.words)
        spans, tagger, lexical_scores = model.window_parts(contract.words, word_probs)
        labels.append(contract.window_labels(model.size, model.window_stride)[1])
        word_max.append(tagger)
        texts += [" ".join(contract.words[a:b]) for a, b in spans]
        window_scores = combine(tagger, lexical_scores)  # the plain mean: the re-ranker's input
        stack_inputs = None
        if lexical_scores is not None:
            lexical.append(lexical_scores)
            mean.append(window_scores)
            if stacked or candidates is not None:
                stack_inputs = window_features(word_probs, spans, tagger, lexical_scores)
            shipped.append(model.window_scores(word_probs, spans, tagger, lexical_scores, stack_inputs))
        extra = rule_answers(rules(contract.text)) if rules else {}
        found = decoder.decode(word_probs, ends=sentence_ends(contract.words))
        x, cats = candidate_features(found, word_probs, spans, window_scores, lexical_scores)
        record = Candidates(contract, found, x, cats, np.zeros(len(cats), dtype=bool), extra, window_labels=labels[-1])
        if candidates is not None:
            record.labels = candidate_labels(contract, found)
            record.windows = stack_inputs
        records.append(record)
    if candidates is not None:
        candidates.extend(records)
    ranked = None if reranker is None else [reranker.probabilities(r.x, r.cats) for r in records]
    spans_report = span_reports(records, ranked)
    labels = np.concatenate(labels)
    report = {
        "contracts": len(contracts),
        "windows": int(labels.shape[0]),
        "inference_stride": model.stride,
        "window": {"tagger": window_metrics(labels, np.concatenate(word_max))},
        "span": spans_report["span"],
    }
    if reranker is not None:
        report["span_decoder"] = span_reports(records)["span"]
    if lexical:
        report["window"]["lexical"] = window_metrics(labels, np.concatenate(lexical))
        report["window"]["shipped"] = window_metrics(labels, np.concatenate(shipped))
        if stacked:
            report["window"]["tagger_lexical_mean"] = window_metrics(labels, np.concatenate(mean))
    if rules is not None:
        report["span_with_rules"] = spans_report["span_with_rules"]
    if train_contracts:
        train_texts, train_labels = window_texts(train_contracts, model.size, model.window_stride)
        baseline = tfidf_baseline(train_texts, train_labels, texts)
        report["window"]["tfidf_logreg"] = window_metrics(labels, baseline)
    return report
