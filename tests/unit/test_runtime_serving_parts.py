"""Core runtime pieces for serving: dynamic batcher, LRU/TTL cache, resumable JSON lines."""

from __future__ import annotations

import threading
import time

import pytest

from deepseek_apps.core.runtime.batching import DynamicBatcher
from deepseek_apps.core.runtime.cache import LRUCache
from deepseek_apps.core.runtime.jsonl import append_records, read_records
from deepseek_apps.errors import InvalidInputError, RuntimeFailure


def test_batcher_groups_concurrent_calls_and_keeps_each_result():
    seen = []

    def fn(xs):
        seen.append(len(xs))
        time.sleep(0.01)
        return [x * x for x in xs]

    with DynamicBatcher(fn, max_batch_size=8, max_latency_ms=20) as b:
        futures = [b.submit(i) for i in range(20)]
        assert [f.result(5) for f in futures] == [i * i for i in range(20)]
    assert max(seen) == 8 and sum(seen) == 20
    assert b.stats.items == 20 and b.stats.mean_batch > 1


def test_batcher_waits_at_most_the_latency_budget_for_a_lone_request():
    with DynamicBatcher(lambda xs: xs, max_batch_size=64, max_latency_ms=5) as b:
        t0 = time.perf_counter()
        assert b(7, timeout=5) == 7
        assert time.perf_counter() - t0 < 2.0  # generous: the budget is 5 ms, the machine may be busy


def test_batcher_hands_errors_to_every_caller_and_keeps_running():
    def fn(xs):
        if any(x < 0 for x in xs):
            raise ValueError("negative")
        return xs

    with DynamicBatcher(fn, max_batch_size=4, max_latency_ms=1) as b:
        with pytest.raises(ValueError):
            b(-1, timeout=5)
        assert b(3, timeout=5) == 3
    with pytest.raises(RuntimeFailure) as err:
        b.submit(1)
    assert err.value.code == 4101
    with pytest.raises(InvalidInputError):
        DynamicBatcher(lambda xs: xs, max_batch_size=0)


def test_batcher_under_threads():
    results = {}
    with DynamicBatcher(lambda xs: [x + 1 for x in xs], max_batch_size=16, max_latency_ms=2) as b:

        def worker(i):
            results[i] = b(i, timeout=10)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert results == {i: i + 1 for i in range(32)}


def test_lru_evicts_least_recent_expires_and_invalidates_by_tag():
    now = [0.0]
    cache = LRUCache(maxsize=2, ttl_s=10, clock=lambda: now[0])
    cache.put("a", 1, tag="u1")
    cache.put("b", 2, tag="u2")
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3, tag="u1")  # evicts b
    assert cache.get("b") is None and cache.stats.evictions == 1
    assert cache.invalidate_tag("u1") == 2 and len(cache) == 0
    cache.put("d", 4)
    now[0] = 11.0
    assert cache.get("d") is None and cache.stats.expirations == 1
    assert 0 < cache.stats.hit_rate < 1


def test_jsonl_resume_cuts_a_torn_line(tmp_path):
    path = tmp_path / "out.jsonl"
    with open(path, "a") as fh:
        append_records(fh, [{"user_id": 1, "x": [1]}, {"user_id": 2, "x": [2]}])
    with open(path, "a") as fh:
        fh.write('{"user_id": 3, "x": [')  # killed mid-write
    done = read_records(path, key="user_id")
    assert sorted(done) == [1, 2]
    assert path.read_text().count("\n") == 2 and path.read_text().endswith("\n")
