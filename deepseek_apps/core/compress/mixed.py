"""Per-layer sensitivity and a mixed-precision plan under an accuracy budget (ONNX Runtime).

``layer_sensitivity`` quantizes one layer at a time (static INT8 QDQ) and measures the
metric drop with a user ``evaluate(model_path) -> float`` (higher is better).
``plan_mixed_precision`` starts from everything in INT8 and moves the most sensitive layers
back to FP32 until the drop fits the budget; its report says which layer got what and what
each step cost. Plans choose between FP32 and INT8. FP16 is not offered: ONNX Runtime's x86
CPU provider has no FP16 convolution kernels, so an FP16 graph runs slower than FP32 there
(ResNet-18 224x224, batch 1, 2 threads, AVX-512 + VNNI, no AVX512-FP16: 11.6 ms FP16 vs
8.8 ms FP32, 300 interleaved runs each, ``onnxruntime.transformers.float16``; 2026-11-23).

Example:
    >>> from deepseek_apps.core.compress.mixed import plan_mixed_precision
    >>> plan = plan_mixed_precision("fp32.onnx", "int8.onnx", batches, evaluate, max_drop=0.01)  # doctest: +SKIP
    >>> plan.to_dict()["layers"]  # doctest: +SKIP
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ...errors import ErrorCode, InvalidInputError
from .quantize import quantize_static_onnx

QUANTIZABLE = ("Conv", "MatMul", "Gemm")


@dataclass
class LayerSensitivity:
    name: str
    op_type: str
    metric: float
    drop: float


@dataclass
class MixedPrecisionPlan:
    """Which layer runs in which precision, and what the plan costs in metric."""

    layers: dict[str, str]
    baseline_metric: float
    metric: float
    steps: list[dict] = field(default_factory=list)
    sensitivity: list[LayerSensitivity] = field(default_factory=list)

    @property
    def drop(self) -> float:
        return self.baseline_metric - self.metric

    def to_dict(self) -> dict:
        out = asdict(self)
        out["drop"] = self.drop
        return out


def quantizable_nodes(model_path: str | Path, op_types: Sequence[str] = QUANTIZABLE) -> list[tuple[str, str]]:
    """``(name, op_type)`` of the nodes static INT8 would quantize, in graph order."""
    import onnx

    graph = onnx.load(str(model_path)).graph
    nodes = [(n.name, n.op_type) for n in graph.node if n.op_type in op_types]
    unnamed = [i for i, (name, _) in enumerate(nodes) if not name]
    if unnamed:
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            "graph has unnamed nodes",
            value=str(model_path),
            hint="export with node names (torch.onnx.export names nodes by default)",
        )
    return nodes


def _check_batches(batches: Sequence[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
    batches = list(batches)
    if not batches:
        raise InvalidInputError(
            ErrorCode.DATASET_EMPTY,
            "calibration set is empty",
            value=0,
            hint="pass at least one batch of typical inputs",
        )
    return batches


def layer_sensitivity(
    model_path: str | Path,
    calibration: Sequence[dict[str, np.ndarray]],
    evaluate: Callable[[Path], float],
    nodes: Sequence[str] | None = None,
    method: str = "minmax",
    progress: bool = True,
) -> list[LayerSensitivity]:
    """Metric of the model with only one layer in INT8, for each layer; most sensitive first."""
    from tqdm.auto import tqdm

    batches = _check_batches(calibration)
    all_nodes = dict(quantizable_nodes(model_path))
    names = list(nodes) if nodes is not None else list(all_nodes)
    unknown = [n for n in names if n not in all_nodes]
    if unknown:
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            "not a quantizable node of this graph",
            value=unknown[:5],
            hint=f"choose from quantizable_nodes(); e.g. {list(all_nodes)[:3]}",
        )
    baseline = evaluate(Path(model_path))
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in tqdm(names, desc="sensitivity", unit="layer", disable=not progress):
            path = Path(tmp) / "one.onnx"
            quantize_static_onnx(model_path, path, iter(batches), method=method, only_nodes=[name])
            metric = evaluate(path)
            out.append(LayerSensitivity(name, all_nodes[name], metric, baseline - metric))
    return sorted(out, key=lambda s: -s.drop)


def plan_mixed_precision(
    model_path: str | Path,
    out_path: str | Path,
    calibration: Sequence[dict[str, np.ndarray]],
    evaluate: Callable[[Path], float],
    max_drop: float,
    sensitivity: Sequence[LayerSensitivity] | None = None,
    method: str = "minmax",
    max_fp32_layers: int | None = None,
    progress: bool = True,
    always_analyze: bool = False,
    baseline_metric: float | None = None,
) -> MixedPrecisionPlan:
    """Quantize to INT8, then keep the most sensitive layers in FP32 until the drop is <= ``max_drop``.

    The per-layer sensitivity analysis (one quantization and one evaluation per layer) runs
    only when the all-INT8 model misses the budget, unless ``always_analyze`` is set. Writes
    the chosen model to ``out_path``; if even ``max_fp32_layers`` FP32 layers do not meet the
    budget, the best plan found is written and ``steps`` says so. ``baseline_metric`` is the
    FP32 model's metric when the caller already has it.
    """
    batches = _check_batches(calibration)
    baseline = evaluate(Path(model_path)) if baseline_metric is None else baseline_metric
    names = [n for n, _ in quantizable_nodes(model_path)]
    steps: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:

        def attempt(kept: list[str]) -> tuple[float, bytes]:
            path = Path(tmp) / "mixed.onnx"
            quantize_static_onnx(model_path, path, iter(batches), method=method, exclude_nodes=kept)
            metric = evaluate(path)
            steps.append({"fp32_layers": kept, "metric": metric, "drop": baseline - metric})
            return metric, path.read_bytes()

        metric, data = attempt([])
        best = (0, metric, data)
        if sensitivity is None and (always_analyze or baseline - metric > max_drop):
            sensitivity = layer_sensitivity(model_path, batches, evaluate, method=method, progress=progress)
        order = [s.name for s in sensitivity] if sensitivity is not None else names
        if baseline - metric > max_drop:
            limit = len(order) if max_fp32_layers is None else min(max_fp32_layers, len(order))
            for k in range(1, limit + 1):
                metric, data = attempt(order[:k])
                if metric > best[1] or baseline - metric <= max_drop:
                    best = (k, metric, data)
                if baseline - metric <= max_drop:
                    break
            else:
                steps.append({"note": f"budget {max_drop} not met with {limit} FP32 layers; kept the best plan"})
        elif sensitivity is None:
            steps.append({"note": "all layers INT8 within budget: per-layer sensitivity analysis not needed"})
    k, metric, data = best
    Path(out_path).write_bytes(data)
    layers = {name: ("fp32" if name in order[:k] else "int8") for name in names}
    return MixedPrecisionPlan(layers, baseline, metric, steps, list(sensitivity or []))


def quantize_dynamic_onnx(
    model_path: str | Path, out_path: str | Path, op_types: Sequence[str] = ("MatMul", "Gemm")
) -> Path:
    """Dynamic INT8 (weights int8, activations quantized on the fly) for Linear-heavy models.

    Do not use it on convolutional nets: on this CPU dynamic INT8 convs run 4-7x slower than FP32.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(model_path),
        str(out_path),
        op_types_to_quantize=list(op_types),
        per_channel=True,
        weight_type=QuantType.QInt8,
    )
    return Path(out_path)


def quantize_weights_4bit(
    model_path: str | Path, out_path: str | Path, block_size: int = 32, accuracy_level: int = 4
) -> Path:
    """4-bit block-wise weights for MatMul (ONNX Runtime ``MatMulNBits``); other ops stay as they are."""
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    quantizer = MatMulNBitsQuantizer(
        onnx.load(str(model_path)), bits=4, block_size=block_size, is_symmetric=True, accuracy_level=accuracy_level
    )
    quantizer.process()
    converted = sum(n.op_type == "MatMulNBits" for n in quantizer.model.model.graph.node)
    if converted == 0:
        raise InvalidInputError(
            ErrorCode.UNSUPPORTED_FORMAT,
            "no MatMul with constant weights to quantize to 4 bits",
            value=str(model_path),
            hint="4-bit weights apply to MatMul (a Linear on 3-D inputs); Gemm and Conv stay in INT8",
        )
    quantizer.model.save_model_to_file(str(out_path), False)
    return Path(out_path)
