"""No feature looks into the future; the online path equals the batch path; the sampler is causal."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch_geometric", reason="the fraud extra is not installed (pip install deepseek-apps[fraud])")

import torch  # noqa: E402

from deepseek_apps.apps.fraud.features import EntityIndex, encode, features_for  # noqa: E402
from deepseek_apps.apps.fraud.graph import build_graph  # noqa: E402
from deepseek_apps.apps.fraud.sampler import TemporalSampler, make_loader  # noqa: E402
from deepseek_apps.apps.fraud.synthetic import generate_transactions  # noqa: E402
from deepseek_apps.apps.fraud.trees import neighbour_means  # noqa: E402

CHANNELS = ["card", "online", "transfer"]


@pytest.fixture(scope="module")
def table():
    return generate_transactions(3000, seed=1)


def test_features_of_an_event_ignore_everything_after_it(table):
    x_full, names = features_for(table, CHANNELS)
    rng = np.random.default_rng(0)
    for cut in rng.integers(100, len(table) - 1, size=5):
        # drop the future entirely
        x_cut, _ = features_for(table.take(np.arange(cut + 1)), CHANNELS)
        np.testing.assert_allclose(x_cut, x_full[: cut + 1], rtol=1e-6, atol=1e-6)
        # or rewrite it wildly: later events hitting the same entities with huge amounts
        future = table.take(np.arange(len(table)))
        future.amount = future.amount.copy()
        future.amount[cut + 1 :] *= 1000
        future.src = future.src.copy()
        future.src[cut + 1 :] = future.src[cut]
        x_future, _ = features_for(future, CHANNELS)
        np.testing.assert_allclose(x_future[: cut + 1], x_full[: cut + 1], rtol=1e-6, atol=1e-6)
    assert "src_n_1h" in names and "src_recv_n_1d" in names and "label" not in " ".join(names)


def test_single_event_path_matches_batch(table):
    keys, _ = encode(table.src)
    head = EntityIndex(keys[:-1], table.time[:-1], table.amount[:-1], int(keys.max()) + 1)
    full = EntityIndex(keys, table.time, table.amount, int(keys.max()) + 1).batch()
    one = head.one(int(keys[-1]), float(table.time[-1]), float(table.amount[-1]))
    for k, v in one.items():
        assert v == pytest.approx(full[k][-1]), k


def test_neighbour_means_are_causal_in_streams_and_exclusive_in_static_graphs():
    keys = np.array([0, 1, 0, 0, 1])
    x = np.array([[1.0], [10.0], [3.0], [5.0], [20.0]])
    np.testing.assert_allclose(neighbour_means(keys, x, True)[:, 0], [0, 0, 1, 2, 10])
    np.testing.assert_allclose(neighbour_means(keys, x, False)[:, 0], [4, 20, 3, 2, 10])


def test_sampler_never_reaches_a_later_transaction(table):
    x, _ = features_for(table, CHANNELS)
    graph = build_graph(table, x, table.label)
    seeds = torch.tensor([5, 700, 1500, 2999])
    for strategy in ("recent", "uniform"):
        out = TemporalSampler(graph.data, [5, 5], strategy=strategy).sample("txn", seeds)
        assert (out.node["txn"] <= seeds[out.batch["txn"]]).all()
        pairs = out.batch["txn"] * 10_000 + out.node["txn"]
        assert len(torch.unique(pairs)) == len(pairs)  # de-duplicated per seed
        for et, row in out.row.items():  # local indices are in range
            assert int(row.max()) < len(out.node[et[0]]) and int(out.col[et].max()) < len(out.node[et[2]])


def test_sampler_plugs_into_pyg_loader(table):
    x, _ = features_for(table, CHANNELS)
    graph = build_graph(table, x, table.label)
    loader = make_loader(graph.data, [4, 4], ("txn", torch.arange(0, 600)), batch_size=256)
    batches = list(loader)
    assert sum(b["txn"].batch_size for b in batches) == 600
    b = batches[-1]
    assert b["txn"].x.shape[1] == x.shape[1]
    assert torch.equal(b["txn"].n_id[: b["txn"].batch_size], torch.arange(512, 600))
    assert (b["txn"].n_id <= 599).all()


def test_out_of_fold_label_rates_never_see_the_rows_own_label():
    from deepseek_apps.apps.fraud.features import label_rate_columns

    rng = np.random.default_rng(0)
    src, dst = rng.integers(0, 20, 500), rng.integers(0, 5, 500)
    y = (rng.random(500) < 0.2).astype(float)
    known = rng.random(500) < 0.6
    base, _ = label_rate_columns(src, dst, y, known, folds=5, seed=1)
    for i in np.flatnonzero(known)[:10]:
        flipped = y.copy()
        flipped[i] = 1 - flipped[i]
        again, _ = label_rate_columns(src, dst, flipped, known, folds=5, seed=1)
        np.testing.assert_allclose(again[i], base[i])  # its own label never reaches its features
    unknown = np.flatnonzero(~known)[:5]
    y2 = y.copy()
    y2[unknown] = 1 - y2[unknown]
    again, _ = label_rate_columns(src, dst, y2, known, folds=5, seed=1)
    np.testing.assert_allclose(again, base)  # unknown (validation / test) labels are never read
