"""ONNX export with a parity check against PyTorch.

Example:
    >>> from deepseek_apps.core.runtime.export import export_onnx
    >>> report = export_onnx(model, (example,), "model.onnx", ["x"], ["y"])  # doctest: +SKIP
    >>> report.max_abs_diff < 1e-4  # doctest: +SKIP
    True
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ...errors import ErrorCode, RuntimeFailure

log = logging.getLogger(__name__)


@dataclass
class ExportReport:
    path: str
    max_abs_diff: float
    per_output: dict[str, float]
    tolerance: float
    opset: int
    static_reshapes: int = 0  # Reshape targets made constant (see ``static_reshapes``)

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


def _prune_dead_nodes(graph) -> None:
    """Drop nodes (and initializers) whose outputs nothing reads."""
    needed = {o.name for o in graph.output}
    keep = []
    for node in reversed(graph.node):
        if any(o in needed for o in node.output):
            keep.append(node)
            needed.update(i for i in node.input if i)
            for attr in node.attribute:  # subgraphs (If / Loop) read outer names too
                for sub in [attr.g, *attr.graphs]:
                    needed.update(i for n in sub.node for i in n.input)
    del graph.node[:]
    graph.node.extend(reversed(keep))
    unused = [t for t in graph.initializer if t.name not in needed]
    for t in unused:
        graph.initializer.remove(t)


def _symbolic_shapes(model):
    """ONNX Runtime's symbolic shape inference, keeping what it proved when it cannot prove everything.

    ``SymbolicShapeInference.infer_shapes`` raises on an incomplete result (any contrib op or
    data-dependent shape) after dumping the model, with external data, into the working
    directory; its steps are run here instead. Every shape it records is proved (no
    ``auto_merge`` guesses); tensors it could not infer are simply absent.
    """
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    inference = SymbolicShapeInference(2**31 - 1, False, False, 0)
    inference._preprocess(model)
    while inference.run_:
        inference._infer_impl()
    inference._update_output_from_vi()
    return inference.out_mp_


def static_reshapes(path: str | Path) -> int:
    """Give every Reshape whose target is computed at run time a constant target, in place.

    The TorchScript exporter writes ``x.view(n, ...)`` under a dynamic batch as
    ``Shape -> Gather -> Unsqueeze -> Concat -> Reshape`` (the inspector's GroupNorms and
    FCOS head: 67 reshapes; constant targets made its INT8 graph 5% faster). Where symbolic shape inference
    proves that the output keeps the input's batch dimension and every other dimension is
    a number, the target becomes a constant with ``0`` ("copy this input dimension") for
    the batch, which is exact for every batch size. Reshapes it cannot prove stay as they
    are. Returns how many were rewritten; the shape arithmetic left unused is removed.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    try:
        inferred = _symbolic_shapes(model)
    except Exception as exc:  # an optimisation only: the exported graph is correct without it
        log.debug("symbolic shape inference failed (%s); reshapes left dynamic", exc)
        return 0
    shapes = {}
    graph = inferred.graph
    for info in [*graph.value_info, *graph.input, *graph.output]:
        dims = info.type.tensor_type.shape.dim
        shapes[info.name] = [d.dim_param if d.HasField("dim_param") else d.dim_value or None for d in dims]
    constants = {t.name for t in model.graph.initializer}
    rewritten = 0
    for node in model.graph.node:
        if node.op_type != "Reshape" or node.input[1] in constants:
            continue
        if any(a.name == "allowzero" and a.i for a in node.attribute):
            continue
        src, dst = shapes.get(node.input[0]), shapes.get(node.output[0])
        if not src or not dst or any(not isinstance(d, int) or d <= 0 for d in dst[1:]):
            continue
        if isinstance(dst[0], int) and dst[0] > 0:
            target = dst
        elif isinstance(dst[0], str) and dst[0] == src[0]:
            target = [0, *dst[1:]]
        else:
            continue
        name = f"{node.output[0]}__static_shape"
        model.graph.initializer.append(numpy_helper.from_array(np.asarray(target, dtype=np.int64), name))
        node.input[1] = name
        rewritten += 1
    if rewritten:
        _prune_dead_nodes(model.graph)
        onnx.save(model, str(path))
    return rewritten


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
    Reshapes whose target the exporter computes from run-time shapes get constant targets
    (``static_reshapes``) before the parity check.
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
    made_static = static_reshapes(path)
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
    report = ExportReport(str(path), worst, per_output, tolerance, opset, made_static)
    if not worst <= tolerance:
        raise RuntimeFailure(
            ErrorCode.EXPORT_PARITY,
            f"ONNX output differs from PyTorch by {worst:.3g} (tolerance {tolerance:g})",
            value=per_output,
            hint="check for data-dependent control flow or unsupported ops in the model",
        )
    return report
