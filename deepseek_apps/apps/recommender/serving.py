"""``RecommendationService``: the real-time ranking path around a ``DINRecommender``.

Per request: (1) the in-process LRU cache of recent results; (2) Redis, which holds the
users' histories (a list per user, trimmed to ``max_len``) and recent results (a hash per
user), both with TTLs; (3) the model, through the core ``DynamicBatcher`` so concurrent
requests share one forward pass. ``record`` appends new behaviour to the user's history and
invalidates that user's cached results in both levels.

Ids are converted once, where they enter (``recommend``, ``record``, ``history``), to the type
the model's catalog uses (``ids.py``): ``"5"`` and ``5`` are one user, cached and stored under
one key. Ids longer than ``ServiceLimits.max_id_chars``, empty ids and ids that are neither
ints nor strings are refused (``ID_INVALID``, 1105); more than ``max_candidates`` candidates
in one request are refused (``INPUT_TOO_LARGE``, 1014). The in-process history (behaviour
recorded without Redis, or while it is down) is an LRU over at most ``max_history_users``
users, each trimmed to the model's ``max_len_`` clicks, so memory stays flat however many
distinct users arrive.

Redis is optional and never a single point of failure: every Redis call is guarded, and
when Redis is unreachable the service answers from the model with the histories it holds
in process, retries Redis after ``redis_retry_s`` and counts the errors in ``stats()``.

Example:
    >>> from deepseek_apps import DINRecommender
    >>> from deepseek_apps.apps.recommender.serving import RecommendationService
    >>> with RecommendationService(DINRecommender()) as service:  # redis_url="redis://127.0.0.1:6379/0"
    ...     top = service.recommend(0, k=5)
    ...     service.record(0, top[0].item_id)
    >>> len(top)
    5
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ...core.runtime.batching import DynamicBatcher
from ...core.runtime.cache import LRUCache
from ...errors import DeepSeekAppsError, ErrorCode, InvalidInputError, RuntimeFailure, require
from .ids import MAX_ID_CHARS, check_id, is_missing
from .results import Recommendation

log = logging.getLogger(__name__)


@dataclass
class ServiceStats:
    requests: int
    l1_hits: int
    l2_hits: int
    model_requests: int
    redis_up: bool
    redis_errors: int
    mean_batch: float
    p50_ms: float
    p99_ms: float

    @property
    def hit_rate(self) -> float:
        return (self.l1_hits + self.l2_hits) / self.requests if self.requests else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "hit_rate": self.hit_rate}


@dataclass(frozen=True)
class ServiceLimits:
    """Resource limits of the service, each refused with its own code before any work.

    Attributes:
        max_body_bytes: largest HTTP request body (``REQUEST_TOO_LARGE``, 1104; HTTP 413).
        max_id_chars: longest user or item id, in characters (``ID_INVALID``, 1105).
        max_candidates: most candidates in one request (``INPUT_TOO_LARGE``, 1014).
        max_history_users: users whose recent behaviour is kept in process (least recently
            used dropped first; Redis, when up, keeps them all under ``history_ttl_s``).
    """

    max_body_bytes: int = 64 * 1024
    max_id_chars: int = MAX_ID_CHARS
    max_candidates: int = 10_000
    max_history_users: int = 100_000

    def __post_init__(self) -> None:
        bad = {k: v for k, v in asdict(self).items() if isinstance(v, bool) or not isinstance(v, int) or v < 1}
        if bad:
            raise InvalidInputError(
                ErrorCode.INVALID_ARGUMENT,
                f"service limits must be positive integers: {bad}",
                value=bad,
                hint="e.g. ServiceLimits(max_body_bytes=65536, max_id_chars=256)",
            )


@dataclass
class _Request:
    user_id: Any
    history: list
    candidates: Sequence | None
    k: int


class RecommendationService:
    """Cached, batched, Redis-backed serving of a fitted ``DINRecommender``.

    Args:
        recommender: a fitted or loaded ``DINRecommender``.
        redis_url: e.g. ``"redis://127.0.0.1:6379/0"``; ``None`` runs with the in-process cache only.
        lru_size: entries of the in-process result cache.
        result_ttl_s: lifetime of cached results (both levels).
        history_ttl_s: lifetime of a user's history in Redis after its last update.
        max_batch_size: requests per batched forward pass.
        max_latency_ms: how long the first request of a batch waits for company.
        redis_retry_s: after a Redis error, answer without Redis for this long before retrying.
        namespace: prefix of every Redis key.
        timeout_s: a request not answered by the model within this raises ``RuntimeFailure`` (4102).
        limits: ``ServiceLimits`` (request body, id length, candidates, users kept in process).
    """

    def __init__(
        self,
        recommender,
        redis_url: str | None = None,
        lru_size: int = 10_000,
        result_ttl_s: float = 300.0,
        history_ttl_s: float = 7 * 86400.0,
        max_batch_size: int = 16,
        max_latency_ms: float = 2.0,
        redis_retry_s: float = 1.0,
        namespace: str = "dsa:rec",
        timeout_s: float = 10.0,
        limits: ServiceLimits | None = None,
    ):
        self.recommender = recommender
        self.redis_url = redis_url
        self.result_ttl_s = result_ttl_s
        self.history_ttl_s = history_ttl_s
        self.redis_retry_s = redis_retry_s
        self.namespace = namespace
        self.timeout_s = timeout_s
        self.limits = limits or ServiceLimits()
        self.cache = LRUCache(lru_size, ttl_s=result_ttl_s)
        self.batcher = DynamicBatcher(self._score_batch, max_batch_size, max_latency_ms, name="recommender-batcher")
        # behaviour recorded while Redis was down (or without Redis): bounded, least recently used dropped
        self._local_history = LRUCache(self.limits.max_history_users)
        self._redis = None
        self._redis_down_until = 0.0
        self._redis_errors = 0
        self._counts = {"requests": 0, "l1": 0, "l2": 0, "model": 0}
        self._latencies: deque = deque(maxlen=10_000)
        self._lock = threading.Lock()
        if redis_url:
            redis = require("redis", "recommender")
            self._redis = redis.Redis.from_url(redis_url, socket_timeout=0.05, socket_connect_timeout=0.05)
            self._redis_error = redis.exceptions.RedisError
        catalog = recommender.catalog_  # load the model now, and run it once: no slow first request
        if catalog.n_items:
            recommender.recommend(None, candidates=list(catalog.item_ids[:2]), k=1, history=list(catalog.item_ids[:2]))

    # ------------------------------------------------------------------ redis, guarded
    def _r(self, op: str, *args: Any) -> Any:
        """Run a Redis command; ``None`` when Redis is not configured or unreachable."""
        if self._redis is None or time.monotonic() < self._redis_down_until:
            return None
        try:
            return getattr(self._redis, op)(*args)
        except self._redis_error as exc:
            with self._lock:
                self._redis_errors += 1
                self._redis_down_until = time.monotonic() + self.redis_retry_s
            log.warning("[DSA-%d] Redis unavailable (%s); serving from the model", ErrorCode.REDIS_UNAVAILABLE, exc)
            return None

    def _pipe(self, commands: list[tuple]) -> list | None:
        if self._redis is None or time.monotonic() < self._redis_down_until:
            return None
        try:
            pipe = self._redis.pipeline(transaction=False)
            for op, *args in commands:
                getattr(pipe, op)(*args)
            return pipe.execute()
        except self._redis_error as exc:
            with self._lock:
                self._redis_errors += 1
                self._redis_down_until = time.monotonic() + self.redis_retry_s
            log.warning("[DSA-%d] Redis unavailable (%s); serving from the model", ErrorCode.REDIS_UNAVAILABLE, exc)
            return None

    @property
    def redis_up(self) -> bool:
        return self._redis is not None and time.monotonic() >= self._redis_down_until

    def _key(self, kind: str, user_id: Any) -> str:
        return f"{self.namespace}:{kind}:{user_id}"

    # ------------------------------------------------------------------ ids, converted once
    def canonical_user(self, user_id: Any, allow_none: bool = False) -> Any:
        """``user_id`` checked (1105) and converted to the catalog's id type (``ids.canonical_id``)."""
        check_id(user_id, "user_id", self.limits.max_id_chars, allow_none=allow_none)
        return None if user_id is None else self.recommender.catalog_.canonical_user(user_id)

    def canonical_item(self, item_id: Any, what: str = "item_id") -> Any:
        """``item_id`` checked (1105) and converted to the catalog's id type."""
        check_id(item_id, what, self.limits.max_id_chars)
        return self.recommender.catalog_.canonical_item(item_id)

    def _candidates(self, candidates: Sequence | None) -> list | None:
        """Candidates converted like ids; ``None`` / NaN entries are left for the model to refuse (1103)."""
        if candidates is None or isinstance(candidates, (str, bytes)) or not isinstance(candidates, Sequence):
            return candidates  # the model refuses a string or a non-list with 1103
        limit = self.limits.max_candidates
        if len(candidates) > limit:
            raise InvalidInputError(
                ErrorCode.INPUT_TOO_LARGE,
                f"{len(candidates)} candidates in one request; the limit is {limit}",
                value=len(candidates),
                hint="split the candidates over several requests or raise ServiceLimits.max_candidates",
            )
        return [c if is_missing(c) else self.canonical_item(c, "a candidate") for c in candidates]

    @property
    def local_users(self) -> int:
        """Users whose history is held in process (at most ``limits.max_history_users``)."""
        return len(self._local_history)

    # ------------------------------------------------------------------ histories
    def history(self, user_id: Any) -> list:
        """The user's history (raw item ids, oldest first): Redis, else in-process, else the model's."""
        user_id = self.canonical_user(user_id, allow_none=True)
        raw = self._r("lrange", self._key("hist", user_id), 0, -1)
        if raw:
            return [_decode(x) for x in raw]
        hist = self._local_history.get(user_id)
        if hist is None:
            hist = self.recommender.history_of(user_id)[-self.recommender.max_len_ :]
            if hist and raw is not None:  # Redis up but cold: seed it
                self._seed_history(user_id, hist)
        return list(hist)

    def _seed_history(self, user_id: Any, hist: list) -> None:
        key = self._key("hist", user_id)
        self._pipe([("delete", key), ("rpush", key, *map(json.dumps, hist)), ("expire", key, int(self.history_ttl_s))])

    def record(self, user_id: Any, item_id: Any) -> None:
        """New behaviour: append ``item_id`` to the user's history and drop the user's cached results."""
        user_id, item_id = self.canonical_user(user_id), self.canonical_item(item_id)
        max_len = self.recommender.max_len_
        hist = self.history(user_id)[-(max_len - 1) :] + [item_id] if max_len > 1 else [item_id]
        self._local_history.put(user_id, hist)
        key = self._key("hist", user_id)
        self._pipe(
            [
                ("delete", key),
                ("rpush", key, *map(json.dumps, hist)),
                ("expire", key, int(self.history_ttl_s)),
                ("delete", self._key("res", user_id)),
            ]
        )
        self.cache.invalidate_tag(user_id)

    # ------------------------------------------------------------------ recommend
    def recommend(self, user_id: Any, candidates: Sequence | None = None, k: int = 10) -> list[Recommendation]:
        """Top ``k`` for ``user_id`` (cached; computed through the batcher on a miss)."""
        t0 = time.perf_counter()
        user_id, candidates = self.canonical_user(user_id, allow_none=True), self._candidates(candidates)
        field = _request_hash(candidates, k)
        with self._lock:
            self._counts["requests"] += 1
        recs = self.cache.get((user_id, field))
        if recs is not None:
            self._done(t0, "l1")
            return recs
        cached = self._r("hget", self._key("res", user_id), field)
        if cached:
            recs = [Recommendation(**d) for d in json.loads(cached)]
            self.cache.put((user_id, field), recs, tag=user_id)
            self._done(t0, "l2")
            return recs
        try:
            recs = self.batcher(_Request(user_id, self.history(user_id), candidates, k), timeout=self.timeout_s)
        except FutureTimeout as exc:
            raise RuntimeFailure(
                ErrorCode.SERVICE_TIMEOUT,
                f"no answer from the model within {self.timeout_s} s",
                value=user_id,
                hint="raise timeout_s or lower the load (max_batch_size, fewer clients)",
            ) from exc
        if isinstance(recs, DeepSeekAppsError):
            raise recs
        self.cache.put((user_id, field), recs, tag=user_id)
        key = self._key("res", user_id)
        self._pipe(
            [("hset", key, field, json.dumps([r.to_dict() for r in recs])), ("expire", key, int(self.result_ttl_s))]
        )
        self._done(t0, "model")
        return recs

    def _done(self, t0: float, where: str) -> None:
        with self._lock:
            self._counts[where] += 1
            self._latencies.append((time.perf_counter() - t0) * 1000)

    def _score_batch(self, requests: list[_Request]) -> list[list[Recommendation] | DeepSeekAppsError]:
        """Each request of the batch on its own forward pass (see ``DINRecommender.recommend_batch``).

        A bad request's error is its own answer: it never fails the requests batched with it.
        """
        rec = self.recommender
        out: list[list[Recommendation] | DeepSeekAppsError] = []
        for r in requests:
            try:
                out.append(rec.recommend(r.user_id, r.candidates, r.k, history=r.history))
            except DeepSeekAppsError as exc:
                out.append(exc)
        return out

    def stats(self) -> ServiceStats:
        lat = np.asarray(self._latencies) if self._latencies else np.zeros(1)
        c = self._counts
        return ServiceStats(
            c["requests"],
            c["l1"],
            c["l2"],
            c["model"],
            self.redis_up,
            self._redis_errors,
            self.batcher.stats.mean_batch,
            float(np.percentile(lat, 50)),
            float(np.percentile(lat, 99)),
        )

    def close(self) -> None:
        self.batcher.close()
        if self._redis is not None:
            self._redis.close()

    def __enter__(self) -> RecommendationService:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _decode(raw: bytes) -> Any:
    return json.loads(raw)


def _request_hash(candidates: Sequence | None, k: int) -> str:
    text = json.dumps([k, None if candidates is None else [str(c) for c in candidates]])
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()
