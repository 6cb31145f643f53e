import time
from pathlib import Path

from deepseek_apps.core.bench import cpu_info, measure, measure_interleaved, ratio_table


def test_measure_reports_percentiles_throughput_and_memory():
    r = measure("sleep", lambda x: time.sleep(0.002), None, batch_size=4, repeat=20, warmup=2)
    assert 2.0 <= r.p50_ms <= r.p90_ms <= r.p99_ms
    assert abs(r.throughput - 4000 / r.p50_ms) < 1e-6 and r.peak_rss_mb > 0 and r.repeat == 20


def test_interleaved_and_ratio_table():
    results = measure_interleaved(
        {"slow": lambda x: time.sleep(0.004), "fast": lambda x: time.sleep(0.001)},
        None,
        rounds=3,
        per_round=3,
        warmup=1,
    )
    by_name = {r.name: r for r in results}
    assert by_name["slow"].p50_ms > by_name["fast"].p50_ms
    table = ratio_table(results, "slow", {"fast": {"mAP": 0.5}})
    assert "speed-up vs slow" in table and "1.00x" in table and "0.5000" in table


def test_cpu_info_names_simd_features():
    info = cpu_info()
    assert {"model", "cores", "avx512f", "avx512_vnni"} <= set(info)


def _sleeper(seconds: float):
    return lambda x: time.sleep(seconds)


def _broken():
    raise ValueError("no such model")


def _pid_writer(path):
    import os

    Path(path).write_text(str(os.getpid()))
    return lambda x: None


def _dies():
    import os

    os._exit(3)  # like a crash in a native library: no exception, no answer


def test_isolated_names_a_worker_that_dies_without_waiting_for_the_timeout():
    import pytest

    from deepseek_apps.core.bench import measure_isolated
    from deepseek_apps.errors import RuntimeFailure

    # before, the parent kept the worker's end of the pipe open and waited 600 s, then said "no answer"
    with pytest.raises(RuntimeFailure) as info:
        measure_isolated({"dies": _dies}, None, rounds=1, per_round=1)
    assert "dies" in str(info.value) and "exit code 3" in str(info.value)


def test_isolated_runs_each_variant_in_its_own_process_and_names_a_failing_one(tmp_path):
    import functools
    import os
    import warnings

    import pytest

    from deepseek_apps.core.bench import measure_isolated
    from deepseek_apps.errors import RuntimeFailure

    factories = {
        "slow": functools.partial(_sleeper, 0.004),
        "fast": functools.partial(_sleeper, 0.001),
        "pid": functools.partial(_pid_writer, tmp_path / "pid"),
    }
    results = measure_isolated(factories, None, batch_size=2, rounds=3, per_round=3, warmup=1)
    by_name = {r.name: r for r in results}
    assert by_name["slow"].p50_ms > by_name["fast"].p50_ms >= 1.0
    assert by_name["slow"].repeat == 9 and by_name["slow"].batch_size == 2
    assert all(r.peak_rss_mb > 0 for r in results)
    assert int((tmp_path / "pid").read_text()) != os.getpid()  # built and timed in a worker process
    with pytest.raises(RuntimeFailure) as info:
        measure_isolated({"ok": functools.partial(_sleeper, 0.0), "broken": _broken}, None, rounds=1, per_round=1)
    assert info.value.code == 4002 and "broken" in str(info.value) and "no such model" in str(info.value)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kept = measure_isolated(
            {"ok": functools.partial(_sleeper, 0.0), "broken": _broken}, None, rounds=1, per_round=1, skip_failed=True
        )
    assert [r.name for r in kept] == ["ok"] and any("broken" in str(w.message) for w in caught)


def test_session_factory_opens_an_onnx_model_in_the_worker(tmp_path):
    import numpy as np
    import torch

    from deepseek_apps.core.bench import measure_isolated, session_factory
    from deepseek_apps.core.runtime.export import export_onnx

    model = torch.nn.Sequential(torch.nn.Linear(4, 3)).eval()
    path = export_onnx(model, (torch.randn(2, 4),), tmp_path / "m.onnx", ["x"], ["y"]).path
    x = {"x": np.random.rand(1, 4).astype(np.float32)}
    results = measure_isolated(
        {"ort": session_factory(path), "torch": session_factory(model, "torch", input_names=["x"], output_names=["y"])},
        x,
        rounds=2,
        per_round=2,
        files={"ort": path},
    )
    assert {r.name for r in results} == {"ort", "torch"} and results[0].file_mb > 0
