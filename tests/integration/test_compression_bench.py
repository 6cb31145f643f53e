"""The compression benchmark's side-by-side runner works end to end on a tiny classifier."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch_pruning")
ROOT = Path(__file__).resolve().parents[2]


def _load_bench():
    spec = importlib.util.spec_from_file_location("compression_bench", ROOT / "benchmarks" / "compression.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["compression_bench"] = module
    spec.loader.exec_module(module)
    return module


def test_run_case_measures_every_variant(tmp_path):
    sys.path.insert(0, str(ROOT / "tests" / "unit"))
    from test_compress_pipeline import _trained_classifier  # the same tiny problem as the pipeline tests

    from deepseek_apps.core.compress.pipeline import OptimizeTarget
    from deepseek_apps.core.runtime.session import OrtSession

    bench = _load_bench()
    model, x, y = _trained_classifier()

    def accuracy(path):
        return 100.0 * float(np.mean(OrtSession(path).run({"x": x})[0].argmax(1) == y))

    import torch

    target = OptimizeTarget(
        module=model,
        example_inputs=(torch.from_numpy(x[:2]),),
        input_names=["x"],
        output_names=["y"],
        calibration=[{"x": x[i : i + 32]} for i in range(0, 128, 32)],
        evaluate=accuracy,
        metric_name="accuracy %",
        ignored_layers=[model[-1]],
    )
    result = bench.run_case(
        "tiny", target, {"case": "tiny", "split": "all"}, accuracy, tmp_path, repeat_rounds=2, ratios=(0.5,)
    )
    names = [r["variant"] for r in result["rows"]]
    assert {"pytorch eager fp32", "onnxruntime fp32", "ours level 1", "ours level 2", "ours level 3"} <= set(names)
    for row in result["rows"]:
        assert row["p50 ms b1"] > 0 and row["img/s b16"] > 0 and 0 <= row["metric"] <= 100
    assert "speed-up vs eager b1" in bench.markdown(result)
