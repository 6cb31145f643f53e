"""A dynamic batcher: concurrent single requests in, one batched call out.

Callers ``submit`` one item each; a worker thread takes the first waiting item, keeps
collecting until ``max_batch_size`` items are there or ``max_latency_ms`` has passed since
the first one arrived, calls ``fn(items) -> results`` once, and hands each caller its own
result (or the exception ``fn`` raised). Under light load a request waits at most the
latency budget; under heavy load batches fill up and the model runs at its batched speed.

Example:
    >>> from deepseek_apps.core.runtime.batching import DynamicBatcher
    >>> with DynamicBatcher(lambda xs: [x * 2 for x in xs], max_batch_size=8, max_latency_ms=1) as b:
    ...     b(21)
    42
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from typing import Any

from ...errors import ErrorCode, InvalidInputError, RuntimeFailure

_STOP = object()


@dataclass
class BatcherStats:
    batches: int = 0
    items: int = 0
    max_batch: int = 0

    @property
    def mean_batch(self) -> float:
        return self.items / self.batches if self.batches else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "mean_batch": self.mean_batch}


class DynamicBatcher:
    """Group concurrent calls into batches of at most ``max_batch_size`` within ``max_latency_ms``."""

    def __init__(
        self,
        fn: Callable[[list[Any]], Sequence[Any]],
        max_batch_size: int = 32,
        max_latency_ms: float = 2.0,
        name: str = "batcher",
    ):
        if max_batch_size < 1 or max_latency_ms < 0:
            raise InvalidInputError(
                ErrorCode.INVALID_ARGUMENT,
                "max_batch_size must be >= 1 and max_latency_ms >= 0",
                value=(max_batch_size, max_latency_ms),
            )
        self.fn = fn
        self.max_batch_size = max_batch_size
        self.max_latency_ms = max_latency_ms
        self.stats = BatcherStats()
        self._queue: queue.Queue = queue.Queue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: Any) -> Future:
        """Queue one item; the future resolves to its result."""
        if self._closed:
            raise RuntimeFailure(ErrorCode.BATCHER_STOPPED, "the batcher is closed", hint="create a new one")
        fut: Future = Future()
        self._queue.put((item, fut))
        return fut

    def __call__(self, item: Any, timeout: float | None = None) -> Any:
        return self.submit(item).result(timeout)

    def _collect(self) -> list | None:
        first = self._queue.get()
        if first is _STOP:
            return None
        batch = [first]
        deadline = time.perf_counter() + self.max_latency_ms / 1000.0
        while len(batch) < self.max_batch_size:
            remaining = deadline - time.perf_counter()
            try:
                nxt = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is _STOP:
                self._queue.put(_STOP)
                break
            batch.append(nxt)
        return batch

    def _run(self) -> None:
        while True:
            batch = self._collect()
            if batch is None:
                return
            items = [item for item, _ in batch]
            try:
                results = list(self.fn(items))
                if len(results) != len(items):
                    raise RuntimeFailure(
                        ErrorCode.BACKEND_FAILURE,
                        "batched function returned a different number of results",
                        value=(len(items), len(results)),
                    )
            except BaseException as exc:  # hand the failure to every caller of this batch
                for _, fut in batch:
                    fut.set_exception(exc)
                continue
            self.stats.batches += 1
            self.stats.items += len(items)
            self.stats.max_batch = max(self.stats.max_batch, len(items))
            for (_, fut), res in zip(batch, results):
                fut.set_result(res)

    def close(self, timeout: float = 5.0) -> None:
        """Finish what is queued, then stop the worker."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
            self._thread.join(timeout)

    def __enter__(self) -> DynamicBatcher:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
