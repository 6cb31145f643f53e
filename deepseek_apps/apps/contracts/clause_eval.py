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

import numpy as np

from .clause_data import CATEGORIES, window_texts

_DROP = re.compile(r"[.,;:]")
THRESHOLDS = [*np.round(np.arange(0.99, 0.0, -0.01), 2), 0.001, 0.0]


def _word_set(text: str) -> set[str]:
    return set(_DROP.sub("", text).lower().replace("/", " ").split())


def jaccard(prediction: str, truth: str) -> float:
    a, b = _word_set(prediction), _word_set(truth)
    return len(a & b) / len(a | b) if a | b else 0.0


def pr_summary(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Pooled AUPR (average precision), precision at 80% recall and the positive rate."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    y, s = np.asarray(labels).ravel(), np.asarray(scores).ravel()
    precision, recall, _ = precision_recall_curve(y, s)
    return {
        "aupr": round(float(average_precision_score(y, s)), 4),
        "p_at_80r": round(float(precision[recall >= 0.8].max()), 4),
        "positives": int(y.sum()),
        "pairs": int(y.size),
    }


def window_metrics(labels: np.ndarray, scores: np.ndarray) -> dict:
    """Pooled metrics plus the mean of per-category AUPR (categories with a positive)."""
    from sklearn.metrics import average_precision_score

    pooled = pr_summary(labels, scores)
    per = {
        CATEGORIES[c]: round(float(average_precision_score(labels[:, c], scores[:, c])), 4)
        for c in range(labels.shape[1])
        if labels[:, c].any()
    }
    return {**pooled, "macro_aupr": round(float(np.mean(list(per.values()))), 4), "per_category": per}


def sentence_ends(words: list[str]) -> np.ndarray:
    """True for a word that ends a sentence: ``.``, ``;`` or ``:`` before a capital, digit or quote."""
    ends = np.zeros(len(words), dtype=bool)
    for i in range(len(words) - 1):
        nxt = words[i + 1][:1]
        ends[i] = words[i].endswith((".", ";", ":")) and (nxt.isupper() or nxt.isdigit() or nxt in '("“')
    return ends


def decode_spans(
    word_probs: np.ndarray, threshold: float = 0.3, max_gap: int = 2, ends: np.ndarray | None = None
) -> list[list[tuple[int, int, float]]]:
    """Per category, runs of words with probability >= ``threshold`` as (first, end, confidence).

    Runs separated by at most ``max_gap`` words below the threshold are joined; with
    ``ends`` (``sentence_ends``) a run is cut after each sentence, since clauses are
    sentences, and pieces whose mean falls below the threshold are dropped. The confidence
    of a span is the mean probability of its words.
    """
    out = []
    for c in range(word_probs.shape[1]):
        p = word_probs[:, c]
        on = np.flatnonzero(p >= threshold)
        spans: list[tuple[int, int, float]] = []
        if on.size:
            breaks = np.flatnonzero(np.diff(on) > max_gap + 1)
            for first, last in zip(np.r_[0, breaks + 1], np.r_[breaks, on.size - 1]):
                a, b = int(on[first]), int(on[last]) + 1
                cuts = (
                    [a, *(int(i) + 1 for i in np.flatnonzero(ends[a : b - 1]) + a), b] if ends is not None else [a, b]
                )
                for x, y in zip(cuts, cuts[1:]):
                    confidence = float(p[x:y].mean())
                    if confidence >= threshold:
                        spans.append((x, y, confidence))
        out.append(spans)
    return out


def span_metrics(questions: list[tuple[str, list[str], list[tuple[str, float]]]]) -> dict[str, float]:
    """CUAD span AUPR / P@80R / P@90R over (category, gold texts, [(predicted text, confidence)])."""
    from sklearn.metrics import auc

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
        "aupr": round(100 * float(auc(recalls, smooth)), 2),
        "p_at_80r": round(100 * at(0.8), 2),
        "p_at_90r": round(100 * at(0.9), 2),
        "answers": n_gold,
        "predictions": len(pred_conf),
    }


def tfidf_baseline(train_texts: list[str], train_labels: np.ndarray, test_texts: list[str]) -> np.ndarray:
    """Scores (n_test, n_categories) of the baseline: TF-IDF word 1-2 grams (200k features) +
    one logistic regression per category, fitted on ``train_texts``."""
    from .clause_lexical import LexicalScorer

    return LexicalScorer(max_features=200_000).fit(train_texts, train_labels).score(test_texts)


def rule_answers(analysis) -> dict[str, list[tuple[str, float]]]:
    """CUAD answers given by the rules, at confidence 1.0: party names and role aliases
    (Parties) and the evidence of the agreement and effective dates."""
    answers: dict[str, list[tuple[str, float]]] = {"Parties": [], "Agreement Date": [], "Effective Date": []}
    for party in analysis.parties:
        answers["Parties"] += [(party.name, 1.0)] + [(role, 1.0) for role in party.roles]
    for kind, category in (("agreement", "Agreement Date"), ("effective", "Effective Date")):
        answers[category] += [(f.evidence.text, 1.0) for f in analysis.facts_of("DATE", kind)][:1]
    return answers


def evaluate_tagger(
    model, contracts: list, train_contracts: list | None = None, progress: bool = True, rules: bool = True
) -> dict:
    """Window- and span-level clause metrics of ``model`` (a ``ClauseModel``) on labelled contracts.

    With ``train_contracts`` the TF-IDF + logistic-regression baseline is trained on their
    windows and scored on the same windows, so the comparison comes from one run. With
    ``rules`` the span metrics are also given for the parser as a whole: the tagger's spans
    plus the rules' parties and dates (``rule_answers``).
    """
    from tqdm.auto import tqdm

    from .app import ContractParser
    from .clause_runtime import combine

    parser = ContractParser(clauses=False)
    labels, word_max, shipped, lexical, texts, questions, combined = [], [], [], [], [], [], []
    for contract in tqdm(contracts, desc="clause eval", unit="contract", disable=not progress):
        _, _, word_probs = model.predict_words(contract.words)
        spans, tagger, lexical_scores = model.window_parts(contract.words, word_probs)
        labels.append(contract.window_labels(model.size, model.window_stride)[1])
        word_max.append(tagger)
        texts += [" ".join(contract.words[a:b]) for a, b in spans]
        if lexical_scores is not None:
            lexical.append(lexical_scores)
            shipped.append(combine(tagger, lexical_scores))
        extra = rule_answers(parser.analyze(contract.text.encode(), filename="c.txt")) if rules else {}
        found = decode_spans(word_probs, ends=sentence_ends(contract.words))
        for c, category in enumerate(CATEGORIES):
            predicted = [
                (contract.text[contract.offsets[a, 0] : contract.offsets[b - 1, 1]], p) for a, b, p in found[c]
            ]
            gold = [g for g in (" ".join(s.replace("<omitted>", " ").split()) for s in contract.clauses[c]) if g]
            questions.append((category, gold, predicted))
            combined.append((category, gold, predicted + extra.get(category, [])))
    labels = np.concatenate(labels)
    report = {
        "contracts": len(contracts),
        "windows": int(labels.shape[0]),
        "inference_stride": model.stride,
        "window": {"tagger": window_metrics(labels, np.concatenate(word_max))},
        "span": span_metrics(questions),
    }
    if lexical:
        report["window"]["lexical"] = window_metrics(labels, np.concatenate(lexical))
        report["window"]["shipped"] = window_metrics(labels, np.concatenate(shipped))
    if rules:
        report["span_with_rules"] = span_metrics(combined)
    if train_contracts:
        train_texts, train_labels = window_texts(train_contracts, model.size, model.window_stride)
        baseline = tfidf_baseline(train_texts, train_labels, texts)
        report["window"]["tfidf_logreg"] = window_metrics(labels, baseline)
    return report
