"""ONNX export of a fitted recommender (dynamic batch and history length), INT8, and edge bundles.

The graph takes the same five int64 inputs as ``DIN.forward`` and returns the click
probability and the attention weights. The candidate batch, the history batch (1 = shared
by every candidate) and the history length are all dynamic. ``export_bundle`` writes an
edge bundle (``model.onnx`` + the catalog + config, with hashes) that
``onnx_scorer.OnnxScorer`` runs with ONNX Runtime and numpy only.

Example:
    >>> from deepseek_apps import DINRecommender
    >>> DINRecommender().export("rec.zip", int8=True)  # doctest: +SKIP
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ...core.runtime.bundle import write_bundle
from ...errors import ErrorCode, RuntimeFailure
from .onnx_scorer import AXES, INPUTS, OUTPUTS, OnnxScorer

__all__ = [
    "AXES",
    "INPUTS",
    "OUTPUTS",
    "OnnxScorer",
    "example_inputs",
    "export_bundle",
    "export_onnx_model",
    "int8_parity",
]


def example_inputs(rec, n: int = 64, hist_len: int = 20, shared_history: bool = False, seed: int = 0):
    """Random valid inputs for ``rec``'s model (torch tensors), for export and parity checks."""
    import torch

    c = rec.catalog_
    rng = np.random.default_rng(seed)
    items = rng.integers(1, c.n_items + 1, n)
    hb = 1 if shared_history else n
    hist = rng.integers(1, c.n_items + 1, (hb, hist_len))
    hist[:, : hist_len // 4] = 0  # some padding
    users = rng.integers(0, c.n_users + 1, 1 if shared_history else n)
    return (
        torch.from_numpy(c.user_feature_codes[users]),
        torch.from_numpy(items),
        torch.from_numpy(c.item_category[items]),
        torch.from_numpy(hist),
        torch.from_numpy(c.item_category[hist]),
    )


SHARED_AXES = {**AXES, "user_feats": {}, "hist_items": {1: "hist_len"}, "hist_cats": {1: "hist_len"}}


def export_onnx_model(rec, path: str | Path, tolerance: float = 1e-4, shared: bool = False):
    """FP32 ONNX with parity checked on two history lengths.

    ``shared=False``: one history per candidate row (any batch of users). ``shared=True``: the
    serving graph of one request, a single history (batch 1) shared by every candidate, with
    all candidate-history pairs of the first attention layer in one GEMM (about 2x faster).
    """
    from ...core.runtime.export import export_onnx

    model = rec.model_.eval()
    unit = getattr(model, "attention", None)
    if shared and unit is not None:
        unit.shared_gemm = "always"
    try:
        checks = [example_inputs(rec, 64, 50, shared), example_inputs(rec, 200, 7, shared_history=True, seed=1)]
        return export_onnx(
            model,
            example_inputs(rec, 8, 12, shared),
            path,
            INPUTS,
            OUTPUTS,
            tolerance=tolerance,
            check_inputs=checks,
            dynamic_axes=SHARED_AXES if shared else AXES,
        )
    finally:
        if unit is not None:
            unit.shared_gemm = "auto"


def int8_parity(rec, fp32_path: Path, int8_path: Path) -> dict:
    """How far the INT8 model is from FP32 on random inputs: max |dprob| and top-10 overlap."""
    from ...core.runtime.session import OrtSession

    a, b = OrtSession(fp32_path, threads=1), OrtSession(int8_path, threads=1)
    feeds = {n: t.numpy() for n, t in zip(INPUTS, example_inputs(rec, 200, 50, shared_history=True, seed=2))}
    pa, pb = a.run(feeds)[0], b.run(feeds)[0]
    top_a, top_b = set(np.argsort(-pa)[:10]), set(np.argsort(-pb)[:10])
    return {"max_abs_prob_diff": float(np.max(np.abs(pa - pb))), "top10_overlap": len(top_a & top_b) / 10}


def export_bundle(rec, out: str | Path, int8: bool = False, max_prob_diff: float = 0.05) -> Path:
    """Write an edge bundle (zip or folder): ``model.onnx``, ``catalog.safetensors``, ``config.json``.

    INT8 uses the core's dynamic quantization of the MatMul/Gemm weights; the bundle is
    refused (``RuntimeFailure`` 4001) when INT8 moves any probability by more than ``max_prob_diff``.
    """
    from ...core.compress.mixed import quantize_dynamic_onnx
    from .persist import save_model

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        report = export_onnx_model(rec, tmp / "fp32.onnx")
        shared = export_onnx_model(rec, tmp / "fp32_shared.onnx", shared=True)
        parity = {"fp32_max_abs_diff": max(report.max_abs_diff, shared.max_abs_diff)}
        model_file, shared_file = tmp / "fp32.onnx", tmp / "fp32_shared.onnx"
        if int8:
            quantize_dynamic_onnx(tmp / "fp32.onnx", tmp / "int8.onnx")
            quantize_dynamic_onnx(tmp / "fp32_shared.onnx", tmp / "int8_shared.onnx")
            parity.update(int8_parity(rec, tmp / "fp32.onnx", tmp / "int8.onnx"))
            shared_parity = int8_parity(rec, tmp / "fp32_shared.onnx", tmp / "int8_shared.onnx")
            parity["max_abs_prob_diff"] = max(parity["max_abs_prob_diff"], shared_parity["max_abs_prob_diff"])
            if parity["max_abs_prob_diff"] > max_prob_diff:
                raise RuntimeFailure(
                    ErrorCode.EXPORT_PARITY,
                    f"INT8 moves probabilities by {parity['max_abs_prob_diff']:.3f} (budget {max_prob_diff})",
                    value=parity,
                    hint="ship the FP32 bundle (int8=False)",
                )
            model_file, shared_file = tmp / "int8.onnx", tmp / "int8_shared.onnx"
        save_model(tmp / "m", rec.state_)
        files = {
            "model.onnx": model_file.read_bytes(),
            "model_shared.onnx": shared_file.read_bytes(),
            "catalog.safetensors": (tmp / "m" / "catalog.safetensors").read_bytes(),
            "config.json": (tmp / "m" / "config.json").read_bytes(),
        }
    manifest = {
        "application": "recommender",
        "version": "1",
        "class_names": [],
        "preprocessing": {"max_len": rec.max_len_, "padding": "left, index 0"},
        "input_spec": {n: {"dtype": "int64", "axes": AXES[n]} for n in INPUTS},
        "metrics": {**{k: v for k, v in rec.metrics_.items() if k in ("valid", "test")}, "parity": parity},
        "precision": "int8" if int8 else "fp32",
    }
    return write_bundle(out, manifest, files)
