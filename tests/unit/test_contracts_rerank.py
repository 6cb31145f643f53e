"""The span re-ranker (``clauses.rerank``): features, fit, storage, cross-fitting, labels."""

from __future__ import annotations

import json

import numpy as np
import pytest

from deepseek_apps.apps.contracts.clauses.data import CATEGORIES, LabelledContract, locate, word_labels, words
from deepseek_apps.apps.contracts.clauses.eval import Candidates, candidate_labels, cross_fit_report, span_reports
from deepseek_apps.apps.contracts.clauses.rerank import (
    FEATURES,
    SpanReranker,
    candidate_features,
    cross_fit,
    with_confidences,
)
from deepseek_apps.errors import ErrorCode, InvalidInputError, ModelFormatError

K = len(CATEGORIES)


def _found(**spans):
    found = [[] for _ in CATEGORIES]
    for name, items in spans.items():
        found[CATEGORIES.index(name.replace("_", " "))] = items
    return found


def test_features_follow_the_candidates_category_by_category():
    probs = np.zeros((100, K))
    probs[10:20, 0] = 0.8
    probs[50:54, 0] = 0.2
    probs[0:30, 5] = 0.4
    found = [[] for _ in range(K)]
    found[0] = [(10, 20, 0.8), (50, 54, 0.2)]
    found[5] = [(0, 30, 0.4)]
    windows = [(0, 60), (45, 100)]
    scores = np.full((2, K), 0.1)
    scores[0, 0] = 0.9
    x, cats = candidate_features(found, probs, windows, scores)
    f = dict(zip(FEATURES, x.T))
    assert x.shape == (3, len(FEATURES)) and cats.tolist() == [0, 0, 5]
    assert np.allclose(np.exp(f["log_words"]), [10, 4, 30])
    assert np.allclose(np.expm1(f["log_rank"]), [0, 1, 0]) and np.allclose(np.expm1(f["log_candidates"]), [2, 2, 1])
    assert f["above_threshold"].tolist() == [1.0, 0.0, 1.0]
    assert f["window"][0] > 2 and f["window"][1] == pytest.approx(np.log(0.9 / 0.1))  # touches both windows
    assert f["below_top"][0] == 0 and f["below_top"][1] < 0
    assert np.allclose(f["position"], [0.1, 0.5, 0.0])


def _synthetic(n=600, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(FEATURES)))
    cats = rng.integers(0, K, n)
    labels = (x[:, 4] + 0.5 * x[:, 0] + rng.normal(scale=0.5, size=n)) > 0
    return x, cats, labels


def test_fit_learns_the_signal_and_round_trips_through_json():
    x, cats, labels = _synthetic()
    reranker = SpanReranker.fit(x, cats, labels, fitted_on="synthetic")
    p = reranker.probabilities(x, cats)
    assert ((p > 0.5) == labels).mean() > 0.85
    coef = dict(zip(FEATURES, reranker.coef))
    assert coef["log_words"] > 0.5 and abs(coef["top3"]) < 0.3
    again = SpanReranker.from_meta({"span_reranker": json.loads(json.dumps(reranker.to_dict()))})
    assert again == reranker and np.allclose(again.probabilities(x, cats), p)
    assert SpanReranker.from_meta({}) is None


def test_rescore_replaces_confidences_and_sorts_again():
    found = _found(Parties=[(0, 2, 0.9), (4, 9, 0.3)], Governing_Law=[(10, 12, 0.5)])
    rescored = with_confidences(found, np.array([0.2, 0.7, 0.6]))
    assert rescored[CATEGORIES.index("Parties")] == [(4, 9, 0.7), (0, 2, 0.2)]
    assert rescored[CATEGORIES.index("Governing Law")] == [(10, 12, 0.6)]


def test_bad_reranker_data_are_coded_errors():
    x, cats, _ = _synthetic(50)
    with pytest.raises(InvalidInputError) as e:
        SpanReranker.fit(x, cats, np.ones(50, dtype=bool))
    assert e.value.code == ErrorCode.INVALID_ARGUMENT
    stored = SpanReranker.fit(*_synthetic()).to_dict()
    with pytest.raises(ModelFormatError) as e:
        SpanReranker.from_dict({**stored, "features": stored["features"][:-1]})
    assert e.value.code == ErrorCode.CONTRACT_RERANKER_INVALID
    with pytest.raises(ModelFormatError):
        SpanReranker((0.0,) * 3, (0.0,) * K, 0.0)


def test_cross_fit_scores_each_contract_with_a_model_that_never_saw_it():
    groups = [_synthetic(80, seed=s) for s in range(8)]
    oof = cross_fit(groups, folds=4)
    assert [len(p) for p in oof] == [80] * 8
    flipped = [groups[0][:2] + (~groups[0][2],), *groups[1:]]  # contract 0's labels change ...
    again = cross_fit(flipped, folds=4)
    assert np.allclose(again[0], oof[0])  # ... its own scores cannot
    assert any(not np.allclose(a, b) for a, b in zip(again[1:], oof[1:]))


def _contract(text: str, clauses: dict[str, list[str]]) -> LabelledContract:
    tokens, offsets = words(text)
    strings = [clauses.get(c, []) for c in CATEGORIES]
    spans = [locate(text, s) for s in strings]
    return LabelledContract("c.txt", text, tokens, offsets, strings, spans, word_labels(offsets, spans))


def test_labels_and_reports_follow_cuads_matching_rules():
    text = "ACME Corp. and Beta LLC agree. This Agreement is governed by the laws of Ohio. Fees are due monthly."
    contract = _contract(
        text, {"Parties": ["ACME Corp."], "Governing Law": ["This Agreement is governed by the laws of Ohio."]}
    )
    found = _found(
        Parties=[(0, 5, 0.4)],  # "ACME Corp. and Beta LLC": holds the answer (Parties: substring counts)
        Governing_Law=[(6, 15, 0.3), (6, 8, 0.8)],  # the clause; a fragment with Jaccard < 0.5
        Audit_Rights=[(15, 19, 0.6)],  # no gold answer
    )
    assert candidate_labels(contract, found).tolist() == [True, True, False, False]
    x, cats = candidate_features(
        found, np.full((len(contract.words), K), 0.3), [(0, len(contract.words))], np.full((1, K), 0.5)
    )
    record = Candidates(contract, found, x, cats, candidate_labels(contract, found), {"Parties": [("Beta LLC", 1.0)]})
    before = span_reports([record])
    after = span_reports([record], [np.array([0.9, 0.9, 0.1, 0.1])])
    assert after["span"]["aupr"] > before["span"]["aupr"]
    assert before["span_with_rules"]["predictions"] == before["span"]["predictions"] + 1
    report = cross_fit_report([Candidates(*(_synthetic_record(contract, s))) for s in range(8)], folds=2)
    assert report["folds"] == 2 and set(report["reranked"]) == {"span", "span_with_rules"}


def _synthetic_record(contract, seed):
    rng = np.random.default_rng(seed)
    n = len(contract.words)
    found = [[] for _ in CATEGORIES]
    law = CATEGORIES.index("Governing Law")
    found[law] = sorted(
        ((a, b, float(rng.random())) for a, b in ((6, 15), (6, 8), (8, 15), (0, 3))), key=lambda s: -s[2]
    )
    probs = rng.random((n, K))
    x, cats = candidate_features(found, probs, [(0, n)], np.full((1, K), 0.5))
    return contract, found, x, cats, candidate_labels(contract, found)


def test_window_features_read_neighbours_words_and_the_whole_contract():
    from deepseek_apps.apps.contracts.clauses.stack import OWN_FEATURES, window_features

    probs = np.zeros((150, K))
    probs[70:80, 3] = 0.9
    windows = [(0, 60), (45, 105), (90, 150)]
    tagger = np.stack([probs[a:b].max(0) for a, b in windows])
    lexical = np.full((3, K), 0.2)
    own, shared = window_features(probs, windows, tagger, lexical)
    f = {name: own[..., i] for i, name in enumerate(OWN_FEATURES)}
    assert own.shape == (3, K, len(OWN_FEATURES)) and shared.shape == (3, 2 * K)
    assert f["neighbour_max"][0, 3] == f["neighbour_max"][2, 3] > 2  # both neighbour the clause window
    assert f["neighbour_min"][0, 3] == -9.0  # the first window has no window before it
    assert np.allclose(f["contract_tagger"][:, 3], f["tagger"][1, 3])
    assert f["log_rank"][1, 3] == 0 and f["above_0.3"][1, 3] == pytest.approx(10 / 60)
    assert np.allclose(shared[:, 3], f["tagger"][:, 3]) and np.allclose(shared[:, K + 3], f["lexical"][:, 3])
    assert window_features(probs, [], tagger[:0], lexical[:0])[0].shape == (0, K, len(OWN_FEATURES))


def test_window_stacker_fits_per_category_and_round_trips():
    from deepseek_apps.apps.contracts.clauses.stack import WindowStacker, window_features

    rng = np.random.default_rng(1)
    probs = rng.random((3000, K)) ** 4
    windows = [(a, a + 60) for a in range(0, 2941, 45)]
    tagger = np.stack([probs[a:b].max(0) for a, b in windows])
    labels = (tagger > 0.8).astype(np.uint8)
    labels[:, 7] = 0  # a category with no positive window never fires
    own, shared = window_features(probs, windows, tagger, rng.random(tagger.shape))
    stacker = WindowStacker.fit(own, shared, labels, c=1.0, fitted_on="synthetic")
    scores = stacker.scores(own, shared)
    assert scores.shape == labels.shape and scores[:, 7].max() < 1e-3
    ok = [k for k in range(K) if 0 < labels[:, k].sum() < len(labels)]
    assert np.mean([scores[labels[:, k] == 1, k].mean() > scores[labels[:, k] == 0, k].mean() for k in ok]) > 0.9
    again = WindowStacker.from_meta({"window_stacker": json.loads(json.dumps(stacker.to_dict()))})
    assert again == stacker and WindowStacker.from_meta({}) is None
    with pytest.raises(ModelFormatError) as e:
        WindowStacker.from_meta({"window_stacker": {**stacker.to_dict(), "own_features": ["tagger"]}})
    assert e.value.code == ErrorCode.CONTRACT_RERANKER_INVALID
    with pytest.raises(InvalidInputError):
        WindowStacker.fit(own, shared, np.zeros_like(labels))
