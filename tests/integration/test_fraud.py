"""FraudDetector end to end on synthetic data: fit, score, online, explain, save/load, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch_geometric", reason="the fraud extra is not installed (pip install deepseek-apps[fraud])")
pytest.importorskip("lightgbm", reason="the fraud extra is not installed (pip install deepseek-apps[fraud])")

from deepseek_apps import FraudDetector, FraudScore  # noqa: E402
from deepseek_apps.apps.fraud.model import GNNConfig  # noqa: E402
from deepseek_apps.apps.fraud.synthetic import generate_transactions, to_frame  # noqa: E402
from deepseek_apps.apps.fraud.trees import TreeConfig  # noqa: E402
from deepseek_apps.cli import main  # noqa: E402
from deepseek_apps.errors import InvalidInputError  # noqa: E402


@pytest.fixture(scope="module")
def fitted():
    table = generate_transactions(3000, fraud_rate=0.05, seed=2)
    det = FraudDetector(gnn=GNNConfig(epochs=4, hidden=16), trees=TreeConfig(n_estimators=80), target_fpr=0.01)
    return det.fit(table, progress=False)


def _new(n=40, seed=9):
    table = generate_transactions(n, seed=seed)
    table.ids = np.array([f"new{i}" for i in range(n)], dtype=object)
    table.time = table.time + 90 * 86400  # after the history
    return table


def test_fit_trains_three_models_and_calibrates(fitted):
    assert fitted.model_ in ("gnn", "trees", "hybrid", "blend")
    test = fitted.metrics_["test"]
    assert set(test) == {"gnn", "trees", "hybrid", "blend"}
    assert max(m["auc"] for m in test.values()) > 0.9
    val = fitted.metrics_["val"][fitted.model_]
    assert val["fpr_at_threshold"] <= 0.01 + 1e-9
    assert fitted.split_["train"].max() < fitted.split_["test"].min()  # timed: split by time


def test_score_is_typed_and_online_matches_batch(fitted):
    new = _new()
    scores = fitted.score(new)
    assert len(scores) == len(new) and isinstance(scores[0], FraudScore)
    assert all(0.0 <= s.score <= 1.0 and s.alert == (s.score >= fitted.threshold_) for s in scores)
    assert json.loads(json.dumps(scores[0].to_dict()))["id"] == "new0"
    for i in (0, 7):
        row = {
            "transaction_id": f"new{i}",
            "source": new.src[i],
            "destination": new.dst[i],
            "timestamp": float(new.time[i]),
            "amount": float(new.amount[i]),
            "channel": new.channel[i],
        }
        one = fitted.score_one(row)
        alone = fitted.score([row])[0]
        assert one.score == pytest.approx(alone.score, rel=1e-4, abs=1e-6)


def test_save_load_round_trip(fitted, tmp_path):
    fitted.save(tmp_path / "m")
    again = FraudDetector.load(tmp_path / "m")
    new = _new(15, seed=3)
    a = [s.score for s in fitted.score(new)]
    b = [s.score for s in again.score(new)]
    np.testing.assert_allclose(a, b, rtol=1e-5)
    assert again.metrics_["model"] == fitted.model_


def test_unknown_entities_and_known_ids_are_clear_errors(fitted):
    with pytest.raises(InvalidInputError) as exc:
        fitted.score_entities(["nobody"])
    assert exc.value.code == 1206
    with pytest.raises(InvalidInputError) as exc:
        fitted.score(
            [
                {
                    "transaction_id": fitted.history_.ids[0],
                    "source": "a",
                    "destination": "m",
                    "timestamp": 1.0,
                    "amount": 1.0,
                }
            ]
        )
    assert exc.value.code == 1205
    acc, mer = fitted.history_.src[0], fitted.history_.dst[0]
    assert fitted.score_entities([acc])[0].kind == "account"
    assert [s.kind for s in fitted.score([mer])] == ["merchant"]
    with pytest.raises(InvalidInputError) as exc:
        fitted.score(["nobody-at-all"])
    assert exc.value.code == 1206


def test_explain_gives_features_neighbours_and_a_picture(fitted):
    h = fitted.history_
    idx = int(np.flatnonzero(h.label == 1)[-1])
    exp = fitted.explain(h.ids[idx])
    assert exp.features and exp.source == h.src[idx]
    assert all(n.via in ("account", "merchant") for n in exp.neighbours)
    assert exp.draw(300).size == (300, 300)
    assert json.loads(json.dumps(exp.to_dict()))["id"] == h.ids[idx]
    new = _new(20, seed=6)
    fresh = fitted.explain("new19", new)
    assert fresh.score == pytest.approx(fitted.score(new)[19].score, rel=1e-4)
    with pytest.raises(InvalidInputError):
        fitted.explain("missing-id")
    by_account = fitted.explain(h.src[idx])  # an entity: its highest-scoring transaction
    assert h.src[idx] in (by_account.source, by_account.destination)
    mine = [i for i, s, d in zip(h.ids, h.src, h.dst) if h.src[idx] in (s, d)]
    own = fitted.score_history(mine, reasons=False)
    assert by_account.score == pytest.approx(max(s.score for s in own), rel=1e-5)


def test_cli_score_is_resumable_with_per_item_errors(fitted, tmp_path, capsys):
    model = tmp_path / "model"
    fitted.save(model)
    frame = to_frame(_new(30, seed=4))
    frame.loc[5, "amount"] = float("nan")
    path = tmp_path / "new.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "scores.jsonl"
    assert (
        main(
            [
                "fraud",
                "score",
                str(path),
                "--out",
                str(out),
                "--model",
                str(model),
                "--batch-size",
                "10",
                "--no-progress",
            ]
        )
        == 0
    )
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == 30
    bad = [x for x in lines if x["error"]]
    assert len(bad) == 1 and bad[0]["id"] == frame.loc[5, "transaction_id"] and bad[0]["error"]["code"] == 1204
    # a torn last line (killed mid-write) is cut off, and nothing is scored twice
    text = out.read_text().splitlines(keepends=True)
    out.write_text("".join(text[:-3]) + text[-3][:20])
    assert main(["fraud", "score", str(path), "--out", str(out), "--model", str(model), "--no-progress"]) == 0
    again = [json.loads(x)["id"] for x in out.read_text().splitlines()]
    assert sorted(again) == sorted(x["id"] for x in lines)


def test_default_model_scores_with_no_arguments():
    det = FraudDetector()
    scores = det.score(_new(10, seed=11))
    assert len(scores) == 10 and det.model_ in ("gnn", "trees", "hybrid", "blend")
    assert det.metrics_["test"][det.model_]["auc"] > 0.9


def test_gat_layers_and_focal_loss_train_and_round_trip(tmp_path):
    table = generate_transactions(1500, fraud_rate=0.06, seed=5)
    det = FraudDetector(
        arch="gnn", gnn=GNNConfig(epochs=2, hidden=8, conv="gat", loss="focal"), trees=TreeConfig(n_estimators=20)
    ).fit(table, progress=False)
    assert det.model_ == "gnn" and det.metrics_["test"]["gnn"]["auc"] > 0.5
    det.save(tmp_path / "gat")
    again = FraudDetector.load(tmp_path / "gat")
    new = _new(10, seed=8)
    np.testing.assert_allclose([s.score for s in det.score(new)], [s.score for s in again.score(new)], rtol=1e-5)


def test_entity_tables_feed_the_graph_and_the_trees(tmp_path):
    table = generate_transactions(1500, fraud_rate=0.06, seed=7)
    ids = sorted(set(table.src))
    fraudsters = set(table.src[table.label == 1])
    accounts = {"entity_id": ids, "kyc_level": [0 if i in fraudsters else 2 for i in ids], "label": [0] * len(ids)}
    det = FraudDetector(gnn=GNNConfig(epochs=2, hidden=8), trees=TreeConfig(n_estimators=30)).fit(
        table, accounts=accounts, progress=False
    )
    assert "account.kyc_level" in det.tree_feature_names_
    assert det.gnn_.proj["account"].in_features == 2
    new = _new(10, seed=12)
    row = {
        "transaction_id": "new3",
        "source": new.src[3],
        "destination": new.dst[3],
        "timestamp": float(new.time[3]),
        "amount": float(new.amount[3]),
        "channel": new.channel[3],
    }
    assert det.score_one(row).score == pytest.approx(det.score([row])[0].score, rel=1e-4, abs=1e-6)
    det.save(tmp_path / "ent")
    again = FraudDetector.load(tmp_path / "ent")
    np.testing.assert_allclose([s.score for s in det.score(new)], [s.score for s in again.score(new)], rtol=1e-5)
