"""INT8 post-training quantization through ONNX Runtime (static QDQ, per-channel weights).

QDQ with unsigned 8-bit activations and signed 8-bit per-channel weights is the format
ONNX Runtime fuses into integer kernels on x86 (VNNI); QOperator S8S8 and dynamic INT8 on
convolutions are slower than FP32 here.

Relu and Clip are quantized too: ONNX Runtime's quantizer then drops them and gives the
Conv or Add before them the activation's output range, so a Conv -> Relu -> Conv chain stays
in integers instead of running a DequantizeLinear -> Relu -> QuantizeLinear round trip in
float between two integer kernels.

Weights use 7 of the 8 bits (``reduce_range``). Without VNNI (AVX2, and AVX-512 before
Cascade Lake), ONNX Runtime multiplies u8 activations by s8 weights with ``vpmaddubsw``, which
adds two products into a saturating int16: 255 x 127 x 2 overflows it and large activations
are clipped silently. On a 2-core AMD EPYC (AVX2 only) the anomaly bundle's image AUROC fell
from 1.0 in FP32 to 0.56 in INT8 that way (the same test passed on a Xeon with VNNI); with
7-bit weights the KolektorSDD bundle scores image AUROC 0.906 INT8 against 0.904 FP32 there.
A bundle may be exported on one CPU and run on another, so it is always 7-bit.

``integer_kernel_coverage`` checks the result the way ONNX Runtime will run it: how many
Conv / MatMul / Gemm nodes became integer kernels after its graph fusions, how many still
run in float between a DequantizeLinear and a QuantizeLinear (the slow, unfused case), and
how many float round trips (``requantize``) remain between integer kernels.

Example:
    >>> from deepseek_apps.core.compress.quantize import integer_kernel_coverage, quantize_static_onnx
    >>> quantize_static_onnx("fp32.onnx", "int8.onnx", batches)  # doctest: +SKIP
    >>> integer_kernel_coverage("int8.onnx").fraction  # doctest: +SKIP
    1.0
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import ErrorCode, InvalidInputError

CALIBRATION_METHODS = ("minmax", "entropy", "percentile")
# Relu / Clip quantized so the quantizer folds them into the producer's output range.
DEFAULT_OP_TYPES = ("Conv", "Add", "MatMul", "Gemm", "Relu", "Clip")
FLOAT_COMPUTE = ("Conv", "MatMul", "Gemm", "FusedConv", "FusedMatMul", "FusedGemm")
INTEGER_COMPUTE = (
    "QLinearConv",
    "QLinearMatMul",
    "QGemm",
    "ConvInteger",
    "MatMulInteger",
    "MatMulIntegerToFloat",
    "DynamicQuantizeMatMul",
    "MatMulNBits",
)


@dataclass
class KernelCoverage:
    """Compute nodes of a model after ONNX Runtime's fusions: integer kernels vs float ones.

    ``requantize`` counts the float islands inside the integer graph: each QuantizeLinear whose
    input was computed in float from a DequantizeLinear (Relu, GroupNorm, Sigmoid ... between
    two integer kernels). Every one costs a dequantize, float work and a quantize.
    """

    integer: int
    float_fed_by_dequantize: int
    float_other: int
    ops: dict[str, int]
    requantize: int = 0

    @property
    def fraction(self) -> float:
        """Share of the quantized compute that really runs in integer kernels (1.0 = all fused)."""
        quantized = self.integer + self.float_fed_by_dequantize
        return self.integer / quantized if quantized else 0.0


class _Reader:
    def __init__(self, batches: Iterable[dict[str, np.ndarray]]):
        self._it = iter(batches)

    def get_next(self):
        return next(self._it, None)


def quantize_static_onnx(
    model_path: str | Path,
    out_path: str | Path,
    calibration: Iterable[dict[str, np.ndarray]],
    method: str = "minmax",
    per_channel: bool = True,
    op_types: Sequence[str] = DEFAULT_OP_TYPES,
    exclude_nodes: Sequence[str] = (),
    only_nodes: Sequence[str] | None = None,
) -> Path:
    """Quantize ``model_path`` to INT8 QDQ with activations calibrated on ``calibration``.

    Args:
        calibration: batches ``{input_name: array}`` representative of real inputs.
        method: ``minmax``, ``entropy`` or ``percentile``.
        op_types: node types to quantize; Relu / Clip let the quantizer fold activations away.
        exclude_nodes: ONNX node names kept in float (e.g. detection-head outputs).
        only_nodes: quantize just these nodes (used by per-layer sensitivity analysis).
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    methods = {
        "minmax": CalibrationMethod.MinMax,
        "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
    }
    if method not in methods:
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            f"unknown calibration method '{method}'",
            value=method,
            hint=f"use one of: {', '.join(CALIBRATION_METHODS)}",
        )
    out_path = Path(out_path)
    calibration = check_calibration(model_path, calibration)
    with tempfile.TemporaryDirectory() as tmp:
        prepped = Path(tmp) / "prepped.onnx"
        quant_pre_process(str(model_path), str(prepped), skip_symbolic_shape=True)
        quantize_static(
            str(prepped),
            str(out_path),
            _Reader(calibration),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=list(op_types),
            per_channel=per_channel,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            reduce_range=True,  # 7-bit weights: no int16 saturation on CPUs without VNNI (module docstring)
            nodes_to_exclude=list(exclude_nodes),
            nodes_to_quantize=list(only_nodes) if only_nodes else None,
            calibrate_method=methods[method],
            extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
        )
    return out_path


def integer_kernel_coverage(model_path: str | Path) -> KernelCoverage:
    """Let ONNX Runtime optimise ``model_path`` for this CPU and count integer vs float compute nodes.

    A Conv / MatMul / Gemm still in float with a DequantizeLinear on its input is a Q/DQ pair
    that did not fuse: it pays the quantization overhead and runs in float anyway.
    """
    import onnx
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.optimized_model_filepath = str(Path(tmp) / "optimized.onnx")
        opts.log_severity_level = 3  # the "hardware specific" serialisation warning is expected here
        ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])
        graph = onnx.load(opts.optimized_model_filepath).graph
    producers = {out: node.op_type for node in graph.node for out in node.output}
    ops = Counter(node.op_type for node in graph.node)
    integer = sum(ops[op] for op in INTEGER_COMPUTE)
    fed = other = 0
    for node in graph.node:
        if node.op_type in FLOAT_COMPUTE:
            if any(producers.get(name) == "DequantizeLinear" for name in node.input):
                fed += 1
            else:
                other += 1
    return KernelCoverage(integer, fed, other, dict(ops), _requantize_count(graph))


def _requantize_count(graph) -> int:
    """QuantizeLinear nodes fed, through float ops only, by a DequantizeLinear (a float round trip)."""
    producers = {out: node for node in graph.node for out in node.output}

    def from_dequantize(name: str, depth: int = 0) -> bool:
        node = producers.get(name)
        if node is None or node.op_type == "QuantizeLinear" or depth > 16:
            return False
        if node.op_type == "DequantizeLinear":
            return True
        return any(from_dequantize(i, depth + 1) for i in node.input if i)

    return sum(1 for node in graph.node if node.op_type == "QuantizeLinear" and from_dequantize(node.input[0]))


def check_calibration(model_path: str | Path, batches: Iterable[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
    """The calibration batches as a list, after checking them against the model's inputs.

    Raises ``InvalidInputError``: 1013 when there is no batch, 1000 for a batch that is not a
    dict of the model's input names, 1004 for an array whose rank or fixed dimensions do not
    fit the model, 1003 for a non-numeric array.
    """
    import onnx

    batches = list(batches)
    if not batches:
        raise InvalidInputError(
            ErrorCode.DATASET_EMPTY,
            "calibration set is empty",
            value=0,
            hint="pass at least one batch of typical inputs",
        )
    graph = onnx.load(str(model_path), load_external_data=False).graph
    initializers = {t.name for t in graph.initializer}
    inputs = {
        i.name: [d.dim_value if d.HasField("dim_value") else None for d in i.type.tensor_type.shape.dim]
        for i in graph.input
        if i.name not in initializers
    }
    for index, batch in enumerate(batches):
        if not isinstance(batch, dict) or set(batch) != set(inputs):
            raise InvalidInputError(
                ErrorCode.INVALID_ARGUMENT,
                f"calibration batch {index} does not name the model's inputs",
                value=sorted(batch) if isinstance(batch, dict) else type(batch).__name__,
                hint=f"give dicts keyed by {sorted(inputs)}",
            )
        for name, dims in inputs.items():
            array = np.asarray(batch[name])
            if array.dtype.kind not in "fiub":
                raise InvalidInputError(
                    ErrorCode.IMAGE_DTYPE,
                    f"calibration input '{name}' has dtype {array.dtype}",
                    value=str(array.dtype),
                    hint="pass numeric arrays as the model takes them (float32 pixels, int64 ids)",
                )
            fixed_ok = all(d in (None, 0) or d == n for d, n in zip(dims, array.shape))
            if array.ndim != len(dims) or not fixed_ok:
                raise InvalidInputError(
                    ErrorCode.IMAGE_SHAPE,
                    f"calibration input '{name}' in batch {index} has shape {array.shape}",
                    value=list(array.shape),
                    hint=f"the model takes {['?' if d in (None, 0) else d for d in dims]} (? = any size)",
                )
    return batches
