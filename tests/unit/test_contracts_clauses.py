"""Clause data, metrics and LoRA: the pieces of the learned clause tagger, on small inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepseek_apps.apps.contracts.clauses.data import (
    CATEGORIES,
    load_labelled,
    locate,
    windows,
    word_labels,
    words,
    write_cuad_layout,
)
from deepseek_apps.apps.contracts.clauses.decode import decode_spans
from deepseek_apps.apps.contracts.clauses.eval import jaccard, pr_summary, span_metrics
from deepseek_apps.apps.contracts.synthetic import generate_contracts
from deepseek_apps.core.lora import LoRALinear, add_lora, lora_state_dict, merge_lora
from deepseek_apps.errors import InvalidInputError


def test_locate_matches_across_whitespace_and_omissions():
    text = "1. Governing  Law.\nThis Agreement shall be governed by\n the laws of Ohio, without regard."
    spans = locate(text, ["This Agreement shall be governed by the laws <omitted> Ohio", "not in the text"])
    assert [text[a:b] for a, b in spans] == ["This Agreement shall be governed by\n the laws", "Ohio"]


def test_word_labels_and_windows_cover_every_word():
    text = " ".join(f"w{i}" for i in range(130))
    tokens, offsets = words(text)
    spans = windows(len(tokens), size=60, stride=45)
    assert spans[0] == (0, 60) and spans[-1][1] == 130
    assert all(b - a == 60 for a, b in spans) and all(s2[0] - s1[0] <= 45 for s1, s2 in zip(spans, spans[1:]))
    start = text.index("w70")
    labels = word_labels(offsets, [[(start, start + 7)], []])
    assert labels[:, 0].nonzero()[0].tolist() == [70, 71] and not labels[:, 1].any()
    assert windows(0) == [] and windows(5) == [(0, 5)]


def test_synthetic_cuad_layout_round_trips(tmp_path):
    contracts = generate_contracts(3, seed=4)
    labelled = load_labelled(write_cuad_layout(contracts, tmp_path))
    assert len(labelled) == 3
    law = CATEGORIES.index("Governing Law")
    for source, item in zip(contracts, labelled):
        truth = source.facts_of("GOVERNING_LAW")[0]
        assert item.spans[law] == [(truth.start, truth.end)]
        window_spans, window_labels = item.window_labels()
        assert window_labels.shape == (len(window_spans), len(CATEGORIES)) and window_labels[:, law].any()


def test_decode_spans_joins_small_gaps_and_scores_by_mean():
    probs = np.zeros((20, 2), dtype=np.float32)
    probs[2:6, 0] = 0.9
    probs[7:9, 0] = 0.6  # one word below threshold in between: joined
    probs[15:17, 0] = 0.4
    spans = decode_spans(probs, threshold=0.3, max_gap=2)
    assert [(a, b) for a, b, _ in spans[0]] == [(2, 9), (15, 17)]
    assert spans[0][0][2] == pytest.approx(probs[2:9, 0].mean()) and spans[1] == []


def test_span_metrics_follow_cuad_rules():
    gold = "The Licensee shall not assign this Agreement without consent"
    perfect = span_metrics([("Anti-Assignment", [gold], [(gold, 0.9)])])
    assert perfect["aupr"] == pytest.approx(100.0) and perfect["p_at_80r"] == 100.0
    nothing = span_metrics([("Anti-Assignment", [gold], [])])
    assert nothing["aupr"] == 0.0
    noisy = span_metrics([("Anti-Assignment", [gold], [("unrelated words here", 0.95), (gold, 0.5)])])
    assert 0 < noisy["aupr"] < 100 and noisy["predictions"] == 2
    # Parties also count a gold name contained in a prediction
    party = span_metrics([("Parties", ["Acme Inc."], [("between Acme Inc. and the Buyer, a Delaware company", 0.8)])])
    assert party["aupr"] == pytest.approx(100.0)
    assert jaccard("Cap: one, two.", "cap one two") == 1.0


def test_pooled_window_metrics():
    labels = np.array([[1, 0], [0, 0], [0, 1], [0, 0]])
    report = pr_summary(labels, np.array([[0.9, 0.1], [0.2, 0.3], [0.1, 0.8], [0.0, 0.05]]))
    assert report["aupr"] == 1.0 and report["p_at_80r"] == 1.0 and report["positives"] == 2


def test_lora_trains_only_adapters_and_merges_exactly():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.GELU(), torch.nn.Linear(8, 3))
    names = add_lora(net, targets=("0", "2"), rank=2, alpha=4.0)
    assert names == ["0", "2"] and isinstance(net[0], LoRALinear)
    trainable = {n for n, p in net.named_parameters() if p.requires_grad}
    assert trainable == {"0.lora_a", "0.lora_b", "2.lora_a", "2.lora_b"}
    optimizer = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.1)
    x, y = torch.randn(16, 6), torch.randn(16, 3)
    for _ in range(5):
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(net(x), y).backward()
        optimizer.step()
    assert float(lora_state_dict(net)["2.lora_b"].abs().sum()) > 0
    before = net(x)
    merge_lora(net)
    assert isinstance(net[0], torch.nn.Linear) and torch.allclose(before, net(x), atol=1e-5)


def test_lora_bad_arguments():
    net = torch.nn.Sequential(torch.nn.Linear(4, 4))
    with pytest.raises(InvalidInputError) as err:
        add_lora(net, targets=("query",))
    assert err.value.code == 1000 and "query" in str(err.value.value)
    with pytest.raises(InvalidInputError):
        add_lora(net, targets=("0",), rank=0)


def test_lexical_scorer_round_trips_without_pickles(tmp_path):
    from deepseek_apps.apps.contracts.clauses.lexical import LexicalScorer

    texts = ["governed by the laws of Ohio", "shall not assign this agreement", "insurance coverage limits"] * 4
    labels = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 0]] * 4)
    scorer = LexicalScorer(min_df=1).fit(texts, labels)
    scorer.save(tmp_path)
    assert {p.suffix for p in tmp_path.iterdir()} == {".json", ".safetensors"}
    probe = ["the laws of Ohio apply", "no assignment"]
    loaded = LexicalScorer.load(tmp_path).score(probe)
    assert np.abs(loaded - scorer.score(probe)).max() < 1e-3
    assert loaded[0, 0] > loaded[0, 1] and loaded[:, 2].max() < 0.01  # never-positive category never fires


def test_pr_summary_matches_scikit_learn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    labels = (rng.random(500) < 0.1).astype(int)
    scores = np.round(rng.random(500) + labels * 0.3, 2)  # ties included
    precision, recall, _ = metrics.precision_recall_curve(labels, scores)
    summary = pr_summary(labels, scores)
    assert summary["aupr"] == round(metrics.average_precision_score(labels, scores), 4)
    assert summary["p_at_80r"] == round(float(precision[recall >= 0.8].max()), 4)


def test_word_tokenizer_encodes_as_transformers():
    transformers = pytest.importorskip("transformers")
    from deepseek_apps.apps.contracts.clauses.tokens import WordTokenizer, encoder_dir

    reference = transformers.AutoTokenizer.from_pretrained(str(encoder_dir()))
    words = generate_contracts(1, seed=2)[0].text.split()
    lists = [words[i : i + 60] for i in range(0, len(words), 45)] + [["antidisestablishmentarianism,"] * 80, ["a"]]
    ours = WordTokenizer.default().encode(lists)
    theirs = reference(lists, is_split_into_words=True, truncation=True, max_length=128, padding=True)
    assert ours["input_ids"].tolist() == theirs["input_ids"]
    assert ours["attention_mask"].tolist() == theirs["attention_mask"]
    for row, window in enumerate(lists):
        ids = theirs.word_ids(row)
        first = {w: ids.index(w) for w in range(len(window)) if w in ids}
        last = max(p for p, w in enumerate(ids) if w is not None)
        assert ours["word_index"][row, : len(window)].tolist() == [first.get(i, last) for i in range(len(window))]


def test_a_model_folder_can_share_a_shipped_models_lexical_scorer(tmp_path):
    import json
    import shutil

    from deepseek_apps.apps.contracts.clauses.folder import CONFIG_FILE, WEIGHTS_FILE, default_dir, read_folder

    shutil.copyfile(default_dir() / WEIGHTS_FILE, tmp_path / WEIGHTS_FILE)
    meta = json.loads((default_dir() / CONFIG_FILE).read_text())
    (tmp_path / CONFIG_FILE).write_text(json.dumps(meta))
    assert read_folder(tmp_path)[2] is None  # no scorer of its own, none named
    (tmp_path / CONFIG_FILE).write_text(json.dumps({**meta, "lexical_from": "default"}))
    shared, own = read_folder(tmp_path)[2], read_folder(default_dir())[2]
    texts = ["This Agreement shall be governed by the laws of the State of New York."]
    np.testing.assert_array_equal(shared.score(texts), own.score(texts))
    (tmp_path / CONFIG_FILE).write_text(json.dumps({**meta, "lexical_from": "nope"}))
    with pytest.raises(InvalidInputError, match="no shipped contracts model named"):
        read_folder(tmp_path)


def test_a_shipped_contracts_model_opens_by_name(tmp_path, monkeypatch):
    from pathlib import Path

    from deepseek_apps.apps.contracts.model_io import open_source, shipped_metrics
    from deepseek_apps.errors import MissingResourceError

    monkeypatch.chdir(tmp_path)  # no folder named "default" here
    source = open_source(Path("default"))
    assert source.metrics == shipped_metrics() and source.lexical is not None
    with pytest.raises(MissingResourceError) as info:
        open_source(Path("no-such-model"))
    assert "'default'" in info.value.hint
