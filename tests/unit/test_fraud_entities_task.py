"""The entity task of FraudDetector: checked input, the five architectures, scoring, explain, persistence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deepseek_apps import FraudDetector
from deepseek_apps.apps.fraud.entities import EntityTask
from deepseek_apps.apps.fraud.entities.detector import ENTITY_ARCHS
from deepseek_apps.apps.fraud.entities.gnn import step_bytes
from deepseek_apps.apps.fraud.entities.graph import load_entity_graph
from deepseek_apps.apps.fraud.entities.synthetic import generate_entities
from deepseek_apps.errors import InvalidInputError

TASK = EntityTask(directed=("transfer",), epochs=8, hidden=8, folds=2)


@pytest.fixture(scope="module")
def fitted():
    nodes, edges = generate_entities(900, seed=3, fraud_rate=0.08)
    det = FraudDetector(task=TASK, seed=0).fit(nodes, edges)
    return det, nodes, edges


def _nodes(**over):
    base = {"id": ["a", "b", "c"], "x": [1.0, 2.0, 3.0], "label": [1, 0, None]}
    base.update(over)
    return pd.DataFrame(base)


@pytest.mark.parametrize(
    "nodes, edges, code",
    [
        (_nodes(), {"r": {"src": ["a"], "dst": ["zz"]}}, 1212),
        (_nodes(x=["u", "v", "w"]), {"r": {"src": ["a"], "dst": ["b"]}}, 1213),
        (_nodes(label=[1, 2, None]), {"r": {"src": ["a"], "dst": ["b"]}}, 1214),
        (_nodes(id=["a", "a", "c"]), {"r": {"src": ["a"], "dst": ["c"]}}, 1216),
        (_nodes(x=[1.0, np.inf, 3.0]), {"r": {"src": ["a"], "dst": ["b"]}}, 1217),
        (_nodes(), {"r": {"from_node": ["a"], "dst": ["b"]}}, 1218),
        (pd.DataFrame({"name": ["a"], "x": [1.0]}), {"r": {"src": ["a"], "dst": ["a"]}}, 1219),
    ],
)
def test_bad_input_is_a_coded_error_naming_the_rows(nodes, edges, code):
    with pytest.raises(InvalidInputError) as err:
        load_entity_graph(nodes, edges, EntityTask())
    assert err.value.code == code


def test_nan_imputed_self_loops_and_duplicates_counted_unknown_labels_kept_unknown():
    nodes = _nodes(x=[1.0, np.nan, 3.0])
    edges = pd.DataFrame({"src": ["a", "a", "b", "c"], "dst": ["b", "b", "a", "c"], "relation": ["r", "r", "r", "s"]})
    g = load_entity_graph(nodes, edges, EntityTask())
    assert g.report["imputed"] == 1 and g.x[1, 0] == 2.0
    assert g.report["duplicate_edges"]["r"] == 2 and g.report["edges"]["r"] == 1  # a-b, a-b, b-a undirected
    assert g.report["self_loops"]["s"] == 1 and g.report["edges"]["s"] == 0
    assert np.isnan(g.label[2])


def test_no_positive_label_in_training_part_raises_1215():
    nodes, edges = generate_entities(200, seed=1)
    nodes["label"] = np.where(nodes["label"].notna(), 0.0, np.nan)
    with pytest.raises(InvalidInputError) as err:
        FraudDetector(task=TASK).fit(nodes, edges)
    assert err.value.code == 1215


def test_fit_scores_every_arch_and_keeps_split_stratified(fitted):
    det, nodes, _ = fitted
    assert det.arch_ in ENTITY_ARCHS and set(det.metrics_["test"]) == set(ENTITY_ARCHS)
    labelled = nodes["label"].notna().to_numpy()
    split_nodes = np.concatenate(list(det.split_.values()))
    assert labelled[split_nodes].all() and len(split_nodes) == labelled.sum()  # unknowns in no part
    rates = [np.nanmean(nodes["label"].to_numpy()[det.split_[k]]) for k in ("train", "val", "test")]
    assert max(rates) - min(rates) < 0.03
    assert det.metrics_["test"]["trees"]["auc"] > 0.6  # the graph carries signal the trees find


def test_score_entities_typed_with_reasons_and_unknown_id_recorded(fitted):
    det, nodes, _ = fitted
    ids = nodes["id"].tolist()[:4]
    scores = det.score_entities(ids)
    assert [s.id for s in scores] == ids and all(0 <= s.score <= 1 for s in scores)
    assert all(s.alert == (s.score >= det.threshold_) for s in scores) and scores[0].reasons
    out = det.predict(["no-such-node", ids[0]], errors="record")
    assert out[0].error["code"] == 1206 and out[1].error is None


def test_explain_names_attributes_and_neighbours_per_relation(fitted):
    det, nodes, edges = fitted
    busy = edges["transfer"]["src"].value_counts().index[0]
    exp = det.explain(busy)
    assert exp.attributes and exp.neighbours
    assert {n.relation for n in exp.neighbours} <= set(exp.degree)
    assert exp.draw(200).size == (200, 200)


def test_save_load_same_scores_and_constructor_arguments_honoured(fitted, tmp_path):
    det, nodes, _ = fitted
    det.save(tmp_path / "m")
    back = FraudDetector.load(tmp_path / "m")
    ids = nodes["id"].tolist()[:5]
    assert [s.score for s in back.score_entities(ids)] == [s.score for s in det.score_entities(ids)]
    other = FraudDetector.load(tmp_path / "m", arch="trees", target_fpr=0.05)
    assert other.arch_ == "trees" and other.target_fpr_ == 0.05 and other.target_fpr == 0.05


def test_inductive_new_node_scored_from_its_edges_as_after_load(fitted, tmp_path):
    det, nodes, _ = fitted
    new = nodes.head(2).drop(columns=["label"]).assign(id=["n1", "n2"])
    old = nodes["id"].tolist()
    edges = {"transfer": pd.DataFrame({"src": ["n1", "n2", old[0]], "dst": [old[1], "n1", "n2"]})}
    edges["transfer"][["amount", "timestamp"]] = 1.0
    first = det.score(new, edges=edges)
    det.save(tmp_path / "m2")
    again = FraudDetector.load(tmp_path / "m2").score(new, edges=edges)
    assert [s.id for s in first] == ["n1", "n2"]
    assert np.allclose([s.score for s in first], [s.score for s in again])
    with pytest.raises(InvalidInputError) as err:
        det.score(new.drop(columns=["x0"]), edges=edges)
    assert err.value.code == 1219


def test_a_node_table_without_a_type_column_fits_and_scores_new_nodes():
    nodes, edges = generate_entities(300, seed=5, fraud_rate=0.1)
    untyped = nodes.drop(columns=[c for c in ("type",) if c in nodes.columns])
    det = FraudDetector(task=EntityTask(directed=("transfer",), epochs=2, hidden=8, folds=2), arch="trees", seed=0)
    det.fit(untyped, edges)
    assert len(det.score_entities(untyped["id"].tolist()[:5])) == 5
    new = untyped.head(1).drop(columns=["label"]).assign(id=["fresh"])
    link = {
        "transfer": pd.DataFrame(
            {"src": ["fresh"], "dst": [untyped["id"].iloc[3]], "amount": [1.0], "timestamp": [1.0]}
        )
    }
    assert det.score(new, edges=link)[0].id == "fresh"


def test_train_labels_of_some_nodes_match_the_full_array(fitted):
    model = fitted[0].entity_model_
    nodes = np.random.default_rng(0).choice(model.graph.n, 200, replace=False)
    for picked in (nodes, np.sort(nodes), nodes[:0], model.split["val"][:5], model.split["train"][:5]):
        np.testing.assert_array_equal(model.train_label(picked), model.train_label()[picked])


def test_the_gnn_working_set_estimate_stays_calibrated_to_the_measured_one():
    assert abs(step_bytes(200_000, 32, 4, 2) - 1.07e9) < 0.05e9  # measured with glibc mapping every block
    assert step_bytes(1_000_000, 32, 4, 2) == 5 * step_bytes(200_000, 32, 4, 2)
