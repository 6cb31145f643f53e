"""The fraud benchmark's scale runner measures every model on a small stream, and its tables render."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch_geometric", reason="the fraud extra is not installed (pip install deepseek-apps[fraud])")
ROOT = Path(__file__).resolve().parents[2]


def _load_bench():
    spec = importlib.util.spec_from_file_location("fraud_bench", ROOT / "benchmarks" / "fraud.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["fraud_bench"] = module
    spec.loader.exec_module(module)
    return module


def test_scale_one_measures_every_model():
    bench = _load_bench()
    result = bench.scale_one(2000, online_repeat=10)
    assert not result["partial"] and result["n"] == 2000
    assert set(result["online"]) == set(bench.MODELS) == set(result["batch"])
    assert all(v["p99_ms"] >= v["p50_ms"] > 0 for v in result["online"].values())
    assert result["gnn_epoch_s"] > 0 and result["history_txn_per_s"] > 0
    table = bench.scale_table([result, {**result, "n": 4000}])
    assert "2,000" in table and "Growth" in table
    stats = {"auc": (0.8, 0.01), "auprc": (0.4, 0.01), "recall_at_1pct_fpr": (0.1, 0.01)}
    summary = {"summary": {m: stats for m in (*bench.MODELS, "product")}}
    assert "0.800 ± 0.010" in bench.quality_table(summary)
