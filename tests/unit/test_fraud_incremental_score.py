"""Batch scoring after the history is incremental and gives the full rebuild's scores.

``incremental_after_history`` (what ``score`` / ``predict`` / ``evaluate`` use on timed
models) against ``rebuild_after_history`` (history + batch rebuilt from scratch): new
accounts, repeated entities, out-of-order times, input order, bad rows recorded, label
features, entity attributes and a deeper sampler.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch_geometric", reason="the fraud extra is not installed (pip install deepseek-apps[fraud])")
pytest.importorskip("lightgbm", reason="the fraud extra is not installed (pip install deepseek-apps[fraud])")

from deepseek_apps import FraudDetector  # noqa: E402
from deepseek_apps.apps.fraud.calibrate import evaluate_scores  # noqa: E402
from deepseek_apps.apps.fraud.data import EntityTable, load_transactions  # noqa: E402
from deepseek_apps.apps.fraud.incremental import incremental_after_history, rebuild_after_history  # noqa: E402
from deepseek_apps.apps.fraud.model import GNNConfig  # noqa: E402
from deepseek_apps.apps.fraud.scoring import all_scores  # noqa: E402
from deepseek_apps.apps.fraud.synthetic import generate_transactions, to_frame  # noqa: E402
from deepseek_apps.apps.fraud.trees import TreeConfig  # noqa: E402

DAY = 86400.0
TOL = 1e-6  # the contract: the same scores as the rebuild (bit-identical here, see the asserts' messages)


def _fit(**kw):
    table = generate_transactions(2500, fraud_rate=0.05, seed=2)
    det = FraudDetector(gnn=GNNConfig(epochs=1, hidden=8, **kw.pop("gnn", {})), trees=TreeConfig(n_estimators=30), **kw)
    return det.fit(table, progress=False)


@pytest.fixture(scope="module")
def plain():
    return _fit()


@pytest.fixture(scope="module")
def labelled():
    """Label features, account attributes and a four-hop sampler: every optional input of the path."""
    table = generate_transactions(2500, fraud_rate=0.05, seed=2)
    accounts = np.unique(table.src.astype(str))[::3]
    attrs = EntityTable(
        accounts, np.random.default_rng(0).normal(size=(len(accounts), 2)).astype(np.float32), ["f0", "f1"]
    )
    det = FraudDetector(
        label_features=True,
        gnn=GNNConfig(epochs=1, hidden=8, num_neighbors=(4, 3, 2, 2)),
        trees=TreeConfig(n_estimators=30),
    )
    return det.fit(table, accounts=attrs, progress=False)


def _batch(seed: int, shift: float, n: int = 150):
    """New rows: known and fresh accounts, accounts paid as destinations, repeated entities."""
    b = generate_transactions(n, seed=seed)
    b.ids = np.array([f"n{seed}_{i}" for i in range(n)], dtype=object)
    b.time = b.time + shift
    b.src, b.dst = b.src.copy(), b.dst.copy()
    b.src[::7] = [f"fresh{i % 4}" for i in range(len(b.src[::7]))]  # new accounts, several rows each
    b.dst[::11] = [f"a{i}" for i in range(len(b.dst[::11]))]  # money into known accounts (mule features)
    return b


BATCHES = {
    "after the history": (5, 20 * DAY),
    "inside the history's span (out of order, clamped)": (6, 0.0),
    "before the history (all clamped to its last time)": (7, -5 * DAY),
}


def _assert_same(det, batch):
    ref_rows, ref, ref_index = rebuild_after_history(det, batch)
    rows, inc, index = incremental_after_history(det, batch)
    assert list(rows.ids[index]) == list(ref_rows.ids[ref_index])
    assert inc.names == ref.names and inc.x.shape[1] == ref.x.shape[1]
    np.testing.assert_allclose(inc.x[index], ref.x[ref_index], rtol=0, atol=TOL)
    np.testing.assert_allclose(inc.x_tree[index], ref.x_tree[ref_index], rtol=0, atol=TOL)
    where = {k: i for i, k in enumerate(ref_rows.ids.tolist())}
    hist = np.array([where[i] for i in rows.ids[: index[0]]], dtype=np.int64)
    np.testing.assert_allclose(inc.x[: index[0]], ref.x[hist], rtol=0, atol=TOL)  # the GNN's history neighbours
    got, want = all_scores(det, inc, index), all_scores(det, ref, ref_index)
    for arch in want:
        np.testing.assert_allclose(got[arch], want[arch], rtol=0, atol=TOL, err_msg=arch)
    return rows, index


@pytest.mark.parametrize("case", list(BATCHES))
def test_incremental_inputs_and_scores_equal_the_rebuild(plain, case):
    seed, shift = BATCHES[case]
    rows, index = _assert_same(plain, _batch(seed, shift))
    # only the batch and the latest k history rows of each entity it touches: never the whole history
    assert len(rows) - len(index) <= 2 * 10 * len(index) and len(rows) < len(plain.history_)


@pytest.mark.parametrize("case", list(BATCHES))
def test_label_features_entities_and_deeper_sampler_equal_the_rebuild(labelled, case):
    seed, shift = BATCHES[case]
    _assert_same(labelled, _batch(seed, shift))


def _reference(det, rows, reasons=True):
    """What ``score`` gave before: history + batch rebuilt, scored in input order."""
    table = load_transactions(rows, labels=False)
    both, inputs, index = rebuild_after_history(det, table)
    index = index[np.argsort(table.row, kind="stable")]
    return det.score_rows(inputs, index, both.ids[index], reasons)


@pytest.mark.parametrize("arch", ["trees", "gnn", "blend", "hybrid"])
def test_score_in_input_order_equals_the_rebuild(plain, arch):
    plain.arch_, plain.threshold_ = arch, plain.thresholds_[arch]
    frame = to_frame(_batch(8, 3 * DAY, n=120)).drop(columns=["label"]).sample(frac=1.0, random_state=0)
    rows = frame.to_dict("records")  # shuffled: scores come back in input order
    got, want = plain.score(rows), _reference(plain, rows)
    assert [s.id for s in got] == [str(r["transaction_id"]) for r in rows] == [s.id for s in want]
    np.testing.assert_allclose([s.score for s in got], [s.score for s in want], rtol=0, atol=TOL)
    assert [s.alert for s in got] == [s.alert for s in want]
    assert [[r.feature for r in s.reasons] for s in got] == [[r.feature for r in s.reasons] for s in want]


def test_recorded_bad_rows_leave_the_good_rows_scores_unchanged(plain):
    rows = to_frame(_batch(9, 2 * DAY, n=60)).drop(columns=["label"]).to_dict("records")
    rows[3]["amount"] = float("nan")  # 1204
    rows[10]["transaction_id"] = rows[9]["transaction_id"]  # 1205, the first one is kept
    rows[20]["timestamp"] = "not a time"  # 1202
    out = plain.predict(rows, errors="record")
    bad = {3: 1204, 10: 1205, 20: 1202}
    assert {i: s.error["code"] for i, s in enumerate(out) if s.error} == bad
    good = [r for i, r in enumerate(rows) if i not in bad]
    want = _reference(plain, good)
    np.testing.assert_allclose([s.score for s in out if not s.error], [s.score for s in want], rtol=0, atol=TOL)


def test_evaluate_uses_the_incremental_inputs(plain):
    batch = _batch(11, 4 * DAY, n=200)  # already in time order: its labels line up with the index
    metrics = plain.evaluate(batch)
    _, ref, index = rebuild_after_history(plain, batch)
    for arch, scores in all_scores(plain, ref, index).items():
        want = evaluate_scores(batch.label, scores, plain.thresholds_[arch])
        assert metrics.per_model[arch].to_dict() == pytest.approx(want.to_dict(), abs=TOL)
