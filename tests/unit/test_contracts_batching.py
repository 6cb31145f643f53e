"""Clause windows batched across documents and sorted by length give the per-document results.

The encoder is replaced by a deterministic function of each row alone (so any change in the
results can only come from how windows are cut, sorted, batched and scattered back).
"""

from __future__ import annotations

import numpy as np
import pytest

from deepseek_apps.apps.contracts.app import ContractParser
from deepseek_apps.apps.contracts.clauses.data import CATEGORIES, windows
from deepseek_apps.apps.contracts.clauses.inference import ClauseRuntime, _tiling, sigmoid
from deepseek_apps.apps.contracts.synthetic import generate_contracts

pytest.importorskip("tokenizers")


def _row_logits(batch: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Word logits from each word's first token id and its row's length; window logits from the row."""
    ids, mask, index = batch["input_ids"], batch["attention_mask"], batch["word_index"]
    lengths = mask.sum(1, keepdims=True)
    first = np.take_along_axis(ids, index, axis=1)
    word = np.sin(first[..., None] * 0.01 + np.arange(len(CATEGORIES)) + lengths[..., None] * 0.1) * 3
    window = np.cos((ids * mask).sum(1, keepdims=True) * 1e-4 + np.arange(len(CATEGORIES)))
    return word.astype(np.float32), window.astype(np.float32)


def _runtime(**kwargs) -> ClauseRuntime:
    from deepseek_apps.apps.contracts.clauses.tokens import WordTokenizer

    try:
        tokenizer = WordTokenizer.default()
    except Exception as exc:  # the encoder package is an optional extra
        pytest.skip(f"no encoder tokenizer: {exc}")
    meta = {"config": {"size": 60, "stride": 45}}
    return ClauseRuntime(_row_logits, tokenizer, meta, None, batch_size=8, **kwargs)


def _legacy(runtime: ClauseRuntime, words: list[str]):
    """The loop before batching by length: windows in document order, averaged per word."""
    spans = windows(len(words), runtime.size, runtime.stride)
    word_sum = np.zeros((len(words), len(CATEGORIES)), dtype=np.float32)
    count = np.zeros((len(words), 1), dtype=np.float32)
    window_probs = []
    for start in range(0, len(spans), runtime.batch_size):
        chunk = spans[start : start + runtime.batch_size]
        word_logits, window_logits = runtime.logits(runtime.tokenizer.encode([words[a:b] for a, b in chunk]))
        window_probs.append(sigmoid(window_logits))
        for row, (a, b) in enumerate(chunk):
            word_sum[a:b] += sigmoid(word_logits)[row, : b - a]
            count[a:b] += 1
    return spans, np.concatenate(window_probs), word_sum / np.maximum(count, 1)


def _documents() -> list[list[str]]:
    texts = [c.text for c in generate_contracts(3, seed=11)]
    return [texts[0].split(), texts[1].split()[:40], [], texts[2].split() + texts[0].split()]


def test_windows_of_many_documents_batched_by_length_equal_each_document_alone():
    runtime = _runtime()
    docs = _documents()
    many = runtime.predict_many(docs)
    for words, (spans, window_probs, word_probs) in zip(docs, many):
        alone = _legacy(runtime, words) if words else ([], np.zeros((0, 41)), np.zeros((0, 41)))
        assert spans == alone[0]
        np.testing.assert_array_equal(window_probs, alone[1])
        np.testing.assert_array_equal(word_probs, alone[2])
        assert np.array_equal(word_probs, runtime.predict_words(words)[2])


def test_refine_reads_the_tiling_first_and_the_overlapping_windows_where_flagged():
    docs = _documents()
    every = _runtime().predict_many(docs)
    for level in (0.0, 1e-9):  # every word flagged: the same windows as without the cascade
        for (_, w1, p1), (_, w2, p2) in zip(every, _runtime(refine=level).predict_many(docs)):
            np.testing.assert_array_equal(p1, p2)
            np.testing.assert_array_equal(w1, w2)
    layouts = [windows(len(w), 60, 30) for w in docs]
    first, others = _tiling(layouts, 60)
    assert sorted(first + others) == list(range(sum(map(len, layouts))))
    tiles = [0, *np.cumsum([len(s) for s in layouts])]
    for d, spans in enumerate(layouts):  # the tiling covers every word of every document
        covered = np.zeros(len(docs[d]), dtype=bool)
        for i in first:
            if tiles[d] <= i < tiles[d + 1]:
                a, b = spans[i - tiles[d]]
                covered[a:b] = True
        assert covered.all()
    nothing = _runtime(refine=1.1).predict_many(docs)  # nothing flagged: only the tiling is read
    read = sum(int((w.max(axis=1) > 0).sum()) for _, w, _ in nothing)
    assert read == len(first)


def test_parser_predict_batches_documents_and_matches_analyze_one_by_one():
    contracts = generate_contracts(3, seed=5)
    files = [(f"c{i}.txt", c.text.encode()) for i, c in enumerate(contracts)] + [("bad.pdf", b"%PDF-1.4 broken")]
    parser = ContractParser(min_confidence=0.0)
    parser.__dict__["_tagger"] = _runtime()
    batched = parser.predict(files, errors="record")
    assert batched[-1].error["code"] == 1303 and not batched[-1].clauses
    for (name, data), result in zip(files[:-1], batched):
        alone = parser.analyze(data, filename=name)
        assert result.stage == alone.stage == "rules+model"
        assert [c.model_dump() for c in result.clauses] == [c.model_dump() for c in alone.clauses]
        assert result.clauses and result.elapsed_ms > 0
