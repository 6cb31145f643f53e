"""Inference sessions over one interface: ``run(inputs: dict[str, ndarray]) -> list[ndarray]``.

Backends: ``"torch"`` (an ``nn.Module``), ``"onnxruntime"`` and ``"openvino"`` (an ONNX file).
ONNX Runtime is imported here only; PyTorch and OpenVINO only inside their session classes.

Example:
    >>> from deepseek_apps.core.runtime.session import create_session
    >>> session = create_session("model.onnx", backend="onnxruntime", threads=2)  # doctest: +SKIP
    >>> boxes, scores, labels = session.run({"pixels": batch})  # doctest: +SKIP
"""

from __future__ import annotations

import threading
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ...errors import (
    DeepSeekAppsWarning,
    ErrorCode,
    InvalidInputError,
    MissingResourceError,
    ModelFormatError,
    RuntimeFailure,
    require,
)
from ..cpu import cpu_flags, int8_saturates

BACKENDS = ("torch", "onnxruntime", "openvino")


class InferenceSession(Protocol):
    input_names: list[str]
    output_names: list[str]

    def run(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]: ...


@contextmanager
def _backend_failure(backend: str, inputs: dict[str, np.ndarray]):
    """A runtime library's own exception during ``run`` becomes our ``BACKEND_FAILURE`` (4002)."""
    try:
        yield
    except Exception as exc:  # each runtime raises its own exception types
        raise RuntimeFailure(
            ErrorCode.BACKEND_FAILURE,
            f"{backend} failed ({exc})",
            value={k: v.shape for k, v in inputs.items()},
            hint="check the input shape and dtype against the model",
        ) from exc


class OrtSession:
    """ONNX Runtime on the CPU with a fixed thread count and full graph optimisation."""

    def __init__(self, model: str | Path | bytes, threads: int = 2):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if isinstance(model, (str, Path)) and not Path(model).is_file():
            raise MissingResourceError(ErrorCode.FILE_NOT_FOUND, "ONNX model not found", value=str(model))
        source = str(model) if isinstance(model, (str, Path)) else model
        try:
            self._session = ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelFormatError(
                ErrorCode.UNSUPPORTED_FORMAT,
                f"ONNX Runtime cannot load the model ({exc})",
                value=str(model)[:200],
                hint="re-export the model with this version",
            ) from exc
        self.input_names = [i.name for i in self._session.get_inputs()]
        self.output_names = [o.name for o in self._session.get_outputs()]
        if int8_saturates():
            warn_full_range_int8(model)

    def run(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        with _backend_failure("ONNX Runtime", inputs):
            return self._session.run(None, inputs)


REDUCED_RANGE = 64  # 7-bit symmetric weights lie in -64..64
INTEGER_KERNEL_OPS = ("Conv", "ConvTranspose", "MatMul", "Gemm")


def full_range_int8_weights(model: str | Path | bytes) -> list[str]:
    """The INT8 weight tensors of a QDQ model that use all 8 bits (beyond -64..64).

    Empty when ``onnx`` is not installed (the torch-free edge install) or the model has no
    INT8 weights. Bundles exported by this package since 2026-12-06 keep 7-bit weights.
    """
    data = Path(model).read_bytes() if isinstance(model, (str, Path)) else model
    if b"DequantizeLinear" not in data:
        return []
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        return []
    graph = onnx.load_model_from_string(data).graph
    weights = {t.name: t for t in graph.initializer if t.data_type == onnx.TensorProto.INT8}
    multiplied = {i for n in graph.node if n.op_type in INTEGER_KERNEL_OPS for i in n.input}
    wide = []
    for node in graph.node:  # weights that feed a Conv / MatMul / Gemm (a quantized Gather does not saturate)
        if node.op_type == "DequantizeLinear" and node.input[0] in weights and node.output[0] in multiplied:
            values = numpy_helper.to_array(weights[node.input[0]])
            if values.size and int(np.abs(values.astype(np.int16)).max()) > REDUCED_RANGE:
                wide.append(node.input[0])
    return wide


def warn_full_range_int8(model: str | Path | bytes) -> None:
    """Warn (``DeepSeekAppsWarning`` 3012) when ``model`` has 8-bit INT8 weights on a CPU without VNNI."""
    wide = full_range_int8_weights(model)
    if wide:
        warnings.warn(
            DeepSeekAppsWarning(
                ErrorCode.INT8_WEIGHTS_SATURATE,
                f"{len(wide)} INT8 weight tensors use all 8 bits and this CPU has no VNNI: ONNX Runtime's "
                "integer kernels saturate here and the model's answers may be far off its measured accuracy",
                value=str(model)[:200] if isinstance(model, (str, Path)) else f"{len(model)} bytes",
                hint="re-export the bundle with this version (7-bit weights), or run the FP32 model",
            ),
            stacklevel=3,
        )


class TorchSession:
    """An ``nn.Module`` in eval mode under ``torch.no_grad``; inputs and outputs are numpy."""

    def __init__(
        self, module: Any, input_names: list[str], output_names: list[str], threads: int = 2, device: str = "cpu"
    ):
        import torch

        torch.set_num_threads(threads)
        self._torch = torch
        self.module = module.eval().to(device)
        self.device = device
        self.input_names, self.output_names = input_names, output_names

    def run(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        torch = self._torch
        with torch.no_grad():
            outs = self.module(*[torch.from_numpy(inputs[n]).to(self.device) for n in self.input_names])
        outs = outs if isinstance(outs, (tuple, list)) else (outs,)
        return [o.detach().cpu().numpy() for o in outs]


PRECISIONS = ("f32", "bf16")


def amx_bf16() -> bool:
    """Whether this CPU multiplies bf16 matrices in hardware (Intel AMX): where OpenVINO's bf16
    runs about 3x faster than its f32. Elsewhere bf16 is emulated and slower than f32."""
    return "amx_bf16" in cpu_flags()


class OpenVinoSession:
    """OpenVINO on the CPU.

    Args:
        precision: "f32" (default: exact on every CPU) or "bf16" (8-bit mantissa activations
            and weights, on AMX's bf16 units; see ``amx_bf16``).
    """

    def __init__(self, model: str | Path | bytes, threads: int = 2, precision: str = "f32"):
        if precision not in PRECISIONS:
            raise InvalidInputError(
                ErrorCode.INVALID_ARGUMENT,
                f"unknown OpenVINO precision '{precision}'",
                value=precision,
                hint=f"use one of: {', '.join(PRECISIONS)}",
            )
        ov = require("openvino", "openvino")
        core = ov.Core()
        source = core.read_model(model) if isinstance(model, bytes) else str(model)  # bytes: an ONNX file's content
        compiled = core.compile_model(
            source, "CPU", {"INFERENCE_PRECISION_HINT": precision, "INFERENCE_NUM_THREADS": threads}
        )
        self.precision = precision
        self._request = compiled.create_infer_request()
        self._lock = threading.Lock()  # one infer request: calls from several threads take turns
        self.input_names = [i.get_any_name() for i in compiled.inputs]
        self.output_names = [o.get_any_name() for o in compiled.outputs]
        self._outputs = compiled.outputs
        # OpenVINO runs an input of the wrong rank or channel count without a word (an empty or a
        # wrong answer): check every static dimension here, as ONNX Runtime does itself
        self._shapes = {
            i.get_any_name(): [d.get_length() if d.is_static else None for d in i.get_partial_shape()]
            for i in compiled.inputs
            if i.get_partial_shape().rank.is_static
        }

    def run(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        for name, array in inputs.items():
            want, got = self._shapes.get(name), tuple(np.shape(array))
            if want is not None and (len(got) != len(want) or any(w not in (None, g) for w, g in zip(want, got))):
                shown = "(" + ", ".join("?" if w is None else str(w) for w in want) + ")"
                raise RuntimeFailure(
                    ErrorCode.BACKEND_FAILURE,
                    f"input {name!r} has shape {got}; the model takes {shown} (? = any size)",
                    value={k: np.shape(v) for k, v in inputs.items()},
                    hint="check the input shape and dtype against the model",
                )
        with _backend_failure("OpenVINO", inputs), self._lock:
            result = self._request.infer(inputs)
            return [np.array(result[o]) for o in self._outputs]  # copied: the request reuses its buffers


def create_session(model: Any, backend: str = "onnxruntime", threads: int = 2, **kwargs: Any) -> InferenceSession:
    """Open ``model`` (an ONNX path/bytes, or an ``nn.Module`` for ``"torch"``) on ``backend``."""
    if backend == "onnxruntime":
        return OrtSession(model, threads)
    if backend == "openvino":
        return OpenVinoSession(model, threads, kwargs.get("precision", "f32"))
    if backend == "torch":
        return TorchSession(model, kwargs["input_names"], kwargs["output_names"], threads, kwargs.get("device", "cpu"))
    raise InvalidInputError(
        ErrorCode.INVALID_ARGUMENT,
        f"unknown backend '{backend}'",
        value=backend,
        hint=f"use one of: {', '.join(BACKENDS)}",
    )
