"""RecommendationService against a real redis-server: two cache levels, invalidation, Redis dying mid-run."""

from __future__ import annotations

import threading

import pytest

from deepseek_apps import DINRecommender, RecommendationService
from deepseek_apps.core.runtime.redis_local import LocalRedis

pytest.importorskip("redis", reason="the recommender extra is not installed (pip install deepseek-apps[recommender])")


@pytest.fixture()
def redis_server():
    if not LocalRedis.available():
        pytest.skip("redis-server is not installed (apt-get install redis-server; `make setup` does it)")
    server = LocalRedis().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def rec():
    return DINRecommender()


def test_second_level_cache_lives_in_redis(rec, redis_server):
    import redis

    with RecommendationService(rec, redis_url=redis_server.url, result_ttl_s=60) as a:
        first = a.recommend(1, k=5)
        client = redis.Redis(port=redis_server.port)
        assert client.exists("dsa:rec:res:1") and client.ttl("dsa:rec:res:1") > 0
        assert client.llen("dsa:rec:hist:1") == len(first[0].history)
        assert a.recommend(1, k=5) == first and a.stats().l1_hits == 1
    with RecommendationService(rec, redis_url=redis_server.url) as b:  # a new process: empty LRU
        again = b.recommend(1, k=5)
        assert [r.item_id for r in again] == [r.item_id for r in first]
        s = b.stats()
        assert s.l2_hits == 1 and s.model_requests == 0 and s.redis_up


def test_new_behaviour_invalidates_both_levels(rec, redis_server):
    import redis

    with RecommendationService(rec, redis_url=redis_server.url) as service:
        before = service.recommend(2, k=5)
        service.record(2, before[0].item_id)
        client = redis.Redis(port=redis_server.port)
        assert not client.exists("dsa:rec:res:2")
        hist = service.history(2)
        assert hist[-1] == before[0].item_id and len(hist) <= rec.max_len_
        after = service.recommend(2, k=5)
        assert after[0].history[-1] == before[0].item_id
        assert service.stats().model_requests == 2


def test_service_keeps_answering_when_redis_dies_mid_run(rec, redis_server):
    with RecommendationService(rec, redis_url=redis_server.url, redis_retry_s=0.2) as service:
        for user in range(5):
            service.recommend(user, k=3)
        redis_server.stop()
        answers = [service.recommend(user, k=3) for user in range(5, 15)]  # not cached anywhere
        assert all(len(a) == 3 for a in answers)
        service.record(5, 1)  # behaviour while Redis is down is kept in process
        assert service.history(5)[-1] == 1
        assert service.recommend(5, k=3)[0].history[-1] == 1
        s = service.stats()
        assert not s.redis_up and s.redis_errors >= 1 and s.requests == 16


def test_concurrent_clients_are_batched(rec):
    with RecommendationService(rec, max_batch_size=16, max_latency_ms=5) as service:
        out = {}

        def client(u):
            out[u] = service.recommend(u, candidates=list(range(1, 101)), k=5)

        threads = [threading.Thread(target=client, args=(u,)) for u in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(out) == 32 and all(len(v) == 5 for v in out.values())
        assert service.batcher.stats.max_batch > 1
        single = rec.recommend(7, candidates=list(range(1, 101)), k=5)
        assert [r.item_id for r in out[7]] == [r.item_id for r in single]


def test_http_endpoint(rec):
    pytest.importorskip("fastapi", reason="the recommender extra is not installed")
    pytest.importorskip("httpx", reason="fastapi's TestClient needs httpx")
    from fastapi.testclient import TestClient

    from deepseek_apps.apps.recommender.http import create_app

    with RecommendationService(rec) as service:
        client = TestClient(create_app(service))
        r = client.get("/recommend", params={"user_id": "0", "k": 3})
        assert r.status_code == 200 and len(r.json()["recommendations"]) == 3
        first = r.json()["recommendations"][0]["item_id"]
        assert client.post("/events", json={"user_id": 0, "item_id": first}).json() == {"ok": True}
        r = client.get("/recommend", params={"user_id": "0", "k": 3, "candidates": "1,2,3"})
        assert {x["item_id"] for x in r.json()["recommendations"]} == {1, 2, 3}
        assert client.get("/recommend", params={"user_id": "0", "k": 0}).status_code == 400
        assert client.get("/stats").json()["requests"] >= 2
        assert client.get("/health").json()["ok"]


def test_a_stuck_model_times_out_with_a_coded_error(rec):
    import time as _time

    from deepseek_apps.errors import RuntimeFailure

    with RecommendationService(rec, timeout_s=0.05) as service:
        service.batcher.fn = lambda reqs: (_time.sleep(0.5), [[] for _ in reqs])[1]
        with pytest.raises(RuntimeFailure) as err:
            service.recommend(3, k=2)
        assert err.value.code == 4102
