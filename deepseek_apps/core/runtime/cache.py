"""A thread-safe LRU cache with an optional time to live and tags for group invalidation.

Example:
    >>> from deepseek_apps.core.runtime.cache import LRUCache
    >>> cache = LRUCache(maxsize=2, ttl_s=60)
    >>> cache.put(("u1", "top10"), [3, 1], tag="u1")
    >>> cache.get(("u1", "top10"))
    [3, 1]
    >>> cache.invalidate_tag("u1")
    1
    >>> cache.get(("u1", "top10")) is None
    True
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    expirations: int = 0

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "hit_rate": self.hit_rate}


class LRUCache:
    """Least-recently-used eviction beyond ``maxsize`` entries; entries older than ``ttl_s`` miss."""

    def __init__(self, maxsize: int = 10_000, ttl_s: float | None = None, clock=time.monotonic):
        self.maxsize = maxsize
        self.ttl_s = ttl_s
        self.stats = CacheStats()
        self._clock = clock
        self._data: OrderedDict[Hashable, tuple[float, Any, Hashable]] = OrderedDict()
        self._tags: dict[Hashable, set] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                self.stats.misses += 1
                return default
            stamp, value, _ = entry
            if self.ttl_s is not None and self._clock() - stamp > self.ttl_s:
                self._drop(key)
                self.stats.expirations += 1
                self.stats.misses += 1
                return default
            self._data.move_to_end(key)
            self.stats.hits += 1
            return value

    def put(self, key: Hashable, value: Any, tag: Hashable = None) -> None:
        with self._lock:
            if key in self._data:
                self._drop(key)
            self._data[key] = (self._clock(), value, tag)
            if tag is not None:
                self._tags.setdefault(tag, set()).add(key)
            while len(self._data) > self.maxsize:
                self._drop(next(iter(self._data)))
                self.stats.evictions += 1

    def __setitem__(self, key: Hashable, value: Any) -> None:
        """``cache[key] = value``: ``put`` without a tag (evicts the least recently used beyond ``maxsize``)."""
        self.put(key, value)

    def _drop(self, key: Hashable) -> None:
        _, _, tag = self._data.pop(key)
        if tag is not None:
            keys = self._tags.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._tags[tag]

    def delete(self, key: Hashable) -> bool:
        with self._lock:
            if key in self._data:
                self._drop(key)
                return True
            return False

    def invalidate_tag(self, tag: Hashable) -> int:
        """Drop every entry put with ``tag``; returns how many."""
        with self._lock:
            keys = list(self._tags.get(tag, ()))
            for key in keys:
                self._drop(key)
            return len(keys)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._tags.clear()
