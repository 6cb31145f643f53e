"""ONNX export with a parity check against PyTorch.

Example:
    >>> from deepseek_apps.core.runtime.export import export_onnx
    >>> report = export_onnx(model, (example,), "model.onnx", ["x"], ["y"])  # doctest: +SKIP
    >>> report.max_abs_diff < 1e-4  # doctest: +SKIP
    True
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ...errors import ErrorCode, RuntimeFailure


@dataclass
class ExportReport:
    path: str
    max_abs_diff: float
    per_output: dict[str, float]
    tolerance: float
    opset: int

    def to_dict(self) -> dict:
        return asdict(self)


def max_abs_diff(ref: Sequence[np.ndarray], got: Sequence[np.ndarray]) -> list[float]:
    """Default parity measure: max absolute difference per output (inf on a shape mismatch)."""
    out = []
    for r, g in zip(ref, got):
        if r.shape != g.shape:
            out.append(float("inf"))
        else:
            out.append(float(np.max(np.abs(r.astype(np.float64) - g.astype(np.float64)))) if r.size else 0.0)
    return out


def export_onnx(
    module,
    example_inputs: Sequence,
    path: str | Path,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_batch: bool = True,
    opset: int = 17,
    tolerance: float = 1e-3,
    check_inputs: Sequence[Sequence] | None = None,
    compare: Callable[[Sequence[np.ndarray], Sequence[np.ndarray]], Sequence[float]] = max_abs_diff,
    dynamic_axes: dict[str, dict[int, str]] | None = None,
) -> ExportReport:
    """Export ``module`` to a single-file ONNX model and check it against PyTorch.

    The TorchScript-based exporter is used: it writes one self-contained file (the dynamo
    exporter puts weights in a side ``.data`` file) and handles the detection graphs here.
    Parity runs ONNX Runtime on ``check_inputs`` (default: the example) and raises
    ``RuntimeFailure`` (code 4001) when any output differs by more than ``tolerance``.
    ``compare(ref_outputs, onnx_outputs)`` returns one difference per output; override it
    for outputs whose order is not unique (e.g. top-k among tied scores). ``dynamic_axes``
    (input/output name -> {axis: name}) replaces the default of a dynamic batch axis 0.
    """
    import torch

    from .session import OrtSession

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = module.eval()
    axes = {n: {0: "batch"} for n in [*input_names, *output_names]} if dynamic_batch else None
    if dynamic_axes is not None:
        axes = dynamic_axes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            tuple(example_inputs),
            str(path),
            input_names=list(input_names),
            output_names=list(output_names),
            dynamic_axes=axes,
            opset_version=opset,
            dynamo=False,
        )
    session = OrtSession(path, threads=2)
    per_output: dict[str, float] = {n: 0.0 for n in output_names}
    for inputs in check_inputs or [example_inputs]:
        with torch.no_grad():
            ref = module(*inputs)
        ref = ref if isinstance(ref, (tuple, list)) else (ref,)
        got = session.run({n: t.detach().cpu().numpy() for n, t in zip(input_names, inputs)})
        diffs = compare([r.detach().cpu().numpy() for r in ref], got)
        for name, diff in zip(output_names, diffs):
            per_output[name] = max(per_output[name], float(diff))
    worst = max(per_output.values()) if per_output else 0.0
    report = ExportReport(str(path), worst, per_output, tolerance, opset)
    if not worst <= tolerance:
        raise RuntimeFailure(
            ErrorCode.EXPORT_PARITY,
            f"ONNX output differs from PyTorch by {worst:.3g} (tolerance {tolerance:g})",
            value=per_output,
            hint="check for data-dependent control flow or unsupported ops in the model",
        )
    return report
