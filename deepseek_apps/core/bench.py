"""Honest measurements: latency percentiles, throughput, peak memory, file size.

Benchmarks are plain functions ``(fn, inputs, repeat, warmup)``; every variant a user
compares is measured in the same run, and reports are ratios to a baseline.

``measure_isolated`` gives each variant a process of its own and times them in interleaved
rounds. On a 2-core machine this matters: ONNX Runtime's and OpenMP's worker threads keep
spinning for a while after a call, so runtimes sharing one process slow each other down (a
1.3 ms INT8 model timed at 5-6 ms next to three other ONNX Runtime sessions here).

Example:
    >>> from deepseek_apps.core.bench import measure
    >>> result = measure("onnx-fp32", lambda x: session.run({"pixels": x}), batch, repeat=200)  # doctest: +SKIP
    >>> result.p50_ms  # doctest: +SKIP
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class BenchResult:
    name: str
    batch_size: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    throughput: float  # items per second at this batch size
    peak_rss_mb: float  # process high-water mark during the timed loop
    rss_increase_mb: float  # high-water mark minus resident size before warm-up
    file_mb: float | None = None
    repeat: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rss_mb(field: str) -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> None:
    try:  # Linux: writing 5 resets VmHWM to the current RSS
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def measure(
    name: str,
    fn: Callable[[Any], Any],
    inputs: Any,
    batch_size: int = 1,
    repeat: int = 100,
    warmup: int = 10,
    file: str | Path | None = None,
    min_seconds: float = 0.0,
) -> BenchResult:
    """Time ``fn(inputs)`` ``repeat`` times after ``warmup`` calls (at least ``min_seconds``)."""
    _reset_peak()
    before = _rss_mb("VmRSS")
    for _ in range(warmup):
        fn(inputs)
    times = []
    start = time.perf_counter()
    while len(times) < repeat or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn(inputs)
        times.append((time.perf_counter() - t0) * 1000)
    peak = _rss_mb("VmHWM")
    return _summary(name, batch_size, times, peak, peak - before, file)


def _summary(
    name: str, batch_size: int, times_ms: Sequence[float], peak: float, increase: float, file: str | Path | None
) -> BenchResult:
    arr = np.asarray(times_ms)
    p50 = float(np.percentile(arr, 50))
    size = Path(file).stat().st_size / 1e6 if file else None
    return BenchResult(
        name,
        batch_size,
        p50,
        float(np.percentile(arr, 90)),
        float(np.percentile(arr, 99)),
        float(arr.mean()),
        batch_size * 1000 / p50,
        peak,
        increase,
        size,
        len(arr),
    )


def cpu_info() -> dict[str, Any]:
    """CPU model, core count and the SIMD features that matter for INT8 (AVX-512, VNNI)."""
    flags: set[str] = set()
    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
            elif line.startswith("model name") and not model:
                model = line.split(":", 1)[1].strip()
            elif line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return {
        "model": model,
        "cores": os.cpu_count(),
        "avx2": "avx2" in flags,
        "avx512f": "avx512f" in flags,
        "avx512_vnni": "avx512_vnni" in flags,
        "avx_vnni": "avx_vnni" in flags,
        "amx": "amx_tile" in flags,
    }


def ratio_table(results: Sequence[BenchResult], baseline: str, extra: dict[str, dict] | None = None) -> str:
    """Markdown table of results, with speed-up vs ``baseline`` at the same batch size."""
    base = {r.batch_size: r for r in results if r.name == baseline}
    extra = extra or {}
    cols = sorted({k for v in extra.values() for k in v})
    head = [
        "variant",
        "batch",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "img/s",
        f"speed-up vs {baseline}",
        "process peak RSS MB (+run)",
        "file MB",
        *cols,
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        b = base.get(r.batch_size)
        speed = f"{b.p50_ms / r.p50_ms:.2f}x" if b else "-"
        size = f"{r.file_mb:.2f}" if r.file_mb is not None else "-"
        cells = [
            r.name,
            str(r.batch_size),
            f"{r.p50_ms:.2f}",
            f"{r.p90_ms:.2f}",
            f"{r.p99_ms:.2f}",
            f"{r.throughput:.0f}",
            speed,
            f"{r.peak_rss_mb:.0f} (+{r.rss_increase_mb:.0f})",
            size,
        ]
        cells += [_fmt(extra.get(r.name, {}).get(c)) for c in cols]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def measure_interleaved(
    fns: dict[str, Callable[[Any], Any]],
    inputs: Any,
    batch_size: int = 1,
    rounds: int = 20,
    per_round: int = 10,
    warmup: int = 5,
    files: dict[str, str | Path] | None = None,
) -> list[BenchResult]:
    """Time several variants round-robin, so drift in machine load hits them all alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn(inputs)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            for _ in range(per_round):
                t0 = time.perf_counter()
                fn(inputs)
                times[name].append((time.perf_counter() - t0) * 1000)
    peak = _rss_mb("VmHWM")
    return [_summary(name, batch_size, ts, peak, 0.0, (files or {}).get(name)) for name, ts in times.items()]


def session_factory(model: Any, backend: str = "onnxruntime", threads: int = 2, **kwargs: Any) -> Callable[[], Any]:
    """A picklable ``() -> run`` for ``measure_isolated``: opens ``model`` on ``backend`` inside the worker.

    ``backend`` is one of ``core.runtime.session.BACKENDS`` or ``"torch.compile"`` (the module
    is compiled in the worker and warmed up there). ``kwargs`` go to ``create_session``.
    """
    return partial(_open_session, model, backend, threads, kwargs)


def _open_session(model: Any, backend: str, threads: int, kwargs: dict) -> Callable[[Any], Any]:
    from .runtime.session import create_session

    if backend == "torch.compile":
        import torch

        model = torch.compile(model.eval())
        backend = "torch"
    return create_session(model, backend, threads, **kwargs).run


def _worker(conn, factory: Callable[[], Callable[[Any], Any]], inputs: Any, threads: int) -> None:
    """Worker process of ``measure_isolated``: build the variant, then time ``(warmup, n)`` requests."""
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    try:
        fn = factory()
        fn(inputs)
    except BaseException as exc:  # reported to the parent with the variant's name
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", _rss_mb("VmRSS")))
    while (request := conn.recv()) is not None:
        warmup, n = request
        for _ in range(warmup):
            fn(inputs)
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn(inputs)
            times.append((time.perf_counter() - t0) * 1000)
        conn.send(("times", times))
    conn.send(("peak", _rss_mb("VmHWM")))


def measure_isolated(
    factories: dict[str, Callable[[], Callable[[Any], Any]]],
    inputs: Any,
    batch_size: int = 1,
    rounds: int = 20,
    per_round: int = 10,
    warmup: int = 5,
    files: dict[str, str | Path] | None = None,
    threads: int = 2,
    skip_failed: bool = False,
) -> list[BenchResult]:
    """Time each variant in its own process, round-robin, ``warmup`` untimed calls after every switch.

    ``factories[name]()`` runs in the worker and returns the callable to time (see
    ``session_factory``); it must be picklable. Only one worker runs at a time; the others
    wait on a pipe. Peak RSS is the worker's own. A variant that fails to start raises
    ``RuntimeFailure`` (4002) with its name, or with ``skip_failed`` is left out with a warning.
    """
    import multiprocessing as mp
    import warnings

    from ..errors import ErrorCode, RuntimeFailure

    ctx = mp.get_context("spawn")
    workers: dict[str, tuple[Any, Any]] = {}
    started: dict[str, float] = {}
    try:
        for name, factory in factories.items():
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(child, factory, inputs, threads), daemon=True)
            proc.start()
            child.close()  # only the worker holds it now: a worker that dies reads as EOF, not as silence
            try:
                kind, value = parent.recv() if parent.poll(600) else ("error", "no answer in 600 s")
            except EOFError:
                proc.join(timeout=10)
                kind, value = "error", f"the worker process died before it was ready (exit code {proc.exitcode})"
            if kind == "error":
                proc.join(timeout=10)
                if not skip_failed:
                    raise RuntimeFailure(
                        ErrorCode.BACKEND_FAILURE,
                        f"benchmark variant '{name}' failed to start: {value}",
                        value=name,
                        hint="fix that variant or pass skip_failed=True to leave it out; workers are spawned, "
                        "so a calling script needs `if __name__ == '__main__':` and factories that pickle",
                    )
                warnings.warn(f"benchmark variant '{name}' left out: {value}", stacklevel=2)
                continue
            workers[name], started[name] = (parent, proc), value
        times: dict[str, list[float]] = {name: [] for name in workers}
        for _ in range(rounds):
            for name, (conn, _) in workers.items():
                conn.send((warmup, per_round))
                times[name] += conn.recv()[1]
        out = []
        for name, (conn, proc) in workers.items():
            conn.send(None)
            peak = conn.recv()[1]
            proc.join(timeout=30)
            out.append(_summary(name, batch_size, times[name], peak, peak - started[name], (files or {}).get(name)))
        return out
    finally:
        for _, proc in workers.values():
            if proc.is_alive():
                proc.kill()


def save_report(out: str | Path, stem: str, report: dict, text: str) -> None:
    """Write a benchmark's ``report`` as ``out/stem.json`` and its table ``text`` as ``out/stem.md``, and print the table."""
    import json

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(report, indent=2, default=float))
    (out / f"{stem}.md").write_text(text)
    print(text)
