"""Hostile input to the recommender: the HTTP service, ids, logs and candidate lists.

Each case asserts the error code and, where a batch is involved, that the good requests of the
same ``predict(..., errors="record")`` call come back exactly as in a clean run.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from deepseek_apps import DINRecommender
from deepseek_apps.apps.recommender.data import Catalog, InteractionLog, build_samples
from deepseek_apps.apps.recommender.loaders import load_log
from deepseek_apps.apps.recommender.serving import RecommendationService, ServiceLimits
from deepseek_apps.apps.recommender.synthetic import generate_log
from deepseek_apps.errors import InvalidInputError

NAN = float("nan")


@pytest.fixture(scope="module")
def rec():
    return DINRecommender()  # the shipped default: int user and item ids


@pytest.fixture()
def service(rec):
    with RecommendationService(rec, limits=ServiceLimits(max_body_bytes=4096, max_history_users=50)) as s:
        yield s


@pytest.fixture()
def client(service):
    pytest.importorskip("fastapi", reason="the recommender extra is not installed")
    pytest.importorskip("httpx", reason="fastapi's TestClient needs httpx")
    from fastapi.testclient import TestClient

    from deepseek_apps.apps.recommender.http import create_app

    return TestClient(create_app(service), raise_server_exceptions=False)


def _code(response) -> int:
    body = response.json()
    assert set(body) == {"error"} and {"code", "message", "hint"} <= set(body["error"])
    return body["error"]["code"]


def _items(response) -> list:
    return [r["item_id"] for r in response.json()["recommendations"]]


# ---------------------------------------------------------------------------- HTTP
def test_body_over_the_limit_is_refused_before_parsing(client):
    good = client.get("/recommend", params={"user_id": 3, "k": 4})
    big = json.dumps({"user_id": 3, "item_id": 1, "pad": "x" * 5000})
    r = client.post("/events", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and _code(r) == 1104

    def chunks():  # no Content-Length: streamed, counted as it arrives
        yield b'{"user_id": 3, "item_id": 1, "pad": "'
        for _ in range(10):
            yield b"y" * 1000
        yield b'"}'

    r = client.post("/events", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and _code(r) == 1104
    assert client.get("/recommend", params={"user_id": 3, "k": 4}).json() == good.json()  # nothing recorded


def test_huge_and_mistyped_ids_are_refused(client, service):
    before = service.local_users
    r = client.post("/events", json={"user_id": "u" * 100_000, "item_id": 1})
    assert r.status_code == 413 and _code(r) == 1104  # 100 KB: over the body limit first
    r = client.post("/events", json={"user_id": "u" * 1000, "item_id": 1})
    assert r.status_code == 400 and _code(r) == 1105
    r = client.post("/events", json={"user_id": 3, "item_id": "i" * 300})
    assert r.status_code == 400 and _code(r) == 1105
    r = client.get("/recommend", params={"user_id": "u" * 300})
    assert r.status_code == 400 and _code(r) == 1105
    r = client.get("/recommend", params={"user_id": 3, "candidates": "1,2," + "c" * 300})
    assert r.status_code == 400 and _code(r) == 1105
    for bad in (None, True, 5.5, [1], {"a": 1}, 2**70):
        r = client.post("/events", json={"user_id": bad, "item_id": 1})
        assert r.status_code == 400 and _code(r) == 1105, bad
    r = client.post("/events", json={"user_id": "", "item_id": 1})
    assert r.status_code == 400 and _code(r) == 1105
    assert service.local_users == before
    with pytest.raises(InvalidInputError) as err:
        service.record("u" * 257, 1)
    assert err.value.code == 1105 and len(err.value.to_dict()["value"]) < 100  # the id is not echoed whole


def test_bad_json_gets_our_error_json_not_a_500(client):
    for body in (b"{", b"not json", b"\xff\xfe", b'{"user_id": 1, "item_id": }', b""):
        r = client.post("/events", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 400 and _code(r) == 1000, body
    r = client.post("/events", json=[1, 2])
    assert r.status_code == 400 and _code(r) == 1000
    r = client.post("/events", json={"item_id": 1})  # missing field
    assert r.status_code == 400 and _code(r) == 1000
    r = client.get("/recommend", params={"user_id": 1, "k": "ten"})
    assert r.status_code == 400 and _code(r) == 1000
    r = client.get("/recommend", params={"user_id": 1, "k": 0})
    assert r.status_code == 400 and _code(r) == 1000


def test_too_many_candidates_are_refused(rec):
    with RecommendationService(rec, limits=ServiceLimits(max_candidates=5)) as service:
        with pytest.raises(InvalidInputError) as err:
            service.recommend(1, candidates=list(range(1, 7)), k=2)
        assert err.value.code == 1014
        assert len(service.recommend(1, candidates=list(range(1, 6)), k=2)) == 2


# ---------------------------------------------------------------------------- one id rule
def test_string_and_int_ids_are_one_user_end_to_end(client, rec):
    first = client.get("/recommend", params={"user_id": "5", "k": 3})
    assert first.json()["user_id"] == 5  # converted to the catalog's type
    item = _items(first)[0]
    assert client.post("/events", json={"user_id": "5", "item_id": str(item)}).json() == {"ok": True}
    after = client.get("/recommend", params={"user_id": 5, "k": 3}).json()
    assert after["recommendations"][0]["history"][-1] == item  # the event is seen, as an int item id
    assert item not in [r["item_id"] for r in after["recommendations"]]  # and the cached answer was dropped
    other = _items(client.get("/recommend", params={"user_id": 6, "k": 3}))[0]
    assert client.post("/events", json={"user_id": 6, "item_id": other}).json() == {"ok": True}
    assert (
        client.get("/recommend", params={"user_id": "6", "k": 3}).json()["recommendations"][0]["history"][-1] == other
    )
    cold = client.get("/recommend", params={"user_id": "new-user", "k": 3}).json()
    assert cold["user_id"] == "new-user" and cold["recommendations"][0]["cold_start"]


def test_string_and_int_ids_share_one_redis_key(rec):
    pytest.importorskip("redis", reason="the recommender extra is not installed")
    from deepseek_apps.core.runtime.redis_local import LocalRedis

    if not LocalRedis.available():
        pytest.skip("redis-server is not installed")
    import redis

    with LocalRedis() as server, RecommendationService(rec, redis_url=server.url) as service:
        service.recommend(7, k=3)
        service.record("7", "12")
        keys = sorted(k.decode() for k in redis.Redis(port=server.port).keys("dsa:rec:hist:*"))
        assert keys == ["dsa:rec:hist:7"]
        assert service.history(7)[-1] == 12 and service.recommend("7", k=3)[0].history[-1] == 12


def test_id_conversion_follows_the_catalog():
    ints = Catalog([1, 5], [10, 20], ["c"], np.array([0, 1, 1]))
    strs = Catalog(["007", "b"], ["x", "10"], ["c"], np.array([0, 1, 1]))
    assert [ints.canonical_user(u) for u in ("5", 5, np.int64(5), "9", "u9", "--5", "²", "9" * 40)] == [
        5,
        5,
        5,
        9,
        "u9",
        "--5",
        "²",
        "9" * 40,
    ]
    assert [strs.canonical_user(u) for u in ("007", 7, "b", 9)] == ["007", "7", "b", "9"]
    assert [strs.canonical_item(i) for i in (10, "10", "x")] == ["10", "10", "x"]
    assert ints.user_index("9" * 5000) == 0 and ints.item_index("--5") == 0  # no int() overflow / ValueError


# ---------------------------------------------------------------------------- bounded history
def test_local_history_is_an_lru_with_a_named_bound(service, rec):
    assert service.limits.max_history_users == 50
    for u in range(500):
        service.record(f"user-{u:04d}-" + "x" * 200, 1)
    assert service.local_users == 50  # never more than the limit
    assert service.history("user-0499-" + "x" * 200) == [1]  # the most recent are kept
    assert service.history("user-0000-" + "x" * 200) == []  # the oldest dropped
    for i in range(3 * rec.max_len_):
        service.record("busy", i % 7 + 1)
    assert len(service.history("busy")) == rec.max_len_ and service.local_users == 50


# ---------------------------------------------------------------------------- logs
def test_nan_and_none_in_log_columns_are_refused_with_rows():
    users, items, ts = np.arange(8), np.arange(8) % 3, np.arange(8.0)
    cases = {
        "user id": (np.array([1, 2, None, 4, 5, 6, 7, 8], object), items, ts),
        "item id": (users, np.array([1.0, NAN, 3, 4, 5, NAN, 7, 8]), ts),
        "timestamp": (users, items, np.array([1, 2, 3, 4, 5, 6, 7, NAN])),
    }
    rows = {"user id": [2], "item id": [1, 5], "timestamp": [7]}
    for column, (u, i, t) in cases.items():
        with pytest.raises(InvalidInputError) as err:
            InteractionLog(u, i, t)
        assert err.value.code == 1106 and err.value.value == rows[column] and column in err.value.message
    with pytest.raises(InvalidInputError) as err:
        InteractionLog(users, items, np.array([1, 2, "soon", 4, 5, 6, 7, math.inf], object))
    assert err.value.code == 1101 and err.value.value == [2, 7]


def test_build_samples_and_evaluate_refuse_a_log_changed_after_it_was_made(rec):
    log = generate_log(n_users=12, n_items=30, seed=1)
    log.items = log.items.astype(np.float64)
    log.items[[3, 40]] = NAN
    with pytest.raises(InvalidInputError) as err:
        build_samples(log, max_len=5)
    assert err.value.code == 1106 and err.value.value == [3, 40]
    with pytest.raises(InvalidInputError) as err:
        rec.evaluate(log)  # was: AUC 0.475 on garbage
    assert err.value.code == 1106


def test_loaders_refuse_missing_cells_with_file_row_numbers(tmp_path):
    good = [f"{u},{i},{100 + i}" for u in range(3) for i in range(5)]
    rows = good[:]
    rows[1] = "0,,101"  # data row 2: no item
    rows[6] = "1,1,nan"  # data row 7: NaN timestamp
    rows[9] = "1,4"  # data row 10: a short row
    path = tmp_path / "log.csv"
    path.write_text("user_id,item_id,timestamp\n" + "\n".join(rows) + "\n")
    with pytest.raises(InvalidInputError) as err:
        load_log(path)
    assert err.value.code == 1106 and err.value.value == [2] and "item id" in err.value.message
    rows[1] = good[1]
    path.write_text("user_id,item_id,timestamp\n" + "\n".join(rows) + "\n")
    with pytest.raises(InvalidInputError) as err:
        load_log(path)
    assert err.value.code == 1106 and err.value.value == [7, 10] and "timestamp" in err.value.message
    lines = [{"reviewerID": "A", "asin": f"B{i}", "unixReviewTime": 100 + i} for i in range(4)]
    lines[2]["asin"] = None
    (tmp_path / "r.json").write_text("\n".join(json.dumps(x) for x in lines))
    with pytest.raises(InvalidInputError) as err:
        load_log(tmp_path / "r.json", format="amazon")
    assert err.value.code == 1106 and err.value.value == [3]  # line 3 of the file
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(
        pa.table({"user_id": [1, None, 2], "item_id": [5, 6, 7], "timestamp": [1.0, 2.0, NAN]}), tmp_path / "l.parquet"
    )
    with pytest.raises(InvalidInputError) as err:
        load_log(tmp_path / "l.parquet")
    assert err.value.code == 1106 and err.value.value == [2]


def test_unreadable_log_files_get_coded_errors(tmp_path):
    (tmp_path / "bin.csv").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "one.csv").write_text("user_id\n1\n2\n")
    (tmp_path / "p.parquet").write_bytes(b"PAR1 not really")
    (tmp_path / "list.json").write_text("[1, 2]\n")
    (tmp_path / "ts.json").write_text(json.dumps({"reviewerID": "A", "asin": "B", "unixReviewTime": "x"}))
    ml = tmp_path / "ml"
    ml.mkdir()
    (ml / "u.data").write_text("1\t2\t5\t881250949\n1\tx\t5\t1\n")
    cases = [("bin.csv", None, 1101), ("one.csv", None, 1100), ("p.parquet", None, 1101)]
    cases += [("list.json", "amazon", 1101), ("ts.json", "amazon", 1101), ("ml", None, 1101)]
    for name, fmt, code in cases:
        with pytest.raises(InvalidInputError) as err:
            load_log(tmp_path / name, format=fmt)
        assert err.value.code == code, name


def test_csv_loader_property_never_lets_missing_values_or_raw_errors_through(tmp_path_factory):
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import strategies as st

    cell = st.one_of(
        st.integers(-5, 50).map(str),
        st.sampled_from(["", "nan", "NaN", "None", "null", "NA", "n/a", " 7 ", "--5", "1e3", "inf", "x"]),
    )
    row = st.tuples(cell, cell, cell)
    folder = tmp_path_factory.mktemp("prop")

    @hypothesis.settings(max_examples=60, deadline=None, database=None)
    @hypothesis.given(st.lists(row, min_size=1, max_size=12))
    def check(rows):
        path = folder / "log.csv"
        path.write_text("user_id,item_id,timestamp\n" + "\n".join(",".join(r) for r in rows) + "\n")
        try:
            log = load_log(path)
        except InvalidInputError as exc:
            assert exc.code in (1101, 1106)
            return
        for column in (log.users, log.items):
            assert not any(v is None or (isinstance(v, float) and v != v) for v in column.tolist())
        assert np.isfinite(log.timestamps).all()

    check()


# ---------------------------------------------------------------------------- candidates
GOOD = [3, {"user_id": 4, "candidates": [5, 6, 7, 8], "k": 3}, (5, [1, 2, 3], 2), "nobody"]


def _clean(rec):
    return [r.to_dict() for r in rec.predict(GOOD)]


def test_none_and_nan_candidates_are_refused_with_positions(rec):
    bad = [
        {"user_id": 1, "candidates": [5, None, 6], "k": 2},
        (2, [NAN, 5, 6, np.float64("nan")], 2),
        {"user_id": 3, "candidates": [None]},
    ]
    out = rec.predict([GOOD[0], bad[0], GOOD[1], bad[1], GOOD[2], bad[2], GOOD[3]], errors="record")
    assert [r.error["code"] for r in out[1::2]] == [1103, 1103, 1103]
    assert [r.error["value"] for r in out[1::2]] == ["[1]", "[0, 3]", "[0]"]  # the positions
    assert [r.to_dict() for r in out[0::2]] == _clean(rec)  # the good ones, unchanged
    with pytest.raises(InvalidInputError) as err:
        rec.score(1, [5, None])
    assert err.value.code == 1103


def test_duplicate_candidates_are_ranked_once(rec):
    once = rec.recommend(3, candidates=[5, 6, 7], k=10)
    twice = rec.recommend(3, candidates=[5, 6, 5, "6", 7, np.int64(7)], k=10)
    assert [r.item_id for r in twice] == [r.item_id for r in once] and len(twice) == 3
    assert [r.score for r in twice] == pytest.approx([r.score for r in once], rel=1e-6)
    assert [r.rank for r in twice] == [1, 2, 3]
    unknown = rec.recommend(3, candidates=["zz", 5, "zz"], k=10)
    assert [r.item_id for r in unknown] == [5, "zz"]
    out = rec.predict([GOOD[0], {"user_id": 3, "candidates": [5, 5, 5]}, *GOOD[1:]], errors="record")
    assert [r.item_id for r in out[1].items] == [5] and out[1].error is None
    assert [r.to_dict() for r in [out[0], *out[2:]]] == _clean(rec)


def test_unknown_candidates_are_flagged_and_ranked_after_every_known_item(rec):
    cands = ["never-seen", 5, "also-new", 6, 7, -1]
    recs = rec.recommend(3, candidates=cands, k=10)
    assert [r.item_id for r in recs][-3:] == ["never-seen", "also-new", -1]  # in the order given
    assert [r.known_item for r in recs] == [True, True, True, False, False, False]
    known = [r.score for r in recs[:3]]
    assert known == sorted(known, reverse=True) and [r.rank for r in recs] == [1, 2, 3, 4, 5, 6]
    assert [r.item_id for r in rec.recommend(3, candidates=cands, k=2)] == [r.item_id for r in recs[:2]]
    only = rec.recommend(3, candidates=["a", "b"], k=1)
    assert [r.item_id for r in only] == ["a"] and not only[0].known_item


def test_a_real_server_refuses_a_huge_body_without_reading_it(service):
    uvicorn = pytest.importorskip("uvicorn", reason="the recommender extra is not installed")
    import http.client
    import threading
    import time

    from deepseek_apps.apps.recommender.http import create_app
    from deepseek_apps.core.runtime.redis_local import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.putrequest("POST", "/events")  # announces 1 GB, sends none of it
        conn.putheader("content-type", "application/json")
        conn.putheader("content-length", str(2**30))
        conn.endheaders()
        r = conn.getresponse()
        assert r.status == 413 and json.loads(r.read())["error"]["code"] == 1104
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.putrequest("POST", "/events")  # chunked: no length announced
        conn.putheader("content-type", "application/json")
        conn.putheader("transfer-encoding", "chunked")
        conn.endheaders()
        conn.send((b"400\r\n" + b"z" * 1024 + b"\r\n") * 5 + b"0\r\n\r\n")  # 5 KB, one write
        r = conn.getresponse()
        assert r.status == 413 and json.loads(r.read())["error"]["code"] == 1104
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request(
            "POST", "/events", body=b'{"user_id": "9", "item_id": 3}', headers={"content-type": "application/json"}
        )
        assert json.loads(conn.getresponse().read()) == {"ok": True} and service.history(9)[-1] == 3
    finally:
        server.should_exit = True
        thread.join(10)


def test_one_bad_request_never_fails_the_requests_batched_with_it(rec):
    """Found by benchmarks/soak.py: a k=0 request failed every request of its batch (400 for all)."""
    from concurrent.futures import ThreadPoolExecutor

    expected = {u: [r.item_id for r in rec.recommend(u, k=3)] for u in range(8)}
    with RecommendationService(rec, max_batch_size=16, max_latency_ms=50) as service:

        def call(args):
            user, k = args
            try:
                return [r.item_id for r in service.recommend(user, k=k)]
            except InvalidInputError as exc:
                return exc.code

        jobs = [(u, 0 if u % 2 else 3) for u in range(8)] * 3  # bad and good requests arrive together
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(call, jobs))
        assert service.stats().mean_batch > 1  # they really were batched together
    for (user, k), answer in zip(jobs, answers):
        assert answer == (1000 if k == 0 else expected[user])
