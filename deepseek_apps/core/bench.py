"""Honest measurements: latency percentiles, throughput, peak memory, file size.

Benchmarks are plain functions ``(fn, inputs, repeat, warmup)``; every variant a user
compares is measured in the same process run, and reports are ratios to a baseline.

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
    arr = np.asarray(times)
    peak = _rss_mb("VmHWM")
    size = Path(file).stat().st_size / 1e6 if file else None
    return BenchResult(
        name,
        batch_size,
        float(np.percentile(arr, 50)),
        float(np.percentile(arr, 90)),
        float(np.percentile(arr, 99)),
        float(arr.mean()),
        batch_size * 1000 / float(np.percentile(arr, 50)),
        peak,
        peak - before,
        size,
        len(times),
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
    out = []
    peak = _rss_mb("VmHWM")
    for name, ts in times.items():
        arr = np.asarray(ts)
        p50 = float(np.percentile(arr, 50))
        size = Path(files[name]).stat().st_size / 1e6 if files and name in files else None
        out.append(
            BenchResult(
                name,
                batch_size,
                p50,
                float(np.percentile(arr, 90)),
                float(np.percentile(arr, 99)),
                float(arr.mean()),
                batch_size * 1000 / p50,
                peak,
                0.0,
                size,
                len(ts),
            )
        )
    return out
