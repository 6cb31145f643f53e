"""Entity fraud from a transaction log: the graph built from payments, labels from a table, the coded refusals."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from deepseek_apps import FraudDetector
from deepseek_apps.apps.fraud.entities import EntityTask, TransactionLog
from deepseek_apps.apps.fraud.entities.txlog import log_graph
from deepseek_apps.apps.fraud.synthetic import generate_transactions
from deepseek_apps.errors import InvalidInputError

TASK = EntityTask(epochs=8, hidden=8, folds=2)


def involved_labels(table, seed: int, ghosts: int = 0) -> pd.DataFrame:
    """Accounts in a fraudulent transaction = 1; of the other accounts 70% labelled 0, the rest unknown."""
    fraud = table.label == 1
    bad = set(table.src[fraud]) | {d for d in table.dst[fraud] if d.startswith("a")}
    accounts = sorted(set(table.src) | {d for d in table.dst if d.startswith("a")})
    rng = np.random.default_rng(seed)
    label = [1.0 if a in bad else (0.0 if rng.random() < 0.7 else np.nan) for a in accounts]
    ghost = [f"ghost{k}" for k in range(ghosts)]
    return pd.DataFrame({"id": accounts + ghost, "label": label + [0.0] * ghosts})


@pytest.fixture(scope="module")
def fitted():
    table = generate_transactions(6000, fraud_rate=0.05, seed=2)
    labels = involved_labels(table, seed=2, ghosts=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        det = FraudDetector(task=TASK, arch="trees", seed=0).fit(TransactionLog(table, labels))
    return det, table, labels, [str(w.message) for w in caught]


def test_graph_has_every_entity_typed_with_aggregates_and_payment_edges(fitted):
    det, table, _, _ = fitted
    g = det.entity_model_.graph
    entities = set(table.src) | set(table.dst)
    assert g.n == len(entities) and set(g.ids.tolist()) == entities
    assert (g.types == "account").sum() == len(set(table.src))  # an entity that pays is an account
    for name in ("out:count", "in:amount_sum", "out:counterparties", "out:max:src_n_1h", "out:max:src_recv_amt_1d"):
        assert name in g.attr_names
    assert {"in:mean:dst_since_prev", "active_days", "pass_through", "out:mean:night"} <= set(g.attr_names)
    assert not any(n.startswith("out:") and ":dst_" in n for n in g.attr_names)  # only the entity's own side
    pays = g.relations["pays"]
    assert pays.directed and g.channels == ["pays>", "pays<"]
    pairs = {(s, d) for s, d in zip(table.src, table.dst) if s != d}
    assert g.report["edges"]["pays"] == len(pairs) and g.report["duplicate_edges"]["pays"] == 0
    assert {"count", "amount_max", "mean:log_amount", "mean:src_recv_amt_1d", "mean:pair_new"} <= set(pays.attr_names)
    assert "pays>:edge_mean:mean:src_n_1h" in det.entity_model_.tree_names  # edge columns reach the trees
    assert det.entity_model_.task.directed == ("pays",)


def test_aggregates_count_own_transactions_and_ignore_everyone_elses(fitted):
    _, table, _, _ = fitted
    who = pd.Series(table.src).value_counts().index[3]
    mine = np.flatnonzero((table.src == who) | (table.dst == who))
    others = np.setdiff1d(np.arange(len(table)), mine)[::3]  # a third of the rest of the log
    labels = {"id": [who], "label": [1]}
    full, _ = log_graph(TransactionLog(table, labels), EntityTask())
    part, _ = log_graph(TransactionLog(table.take(np.sort(np.r_[mine, others])), labels), EntityTask())
    row_full, row_part = full.x[full.index()[who]], part.x[part.index()[who]]
    np.testing.assert_allclose(row_full, row_part, rtol=1e-5, atol=1e-5)
    count = full.attr_names.index("out:count")
    assert row_full[count] == pytest.approx(np.log1p((table.src == who).sum()))
    total = full.attr_names.index("in:amount_sum")
    assert row_full[total] == pytest.approx(np.log1p(table.amount[table.dst == who].sum()), rel=1e-5)


def test_unknown_labels_are_never_negatives_and_missing_ids_are_counted(fitted):
    det, table, labels, caught = fitted
    g = det.entity_model_.graph
    known = labels.set_index("id")["label"]
    expected = np.array([known.get(i, np.nan) for i in g.ids.tolist()], dtype=float)
    np.testing.assert_array_equal(np.isnan(g.label), np.isnan(expected))  # merchants and unlisted: unknown
    in_split = np.concatenate(list(det.split_.values()))
    assert not np.isnan(g.label[in_split]).any() and len(in_split) == int((~np.isnan(g.label)).sum())
    log = det.metrics_["graph"]["log"]
    assert log["labels_not_in_log"] == 2 and log["not_in_log_ids"] == ["ghost0", "ghost1"]
    assert log["transactions"] == len(table) and log["fraud"] == int(np.nansum(g.label))
    assert any("2 of" in m and "ghost0" in m for m in caught)


def test_trees_find_the_fraudulent_accounts_well_above_the_positive_rate(fitted):
    det, *_ = fitted
    g = det.entity_model_.graph
    rate = float(np.mean(g.label[det.split_["test"]]))
    auprc = det.metrics_["test"]["trees"]["auprc"]
    assert det.arch_ == "trees" and auprc > max(0.6, 2 * rate)
    top = det.score_entities(g.ids[det.split_["test"]].tolist()[:3])
    assert all(r.kind in ("account", "merchant") and r.reasons for r in top)


def test_saved_log_model_scores_the_same_after_load(fitted, tmp_path):
    det, *_ = fitted
    ids = det.entity_model_.graph.ids[:5].tolist()
    det.save(tmp_path / "m")
    back = FraudDetector.load(tmp_path / "m")
    assert back.arch_ == "trees" and back.metrics_["graph"]["log"]["labels_not_in_log"] == 2
    assert [r.score for r in back.score_entities(ids)] == pytest.approx([r.score for r in det.score_entities(ids)])


SMALL = {
    "source": ["a", "a", "b", "c"],
    "destination": ["m", "b", "m", "m"],
    "timestamp": [1.0, 2.0, 3.0, 4.0],
    "amount": [10.0, 20.0, 5.0, 7.0],
}


@pytest.mark.parametrize(
    "labels, code",
    [
        ({"id": ["x", "y"], "label": [1, 0]}, 1221),  # no label id occurs in the log
        ({"id": ["a", "b"], "label": [0, 0]}, 1215),  # no fraudulent entity
        ({"id": ["a", "b"], "label": [1, 3]}, 1214),  # a label outside {0, 1, empty}
        ({"id": ["a", "a"], "label": [1, 0]}, 1216),  # one id on two rows
        ({"id": ["a", "b"], "fraud": [1, 0]}, 1219),  # no label column
        ({"name": ["a"], "label": [1]}, 1219),  # no id column
    ],
)
def test_bad_label_tables_are_coded_errors_naming_the_values(labels, code):
    with pytest.raises(InvalidInputError) as err:
        log_graph(TransactionLog(SMALL, labels), EntityTask())
    assert err.value.code == code
    if code == 1221:
        assert err.value.value == ["x", "y"]


def test_log_with_edges_or_without_amounts_is_refused():
    labels = {"id": ["a"], "label": [1]}
    with pytest.raises(InvalidInputError) as err:
        FraudDetector(task=TASK).fit(TransactionLog(SMALL, labels), {"r": {"src": ["a"], "dst": ["b"]}})
    assert err.value.code == 1218
    no_amount = {k: v for k, v in SMALL.items() if k != "amount"}
    with pytest.raises(InvalidInputError) as err:
        log_graph(TransactionLog(no_amount, labels), EntityTask())
    assert err.value.code == 1201
