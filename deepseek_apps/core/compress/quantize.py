"""INT8 post-training quantization through ONNX Runtime (static QDQ, per-channel weights).

QDQ with unsigned 8-bit activations and signed 8-bit per-channel weights is the format
ONNX Runtime fuses into integer kernels on x86 (VNNI); QOperator S8S8 and dynamic INT8 on
convolutions are slower than FP32 here.

Example:
    >>> from deepseek_apps.core.compress.quantize import quantize_static_onnx
    >>> quantize_static_onnx("fp32.onnx", "int8.onnx", batches)  # doctest: +SKIP
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ...errors import ErrorCode, InvalidInputError

CALIBRATION_METHODS = ("minmax", "entropy", "percentile")


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
    op_types: Sequence[str] = ("Conv", "Add", "MatMul", "Gemm"),
    exclude_nodes: Sequence[str] = (),
    only_nodes: Sequence[str] | None = None,
) -> Path:
    """Quantize ``model_path`` to INT8 QDQ with activations calibrated on ``calibration``.

    Args:
        calibration: batches ``{input_name: array}`` representative of real inputs.
        method: ``minmax``, ``entropy`` or ``percentile``.
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
            nodes_to_exclude=list(exclude_nodes),
            calibrate_method=methods[method],
            extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
        )
    return out_path
