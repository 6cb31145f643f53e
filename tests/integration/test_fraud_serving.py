"""FraudDetector under the application contract: arch / target_fpr on loaded models, predict with
per-row errors, typed metrics, the exported bundle, and the CLI verbs."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch_geometric", reason="the fraud extra is not installed (pip install deepseek-apps[fraud])")
pytest.importorskip("lightgbm", reason="the fraud extra is not installed (pip install deepseek-apps[fraud])")

from deepseek_apps import FraudDetector  # noqa: E402
from deepseek_apps.apps.fraud.calibrate import FraudMetrics, threshold_for_fpr  # noqa: E402
from deepseek_apps.apps.fraud.model import GNNConfig  # noqa: E402
from deepseek_apps.apps.fraud.synthetic import generate_transactions, to_frame  # noqa: E402
from deepseek_apps.apps.fraud.trees import TreeConfig  # noqa: E402
from deepseek_apps.cli import main  # noqa: E402
from deepseek_apps.core.runtime.bundle import read_bundle  # noqa: E402
from deepseek_apps.errors import DeepSeekAppsError, InvalidInputError  # noqa: E402

CONFIG = GNNConfig(epochs=3, hidden=8)


@pytest.fixture(scope="module")
def fitted():
    table = generate_transactions(1500, fraud_rate=0.06, seed=5)
    return FraudDetector(gnn=CONFIG, trees=TreeConfig(n_estimators=40)).fit(table, progress=False)


def _rows(det, n=8, seed=9, prefix="new"):
    table = generate_transactions(n, fraud_rate=0.2, seed=seed)
    table.ids = np.array([f"{prefix}{i}" for i in range(n)], dtype=object)
    table.time = table.time - table.time.min() + det.history_.time.max() + 3600
    return table


def test_explicit_arch_and_target_fpr_are_honoured_on_the_shipped_model():
    shipped = FraudDetector()
    mine = FraudDetector(arch="trees", target_fpr=0.05)
    assert mine.get_params()["arch"] == "trees" and mine.target_fpr == 0.05  # arguments never rewritten
    assert (shipped.arch_, shipped.target_fpr_) == ("blend", 0.01)
    assert (mine.arch_, mine.target_fpr_) == ("trees", 0.05)
    y = mine.history_.label[mine.split_["val"]]
    assert mine.threshold_ == threshold_for_fpr(y, mine.validation_scores()["trees"], 0.05)
    assert mine.threshold_ < shipped.thresholds_["trees"]  # a looser FPR alerts lower
    # the recomputed validation scores give back the shipped calibration exactly
    # the blend is recomputed from float32 model outputs: equal up to the CPU's summation order
    assert threshold_for_fpr(y, shipped.validation_scores()["blend"], 0.01) == pytest.approx(
        shipped.threshold_, rel=1e-5
    )
    new = _rows(mine, 10, seed=11)
    scores = mine.predict(new)
    assert {s.model for s in scores} == {"trees"} and all(s.alert == (s.score >= mine.threshold_) for s in scores)
    with pytest.raises(InvalidInputError) as exc:
        FraudDetector(arch="forest").predict([])
    assert exc.value.code == 1000


def test_loaded_model_overrides_and_conflicts(fitted, tmp_path):
    fitted.save(tmp_path / "m")
    again = FraudDetector.load(tmp_path / "m")
    assert (again.arch_, again.threshold_, again.target_fpr_) == (fitted.arch_, fitted.threshold_, 0.01)
    gnn = FraudDetector.load(tmp_path / "m", arch="gnn", target_fpr=0.03)
    y = fitted.history_.label[fitted.split_["val"]]
    assert gnn.arch_ == "gnn"
    assert gnn.threshold_ == pytest.approx(threshold_for_fpr(y, fitted.val_scores_["gnn"], 0.03))
    assert FraudDetector.load(tmp_path / "m", arch="auto").arch_ == max(
        fitted.metrics_["val"], key=lambda m: fitted.metrics_["val"][m]["auprc"]
    )
    with pytest.raises(InvalidInputError):  # the model was fitted without label features
        FraudDetector.load(tmp_path / "m", label_features=True)
    conflicting = FraudDetector(tmp_path / "m", label_features=True)
    for _ in range(2):  # raises on every use, never scores with a conflicting model
        with pytest.raises(InvalidInputError):
            conflicting.predict([])
    with pytest.raises(InvalidInputError):  # another network shape
        FraudDetector.load(tmp_path / "m", gnn=GNNConfig(hidden=32))
    same_shape = GNNConfig(hidden=8, epochs=99)  # training settings only matter to fit
    assert FraudDetector.load(tmp_path / "m", gnn=same_shape).gnn_config_.epochs == CONFIG.epochs
    with pytest.raises(DeepSeekAppsError) as exc:
        FraudDetector.load(tmp_path / "missing")
    assert exc.value.code == 2001


def test_fit_epochs_override_leaves_the_config_alone():
    cfg = GNNConfig(epochs=5, hidden=8)
    det = FraudDetector(gnn=cfg, trees=TreeConfig(n_estimators=10)).fit(
        generate_transactions(800, fraud_rate=0.08, seed=1), epochs=1, seed=3, progress=False
    )
    assert cfg.epochs == 5 and det.gnn is cfg and det.gnn_config_.epochs == 1 and len(det.gnn_history_) == 1
    assert det.seed == 0 and det.seed_ == 3


def test_predict_records_bad_rows_and_keeps_the_good_ones(fitted):
    rows = to_frame(_rows(fitted)).drop(columns="label").to_dict("records")
    nan_amount = {**rows[2], "transaction_id": "bad-amount", "amount": float("nan")}
    known_id = {**rows[3], "transaction_id": str(fitted.history_.ids[0])}
    results = fitted.predict([*rows[:4], nan_amount, *rows[4:], known_id], errors="record")
    assert [r.id for r in results] == [*[r["transaction_id"] for r in rows[:4]], "bad-amount"] + [
        *[r["transaction_id"] for r in rows[4:]],
        str(fitted.history_.ids[0]),
    ]
    assert results[4].error["code"] == 1204 and results[-1].error["code"] == 1205
    assert results[4].to_dict()["score"] is None
    good = [r for r in results if r.error is None]
    alone = fitted.predict(rows)
    assert [(r.id, r.score) for r in good] == [(r.id, r.score) for r in alone]
    with pytest.raises(InvalidInputError):
        fitted.predict([nan_amount])
    with pytest.raises(InvalidInputError):
        fitted.predict(rows, errors="ignore")
    entity = fitted.predict([str(fitted.history_.src[0]), "nobody-at-all"], errors="record")
    assert entity[0].kind == "account" and entity[1].error["code"] == 1206


def test_evaluate_returns_typed_metrics(fitted):
    metrics = fitted.evaluate(_rows(fitted, 400, seed=12))
    assert isinstance(metrics, FraudMetrics) and metrics.model == fitted.arch_
    assert set(metrics.per_model) == {"gnn", "trees", "hybrid", "blend"}
    data = json.loads(json.dumps(metrics.to_dict()))
    assert data["auc"] == metrics.per_model[fitted.arch_].auc and data["per_model"]["trees"]["n"] == 400


def test_export_is_a_verified_bundle_that_load_opens(fitted, tmp_path):
    bundle = fitted.export(tmp_path / "fraud.zip")
    manifest = read_bundle(bundle).manifest
    assert manifest["application"] == "fraud" and manifest["runs_without_torch"] is False and manifest["reason"]
    assert manifest["int8"] == {"requested": True, "applied": False, "reason": manifest["int8"]["reason"]}
    again = FraudDetector.load(bundle)
    new = _rows(fitted, 12, seed=13)
    np.testing.assert_allclose([s.score for s in again.predict(new)], [s.score for s in fitted.predict(new)], rtol=1e-6)


def test_cli_train_evaluate_export(tmp_path, capsys):
    model, train = tmp_path / "model", tmp_path / "train.csv"
    to_frame(generate_transactions(1500, fraud_rate=0.06, seed=5)).to_csv(train, index=False)
    assert main(["fraud", "train", "--data", str(train), "--out", str(model), "--epochs", "1", "--arch", "trees",
                 "--seed", "1", "--val-fraction", "0.2", "--no-progress"]) == 0  # fmt: skip
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["arch"] == "trees" and set(report["test"]) == {"gnn", "trees", "hybrid", "blend"}
    det = FraudDetector.load(model)
    assert det.arch_ == "trees" and det.seed_ == 1 and det.metrics_["split"]["val"] == 300
    data = tmp_path / "later.csv"
    to_frame(_rows(det, 200, seed=14)).to_csv(data, index=False)
    assert main(["fraud", "evaluate", "--model", str(model), "--data", str(data), "--arch", "blend"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["model"] == "blend"
    assert main(["fraud", "export", "--model", str(model), "--out", str(tmp_path / "b.zip"), "--no-int8"]) == 0
    assert read_bundle(tmp_path / "b.zip").manifest["int8"]["requested"] is False
