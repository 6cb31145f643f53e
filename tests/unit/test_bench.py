import time

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
