"""Recommender data: loaders, time order, splits, negatives, and no leakage of future events."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from deepseek_apps.apps.recommender.data import InteractionLog, build_samples
from deepseek_apps.apps.recommender.loaders import load_log
from deepseek_apps.apps.recommender.synthetic import generate_log
from deepseek_apps.errors import InvalidInputError, MissingResourceError

MOVIELENS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "movielens_100k"


@pytest.fixture(scope="module")
def log():
    return generate_log(n_users=40, n_items=120, seed=3)


def _clicks_by_user(log: InteractionLog, splits):
    """Raw (timestamp, file position) order per user, as dense item indices."""
    cat = splits.catalog
    out = {}
    order = np.lexsort((np.arange(len(log)), log.timestamps))
    for i in order:
        out.setdefault(cat.user_index(log.users[i]), []).append((log.timestamps[i], cat.item_index(log.items[i])))
    return out


def test_no_future_event_leaks_into_a_history():
    # item ids encode (user, time rank); the file rows are shuffled
    rng = np.random.default_rng(0)
    users, items, stamps = [], [], []
    for u in range(30):
        n = int(rng.integers(3, 40))
        t = np.sort(rng.choice(10_000, n, replace=False))
        users += [u] * n
        items += [u * 1000 + r for r in range(n)]
        stamps += t.tolist()
    order = rng.permutation(len(users))
    log = InteractionLog(np.asarray(users)[order], np.asarray(items)[order], np.asarray(stamps, float)[order])
    splits = build_samples(log, max_len=6, seed=0)
    raw = np.asarray([0] + list(splits.catalog.item_ids))
    time_of = dict(zip(items, stamps))
    for samples in (splits.train, splits.valid, splits.test):
        for row in np.flatnonzero(samples.label == 1):
            target = raw[samples.item[row]]
            hist = raw[samples.hist_items[row][samples.hist_items[row] > 0]]
            rank = target % 1000
            # exactly the min(rank, 6) clicks right before the target, oldest first
            assert hist.tolist() == list(range(target - min(rank, 6), target))
            assert all(time_of[h] <= time_of[target] for h in hist)


def test_timestamp_ties_keep_file_order():
    users = np.asarray([0, 0, 0, 0, 1, 1, 1])  # user 1 adds items to sample negatives from
    log = InteractionLog(users, np.asarray([9, 8, 7, 6, 1, 2, 3]), np.asarray([5.0, 5.0, 5.0, 1.0, 1, 2, 3]))
    splits = build_samples(log, max_len=3)
    raw = np.asarray([0] + list(splits.catalog.item_ids))
    assert raw[splits.test.item[0]] == 7
    assert raw[splits.test.hist_items[0]].tolist() == [6, 9, 8]


def test_last_click_is_test_and_second_to_last_is_validation(log):
    splits = build_samples(log, max_len=8, seed=0)
    clicks = _clicks_by_user(log, splits)
    for samples, back in ((splits.test, 1), (splits.valid, 2)):
        pos = samples.label == 1
        for user, item, hist in zip(samples.user[pos], samples.item[pos], samples.hist_items[pos]):
            items = [i for _, i in clicks[user]]
            assert item == items[-back]
            assert hist[hist > 0].tolist() == items[:-back][-8:]
    # every user with >= 3 clicks has exactly one positive in valid and test
    assert (splits.test.label == 1).sum() == len({u for u, s in clicks.items() if len(s) >= 2})
    assert len(splits.train) == 2 * sum(max(0, len(s) - 3) for s in clicks.values())


def test_negatives_are_unseen_items_with_the_same_history(log):
    splits = build_samples(log, max_len=8, negatives=2, seed=1)
    clicks = _clicks_by_user(log, splits)
    s = splits.train
    assert s.label.reshape(-1, 3).tolist()[0] == [1, 0, 0]
    for row in np.flatnonzero(s.label == 0)[:300]:
        assert s.item[row] not in {i for _, i in clicks[s.user[row]]}
    hist = s.hist_items.reshape(-1, 3, 8)
    assert (hist == hist[:, :1]).all()
    assert (s.category == splits.catalog.item_category[s.item]).all()


def test_sample_building_is_deterministic_per_seed(log):
    a, b, c = build_samples(log, seed=5), build_samples(log, seed=5), build_samples(log, seed=6)
    assert np.array_equal(a.train.item, b.train.item)
    assert not np.array_equal(a.train.item, c.train.item)


def test_csv_loader_with_labels_categories_and_user_columns(tmp_path):
    path = tmp_path / "log.csv"
    rows = ["user_id,item_id,timestamp,label,category,country"]
    rows += [
        f"u{u},i{(u * 7 + t) % 30},{1000 + t},{int(t % 5 != 4)},c{((u * 7 + t) % 30) % 3},{'de' if u % 2 else 'fr'}"
        for u in range(10)
        for t in range(12)
    ]
    path.write_text("\n".join(rows) + "\n")
    log = load_log(path, user_columns=["country"])
    assert len(log) == 10 * 12 - 10 * 2  # label-0 rows are not clicks
    assert log.item_categories["i7"] == "c1"
    splits = build_samples(log, max_len=5)
    assert splits.catalog.user_feature_names == ["country"]
    assert splits.catalog.user_feature_codes.shape == (11, 1)


def test_parquet_and_amazon_loaders(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = pa.table({"user_id": [1, 1, 2, 2], "item_id": [5, 6, 5, 7], "timestamp": [3, 1, 2, 4]})
    pq.write_table(table, tmp_path / "log.parquet")
    log = load_log(tmp_path / "log.parquet")
    assert log.items.tolist() == [5, 6, 5, 7]
    reviews = tmp_path / "reviews.json"
    reviews.write_text(
        "\n".join(json.dumps({"reviewerID": f"A{i % 3}", "asin": f"B{i}", "unixReviewTime": 100 + i}) for i in range(9))
    )
    meta = tmp_path / "meta.json"
    meta.write_text("\n".join(str({"asin": f"B{i}", "categories": [["Electronics", f"Cat{i % 2}"]]}) for i in range(9)))
    log = load_log(reviews, format="amazon", meta=meta)
    assert len(log) == 9 and log.item_categories["B3"] == "Cat1"


def test_bad_logs_raise_coded_errors(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("user,item,time\n1,2,3\n")
    with pytest.raises(InvalidInputError) as err:
        load_log(path)
    assert err.value.code == 1100
    with pytest.raises(MissingResourceError):
        load_log(tmp_path / "missing.csv")
    (tmp_path / "log.xyz").write_text("x")
    with pytest.raises(InvalidInputError) as err:
        load_log(tmp_path / "log.xyz")
    assert err.value.code == 1102


@pytest.mark.realdata
def test_movielens_protocol_sample_counts():
    if not (MOVIELENS / "u.data").exists():
        pytest.skip(f"real data not found at {MOVIELENS} (see ../shared/data/README.md)")
    splits = build_samples(load_log(MOVIELENS), max_len=50, negatives=1, seed=0)
    # the counts of the protocol in ../shared/data/README.md
    assert (len(splits.train), len(splits.valid), len(splits.test)) == (194_342, 1_886, 1_886)
    assert splits.catalog.category_names[0] == "Action" and len(splits.catalog.category_names) == 19


def test_movielens_1m_layout(tmp_path):
    (tmp_path / "ratings.dat").write_text(
        "\n".join(f"{u}::{i}::4::{100 + t}" for u in (1, 2) for t, i in enumerate((10, 20, 30, 40)))
    )
    (tmp_path / "movies.dat").write_text(
        "10::A (1999)::Comedy|Drama\n20::B (2000)::Action\n30::C::Drama\n40::D::Horror\n"
    )
    (tmp_path / "users.dat").write_text("1::F::25::3::12345\n2::M::56::7::54321\n")
    log = load_log(tmp_path)
    assert len(log) == 8 and log.item_categories[10] == "Comedy" and log.item_titles[20] == "B (2000)"
    assert log.user_features["age"] == {1: "<35", 2: "56+"} and log.user_features["gender"][2] == "M"
