"""New transactions after a fitted log: the new entities' attributes and edges equal a rebuild of log + new, scored inductively."""

from __future__ import annotations

import json
import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("lightgbm", reason="the fraud extra is not installed (pip install deepseek-apps[fraud])")

from deepseek_apps import FraudDetector  # noqa: E402
from deepseek_apps.apps.fraud.entities import EntityTask, TransactionLog  # noqa: E402
from deepseek_apps.apps.fraud.entities.after_log import (  # noqa: E402
    entities_after,
    features_after,
    new_transactions,
    payment_log,
)
from deepseek_apps.apps.fraud.entities.graph import load_entity_graph  # noqa: E402
from deepseek_apps.apps.fraud.entities.txlog import log_graph, transaction_features  # noqa: E402
from deepseek_apps.apps.fraud.synthetic import generate_transactions, to_frame  # noqa: E402
from deepseek_apps.cli import main  # noqa: E402
from deepseek_apps.errors import InvalidInputError  # noqa: E402

TASK = EntityTask(epochs=8, hidden=8, folds=2)
N_LOG = 2500


def renamed(table, rng, share: float, column: str):
    """``table`` with a ``share`` of its ``column`` ids given a fresh ``n`` prefix (entities the log never saw)."""
    values = getattr(table, column)
    fresh = rng.random(len(table)) < share
    setattr(table, column, np.where(fresh, np.char.add("n", values.astype(str)), values).astype(object))


@pytest.fixture(scope="module")
def fitted():
    """A model fitted on the first 2,500 rows; the last 500 (later in time) with 30% new payers and 20% new payees."""
    table = generate_transactions(3000, fraud_rate=0.05, seed=3)
    log, new = table.take(np.arange(N_LOG)), table.take(np.arange(N_LOG, len(table)))
    rng = np.random.default_rng(0)
    renamed(new, rng, 0.3, "src")
    renamed(new, rng, 0.2, "dst")
    new.ids = np.char.add("new", new.ids.astype(str)).astype(object)
    bad = set(log.src[log.label == 1])
    accounts = sorted(set(log.src))
    labels = pd.DataFrame({"id": accounts, "label": [float(a in bad) for a in accounts]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det = FraudDetector(task=TASK, arch="trees", seed=0).fit(TransactionLog(log, labels))
    rebuilt, _ = log_graph(TransactionLog(log.concat(new), labels), TASK)
    return det, log, new, rebuilt


def reference(rebuilt, ids: list[str]):
    """The rows ``log_graph`` of log + new gives the entities ``ids``: node table and their ``pays`` edges."""
    where = [rebuilt.index()[i] for i in ids]
    nodes = pd.DataFrame(rebuilt.x[where], columns=rebuilt.attr_names)
    nodes.insert(0, "id", ids)
    nodes.insert(1, "type", rebuilt.types[where])
    pays, mine = rebuilt.relations["pays"], set(ids)
    keep = np.array([rebuilt.ids[a] in mine or rebuilt.ids[b] in mine for a, b in zip(pays.src, pays.dst)])
    edges = pd.DataFrame(pays.attrs[keep], columns=pays.attr_names)
    edges.insert(0, "source", rebuilt.ids[pays.src[keep]])
    edges.insert(1, "destination", rebuilt.ids[pays.dst[keep]])
    return nodes, edges


def test_new_rows_causal_features_equal_the_rebuild_of_log_plus_new(fitted):
    det, log, new, _ = fitted
    expected, names = transaction_features(log.concat(new))
    got, got_names = features_after(det.entity_model_, new_transactions(det.entity_model_, new))
    assert got_names == names
    np.testing.assert_allclose(got, expected[N_LOG:], rtol=1e-6, atol=1e-6)
    assert (got[:, names.index("dst_n_7d")] > 0).mean() > 0.5  # the log's history reaches the new rows


def test_new_entities_attributes_types_and_edges_equal_log_graph_of_log_plus_new(fitted):
    det, log, new, rebuilt = fitted
    nodes, edges = entities_after(det.entity_model_, new_transactions(det.entity_model_, new))
    seen = set(log.src) | set(log.dst)
    expected_ids = {i for i in set(new.src) | set(new.dst) if i not in seen}
    assert set(nodes["id"]) == expected_ids and len(nodes) == len(expected_ids) > 50
    ref_nodes, ref_edges = reference(rebuilt, nodes["id"].tolist())
    assert list(nodes.columns) == ["id", "type", *det.entity_model_.graph.attr_names]
    np.testing.assert_allclose(
        nodes[rebuilt.attr_names].to_numpy(), ref_nodes[rebuilt.attr_names].to_numpy(), atol=1e-5
    )
    assert nodes["type"].tolist() == ref_nodes["type"].tolist()
    both = edges["pays"].merge(ref_edges, on=["source", "destination"], suffixes=("", "_ref"))
    assert len(both) == len(edges["pays"]) == len(ref_edges)
    for c in rebuilt.relations["pays"].attr_names:  # these see the counterparty's history in the log
        np.testing.assert_allclose(both[c], both[f"{c}_ref"], rtol=1e-5, atol=1e-5)


def test_scores_equal_the_inductive_scores_of_the_rebuilt_rows_and_are_sane(fitted):
    det, _, new, rebuilt = fitted
    scores = det.score_entities_after(new)
    ids = [r.id for r in scores]
    ref_nodes, ref_edges = reference(rebuilt, ids)
    ref = det.score(ref_nodes, edges={"pays": ref_edges})
    assert [r.id for r in ref] == ids
    np.testing.assert_allclose([r.score for r in scores], [r.score for r in ref], atol=1e-6)
    assert all(0.0 <= r.score <= 1.0 and r.model == "trees" and r.alert == (r.score >= r.threshold) for r in scores)
    assert {r.kind for r in scores} == {"account", "merchant"}
    first = pd.unique(np.column_stack([new.src, new.dst]).ravel())  # stream order = input order here
    assert ids == [i for i in first.tolist() if i in set(ids)]
    assert [r.score for r in det.score(new)] == [r.score for r in scores]  # a TransactionTable routes here


def test_an_entity_never_seen_gets_a_score_and_known_ones_keep_theirs(fitted):
    det, log, _, _ = fitted
    t = float(log.time.max()) + 60.0
    rows = {
        "source": ["stranger", log.src[0], "stranger"],
        "destination": ["shop_x", "shop_x", str(log.dst[0])],
        "timestamp": [t, t + 1.0, t + 2.0],
        "amount": [900.0, 12.5, 40.0],
        "channel": ["online", "card", "card"],
    }
    scores = det.score_entities_after(rows)
    assert [(r.id, r.kind) for r in scores] == [("stranger", "account"), ("shop_x", "merchant")]
    assert all(np.isfinite(r.score) for r in scores)
    known = {k: v[1:2] for k, v in rows.items()}
    known["destination"] = [str(log.dst[0])]
    assert det.score_entities_after(known) == []  # no new entity: fitted scores stay (score_entities)


def test_times_before_the_log_end_are_scored_as_if_they_came_last(fitted):
    det, log, _, _ = fitted
    end = float(log.time.max())
    row = {"source": ["late"], "destination": [str(log.dst[5])], "amount": [30.0], "channel": ["card"]}
    early = det.score_entities_after({**row, "timestamp": [end - 86400.0]})
    at_end = det.score_entities_after({**row, "timestamp": [end]})
    assert early[0].score == at_end[0].score


def test_saved_model_keeps_its_log_and_scores_new_transactions_the_same(fitted, tmp_path):
    det, log, new, _ = fitted
    det.save(tmp_path / "m")
    back = FraudDetector.load(tmp_path / "m")
    kept = back.entity_model_.graph.log
    assert kept.time.tolist() == log.time.tolist() and kept.channels == ["card", "online", "transfer"]
    assert back.entity_model_.graph.ids[kept.src].tolist() == log.src.tolist()
    ours, theirs = det.score_entities_after(new), back.score_entities_after(to_frame(new).drop(columns="label"))
    assert [r.id for r in theirs] == [r.id for r in ours]
    np.testing.assert_allclose([r.score for r in theirs], [r.score for r in ours], atol=1e-9)


def test_cli_scores_the_new_entities_of_a_transactions_file(fitted, tmp_path, capsys):
    det, _, new, _ = fitted
    det.save(tmp_path / "m")
    to_frame(new).to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "scores.jsonl"
    args = ["fraud", "score", str(tmp_path / "new.csv"), "--new-transactions", "--model", str(tmp_path / "m")]
    assert main([*args, "--out", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in lines] == [r.id for r in det.score_entities_after(new)]
    assert main([*args, "--out", str(out), "--edges", "pays=x.csv"]) == 2
    assert "[DSA-1000]" in capsys.readouterr().err


def good_rows(log) -> dict:
    t = float(log.time.max()) + 10.0
    return {"source": ["p", "q"], "destination": ["r", "s"], "timestamp": [t, t], "amount": [5.0, 6.0]}


@pytest.mark.parametrize(
    "change, code, value",
    [
        ({"amount": [5.0, float("nan")]}, 1204, ["nan"]),
        ({"amount": [5.0, -3.0]}, 1209, ["-3.0"]),
        ({"timestamp": ["yesterday-ish", 1.0]}, 1202, ["yesterday-ish"]),
        ({"timestamp": None}, 1201, None),
        ({"source": [], "destination": [], "timestamp": [], "amount": []}, 1210, None),
    ],
)
def test_bad_rows_are_the_coded_errors_of_the_transaction_reader(fitted, change, code, value):
    det, log, _, _ = fitted
    rows = {**good_rows(log), **change}
    rows = {k: v for k, v in rows.items() if v is not None}
    with pytest.raises(InvalidInputError) as err:
        det.score_entities_after(rows)
    assert err.value.code == code
    if value is not None:  # the offending value, as fit and the transaction task name it
        assert err.value.value == value


def test_a_column_the_model_was_fitted_with_is_required(fitted):
    det, log, _, _ = fitted
    with pytest.raises(InvalidInputError) as err:
        det.score_entities_after(good_rows(log))  # the log had a channel column
    assert err.value.code == 1201 and err.value.value == ["channel"]


def test_models_without_a_log_refuse_with_1220(fitted):
    _, log, _, _ = fitted
    graph = load_entity_graph({"id": ["a", "b"], "x": [1.0, 2.0], "label": [1, 0]}, None, TASK)
    with pytest.raises(InvalidInputError) as err:
        payment_log(SimpleNamespace(graph=graph))  # an entity model fitted on a node table
    assert err.value.code == 1220
    with pytest.raises(InvalidInputError) as err:
        FraudDetector().score_entities_after(good_rows(log))  # the shipped transaction model
    assert err.value.code == 1220
