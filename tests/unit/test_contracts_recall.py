"""Span decoding for recall (``clauses.decode.SpanDecoder``) and the recall diagnosis benchmark."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from deepseek_apps.apps.contracts.clauses.data import CATEGORIES, LabelledContract, locate, word_labels, words
from deepseek_apps.apps.contracts.clauses.decode import SpanDecoder, blend_window_scores, decode_spans, sentence_ends
from deepseek_apps.apps.contracts.clauses.eval import contract_questions, span_metrics
from deepseek_apps.errors import ErrorCode, InvalidInputError

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "contracts_recall.py"
BEFORE = SpanDecoder(levels=(), max_gap=2)  # the decoding before the recall work: runs >= 0.3 only


def _bench():
    spec = importlib.util.spec_from_file_location("contracts_recall_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def test_decode_spans_is_the_default_decoder_and_levels_only_add():
    rng = np.random.default_rng(0)
    probs = rng.random((200, 4)) ** 3
    tokens = [("end." if i % 17 == 16 else "Word") for i in range(200)]
    ends = sentence_ends(tokens)
    assert decode_spans(probs, ends=ends) == SpanDecoder().decode(probs, tokens)
    first = BEFORE.decode(probs, tokens)
    more = SpanDecoder(levels=(0.1,), max_gap=2).decode(probs, tokens)
    for category, extra in zip(first, more):
        assert all(c >= 0.3 for _, _, c in category)
        assert set(category) <= set(extra) and len(extra) > len(category)
        assert [c for _, _, c in extra] == sorted((c for _, _, c in extra), reverse=True)


def test_levels_add_lower_confidence_candidates_capped_below_the_threshold():
    probs = np.array([[0.1], [0.9], [0.8], [0.2], [0.25], [0.2], [0.05]])
    first = BEFORE.decode(probs)[0]
    more = SpanDecoder(levels=(0.15,), max_gap=2).decode(probs)[0]
    assert first == [(1, 3, pytest.approx(0.85))]
    assert more[0] == first[0] and more[1] == (1, 6, 0.3)  # mean 0.47, capped at the threshold above
    assert SpanDecoder(levels=(0.15,), max_gap=2, keep_uncut=True).decode(probs) == [more]


def test_per_category_threshold_max_spans_and_uncut():
    probs = np.array([[0.4, 0.4], [0.4, 0.4], [0.4, 0.4], [0.0, 0.0]])
    found = SpanDecoder(threshold=(0.3, 0.5), levels=()).decode(probs)
    assert found[0] == [(0, 3, pytest.approx(0.4))] and found[1] == []
    tokens = ["Term.", "The", "end", "x"]
    cut = SpanDecoder(keep_uncut=True).decode(probs, tokens)[0]
    assert {(a, b) for a, b, _ in cut} == {(0, 1), (1, 3), (0, 3)}
    assert len(SpanDecoder(keep_uncut=True, max_spans=2).decode(probs, tokens)[0]) == 2


@pytest.mark.parametrize("settings", [{"threshold": 0.0}, {"levels": (1.5,)}, {"max_gap": -1}, {"max_spans": 0}])
def test_bad_settings_raise_coded_errors(settings):
    with pytest.raises(InvalidInputError) as e:
        SpanDecoder(**settings)
    assert e.value.code == ErrorCode.CONTRACT_BAD_OPTION


def test_threshold_count_must_match_categories():
    with pytest.raises(InvalidInputError):
        SpanDecoder(threshold=(0.3, 0.3)).decode(np.zeros((3, 41)))
    decoder = SpanDecoder(threshold=(0.2,) * 41, levels=(0.1, 0.05), keep_uncut=True)
    assert SpanDecoder.from_dict(decoder.to_dict()) == decoder


def _contract(text: str, clauses: dict[str, list[str]]) -> LabelledContract:
    tokens, offsets = words(text)
    strings = [clauses.get(c, []) for c in CATEGORIES]
    spans = [locate(text, s) for s in strings]
    return LabelledContract("c.txt", text, tokens, offsets, strings, spans, word_labels(offsets, spans))


def _outputs(bench, contract, probs):
    n = len(contract.words)
    probs_full = np.zeros((n, len(CATEGORIES)), dtype=np.float32)
    for k, p in probs.items():
        probs_full[:, CATEGORIES.index(k)] = p
    return bench.ModelOutputs(probs_full, np.zeros((1, 41)), None, np.zeros((1, 41), np.uint8), {})


def test_diagnosis_assigns_each_cause():
    bench = _bench()
    text = (
        "This Agreement is governed by the laws of Ohio. Either party may terminate on notice. "
        "Licensee cannot assign. Transfers are void. Delegation needs consent. Audit rights apply yearly."
    )
    contract = _contract(
        text,
        {
            "Governing Law": ["This Agreement is governed by the laws of Ohio."],
            "Termination For Convenience": ["Either party may terminate on notice."],
            "Anti-Assignment": ["Licensee cannot assign. Transfers are void. Delegation needs consent."],
            "Audit Rights": ["Audit rights apply yearly."],
            "Insurance": ["Insurance text that is nowhere."],
        },
    )
    n = len(contract.words)
    law, term = np.zeros(n), np.zeros(n)
    law[:9] = 0.9  # matched
    term[9:15] = 0.2  # below the threshold
    assign = np.zeros(n)
    assign[15:24] = 0.8  # one run across a sentence end: the cut pieces miss the whole answer
    audit = np.zeros(n)  # never fires
    insurance = np.full(n, 0.0)
    insurance[0] = 0.9  # fires, but the answer is not in the text
    outputs = [
        _outputs(
            bench,
            contract,
            {
                "Governing Law": law,
                "Termination For Convenience": term + (np.arange(n) == 0) * 0.9,
                "Anti-Assignment": assign,
                "Audit Rights": audit,
                "Insurance": insurance,
            },
        )
    ]
    report = bench.diagnose([contract], outputs, BEFORE)
    causes = {m.category: m.cause for m in report.missed}
    assert report.answers == 5 and report.matched == 1
    assert causes == {
        "Termination For Convenience": "below_threshold",
        "Anti-Assignment": "sentence_cut",
        "Audit Rights": "category_never_fires",
        "Insurance": "not_in_text",
    }
    summary = report.to_dict()
    assert summary["by_cause"]["below_threshold"]["share_of_missed"] == 0.25
    assert summary["recall_ceiling"] == 0.2
    uncut = bench.diagnose([contract], outputs, SpanDecoder(levels=(), max_gap=2, keep_uncut=True))
    assert uncut.matched == 2
    lower = bench.diagnose([contract], outputs, SpanDecoder())  # candidates at 0.1 reach the 0.2 answer
    assert "Termination For Convenience" not in {m.category for m in lower.missed}
    assert "longer_than_window" in {m.cause for m in bench.diagnose([contract], outputs, BEFORE, window=5).missed}


def test_levels_lift_span_recall_in_the_official_metric():
    bench = _bench()
    text = "Payment is due in thirty days. The Licensee shall keep records for audit."
    contract = _contract(text, {"Audit Rights": ["The Licensee shall keep records for audit."]})
    p = np.zeros(len(contract.words))
    p[6:] = 0.12
    outputs = [_outputs(bench, contract, {"Audit Rights": p})]
    before = bench.span_report([contract], outputs, BEFORE)["span"]
    after = bench.span_report([contract], outputs, SpanDecoder(levels=(0.1,)))["span"]
    assert before["aupr"] == 0.0 and after["aupr"] > 0.0 and after["p_at_80r"] == 100.0
    questions = contract_questions(contract, SpanDecoder(levels=(0.1,)).decode(outputs[0].word_probs, contract.words))
    assert span_metrics(questions) == after
    chosen = bench.choose_thresholds([contract], outputs, BEFORE, grid=(0.1, 0.3))
    assert chosen[CATEGORIES.index("Audit Rights")] == 0.1 and chosen[0] == 0.3


def test_window_scores_reorder_candidates():
    found = [[(0, 2, 0.5), (10, 12, 0.6)]]
    scores = np.array([[0.9], [0.0], [0.0]])
    out = blend_window_scores(found, [(0, 5), (5, 10), (10, 15)], scores, weight=0.5)
    assert out == [[(0, 2, pytest.approx(0.7)), (10, 12, pytest.approx(0.3))]]
    assert blend_window_scores(found, [], scores) == found


def test_span_report_mixes_in_lexical_window_scores():
    bench = _bench()
    text = "Payment is due in thirty days. The Licensee shall keep records for audit."
    contract = _contract(text, {"Audit Rights": ["The Licensee shall keep records for audit."]})
    p = np.zeros(len(contract.words))
    p[:6], p[6:] = 0.35, 0.32  # the wrong sentence first on the tagger alone
    output = _outputs(bench, contract, {"Audit Rights": p})
    lexical = np.zeros((3, len(CATEGORIES)))  # windows (0, 6), (6, 12), (7, 13): the second sentence scores
    lexical[1:, CATEGORIES.index("Audit Rights")] = 0.9
    output.window_lexical = lexical
    plain = bench.span_report([contract], [output], BEFORE)
    mixed = bench.span_report([contract], [output], BEFORE, lexical_weight=0.5, size=6, stride=6)
    assert mixed["lexical_weight"] == 0.5 and mixed["span"]["answers"] == plain["span"]["answers"] == 1
    assert mixed["span"]["aupr"] == 100.0 > plain["span"]["aupr"] > 0
