"""Serving the DINRecommender: latency of one request and throughput under 32 concurrent clients.

One request = one user with a 50-item history, 200 candidates, top 10. Variants, all in one
process with interleaved timing: PyTorch FP32, ONNX Runtime FP32, ONNX Runtime INT8
(dynamic, MatMul/Gemm weights). For each: the model path (cold: every cache misses), the
in-process LRU hit (warm), the Redis hit (LRU cleared, result in a real redis-server, when
the binary is there), and 32 client threads through the dynamic batcher (each request a
cache miss) vs the same clients without batching.

    python benchmarks/recommender.py --threads 2

Writes bench_out/recommender_serving.{json,md}; the quality comparison with DeepCTR-Torch is
benchmarks/recommender_quality.py.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from deepseek_apps import DINRecommender, RecommendationService
from deepseek_apps.apps.recommender.export import export_bundle
from deepseek_apps.core.bench import cpu_info
from deepseek_apps.core.runtime.redis_local import LocalRedis

N_CANDIDATES, HIST_LEN, K, CLIENTS = 200, 50, 10, 32


def make_requests(rec, n: int, seed: int = 0) -> list[tuple]:
    """``n`` distinct (user, history of 50, 200 candidates) requests from the catalog."""
    rng = np.random.default_rng(seed)
    ids = rec.catalog_.item_ids
    out = []
    for i in range(n):
        hist = [ids[j] for j in rng.choice(len(ids), HIST_LEN, replace=False)]
        cands = [ids[j] for j in rng.choice(len(ids), N_CANDIDATES, replace=False)]
        out.append((f"bench-{seed}-{i}", hist, cands))
    return out


def percentiles(ms: list[float]) -> dict:
    a = np.asarray(ms)
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)), "n": len(a)}


def time_calls(fn, items) -> list[float]:
    out = []
    for item in items:
        t0 = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - t0) * 1000)
    return out


class Variant:
    def __init__(self, name: str, rec: DINRecommender):
        self.name, self.rec = name, rec
        self.cold, self.warm, self.redis = [], [], []

    def model_call(self, req):
        user, hist, cands = req
        return self.rec.recommend(user, candidates=cands, k=K, history=hist, exclude_seen=False)


def _cached_calls(service: RecommendationService, req: tuple, n: int, clear_lru: bool) -> list[float]:
    """``n`` repeats of one request through the service; ``clear_lru`` makes each one a Redis hit."""
    user, hist, cands = req
    service._local_history[user] = hist  # the request's history, as if recorded earlier
    service.recommend(user, cands, K)

    def call(_):
        if clear_lru:
            service.cache.clear()
        return service.recommend(user, cands, K)

    return time_calls(call, range(n))


def single_request_latency(variants: list[Variant], rounds: int, per_round: int, redis_url: str | None) -> None:
    """Interleaved: each round times every variant on fresh requests (cold), a repeated one (warm), Redis."""
    for r in range(rounds):
        reqs = make_requests(variants[0].rec, per_round, seed=100 + r)
        for v in variants:
            v.cold += time_calls(v.model_call, reqs)
            with RecommendationService(v.rec, redis_url=redis_url) as service:
                v.warm += _cached_calls(service, reqs[0], per_round, clear_lru=False)
                if redis_url:
                    v.redis += _cached_calls(service, reqs[1], per_round, clear_lru=True)


def concurrent_throughput(rec: DINRecommender, batch: int, requests_per_client: int, seed: int) -> dict:
    """32 client threads, every request a cache miss; returns candidates/s and request latency."""
    reqs = make_requests(rec, CLIENTS * requests_per_client, seed=seed)
    lat: list[float] = []
    lock = threading.Lock()
    with RecommendationService(rec, max_batch_size=batch, max_latency_ms=2.0 if batch > 1 else 0.0) as service:
        for user, hist, _ in reqs:
            service._local_history[user] = hist

        def client(chunk):
            mine = []
            for user, _, cands in chunk:
                t0 = time.perf_counter()
                service.recommend(user, cands, K)
                mine.append((time.perf_counter() - t0) * 1000)
            with lock:
                lat.extend(mine)

        threads = [threading.Thread(target=client, args=(reqs[i::CLIENTS],)) for i in range(CLIENTS)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        mean_batch = service.batcher.stats.mean_batch
    return {
        "requests_per_s": len(reqs) / wall,
        "candidates_per_s": len(reqs) * N_CANDIDATES / wall,
        "mean_batch": mean_batch,
        **percentiles(lat),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="model folder (default: the embedded demo model)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--per-round", type=int, default=60)
    p.add_argument("--requests-per-client", type=int, default=6)
    p.add_argument("--out", default="bench_out")
    args = p.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    base = DINRecommender(model_path=args.model, threads=args.threads)
    tmp = Path(tempfile.mkdtemp())
    variants = [
        Variant("pytorch fp32", base),
        Variant(
            "onnxruntime fp32", DINRecommender(model_path=export_bundle(base, tmp / "fp32.zip"), threads=args.threads)
        ),
        Variant(
            "onnxruntime int8",
            DINRecommender(model_path=export_bundle(base, tmp / "int8.zip", int8=True), threads=args.threads),
        ),
    ]
    redis = LocalRedis().start() if LocalRedis.available() else None
    try:
        single_request_latency(variants, args.rounds, args.per_round, redis.url if redis else None)
    finally:
        if redis:
            redis.stop()
    rows, results = [], {}
    for v in variants:
        res = {"cold": percentiles(v.cold), "warm_lru": percentiles(v.warm)}
        if v.redis:
            res["warm_redis"] = percentiles(v.redis)
        for batch in (1, 16):
            res[f"concurrent_b{batch}"] = concurrent_throughput(v.rec, batch, args.requests_per_client, seed=7)
        results[v.name] = res
        c, b16, b1 = res["cold"], res["concurrent_b16"], res["concurrent_b1"]
        redis_cell = f"{res['warm_redis']['p50_ms']:.3f} / {res['warm_redis']['p99_ms']:.3f}" if v.redis else "-"
        rows.append(
            f"| {v.name} | {c['p50_ms']:.2f} / {c['p99_ms']:.2f} | {res['warm_lru']['p50_ms']:.3f} / {res['warm_lru']['p99_ms']:.3f} | "
            f"{redis_cell} | {b1['candidates_per_s']:,.0f} | {b16['candidates_per_s']:,.0f} ({b16['mean_batch']:.1f}/batch) | "
            f"{b16['p50_ms']:.1f} / {b16['p99_ms']:.1f} |"
        )
    ref = results["pytorch fp32"]["cold"]["p50_ms"]
    header = (
        "| variant | cold p50 / p99 ms | warm LRU p50 / p99 ms | warm Redis p50 / p99 ms | 32 clients, no batching: cand/s | "
        "32 clients, batcher (max 16, 2 ms): cand/s | 32 clients batched: request p50 / p99 ms |\n|---|---|---|---|---|---|---|"
    )
    md = header + "\n" + "\n".join(rows)
    ratios = {v.name: ref / results[v.name]["cold"]["p50_ms"] for v in variants}
    print(md)
    print("cold p50 speed-up vs pytorch fp32:", {k: f"{x:.2f}x" for k, x in ratios.items()})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "date": time.strftime("%Y-%m-%d"),
        "cpu": cpu_info(),
        "threads": args.threads,
        "request": f"{N_CANDIDATES} candidates, {HIST_LEN}-item history, top {K}",
    }
    (out / "recommender_serving.json").write_text(
        json.dumps({"meta": meta, "results": results, "cold_speedup": ratios}, indent=1)
    )
    (out / "recommender_serving.md").write_text(f"{meta}\n\n{md}\n")


if __name__ == "__main__":
    main()
