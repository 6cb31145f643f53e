"""``optimize``: one pipeline from a PyTorch model to a small, fast ONNX model, with a report.

Levels:
    0. FP32 ONNX, parity-checked against PyTorch.
    1. Level 0 with ONNX Runtime's offline graph optimisations (fusions) saved into the file.
    2. INT8 static QDQ with the mixed-precision plan under the accuracy budget.
    3. Structured pruning + fine-tuning (with distillation from the unpruned model), then level 2.

The pipeline is app-agnostic: an app describes its model as an ``OptimizeTarget`` (the
inference graph, example inputs, calibration batches and a metric), and gets back the ONNX
bytes and a ``CompressionReport``. If the metric drops past the budget, level 3 backs off
(prunes less) and level 2 keeps more layers in FP32; the report says so.

Example:
    >>> from deepseek_apps.core.compress.pipeline import optimize
    >>> onnx_bytes, report = optimize(target, level=2, max_accuracy_drop=1.0)  # doctest: +SKIP
    >>> print(report.table())  # doctest: +SKIP
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ErrorCode, InvalidInputError


@dataclass
class OptimizeTarget:
    """What ``optimize`` needs to know about a model, whatever the app.

    Attributes:
        module: the inference graph to export (inputs -> outputs, pre/post-processing inside).
        example_inputs: a tuple of tensors for export and MAC counting.
        input_names / output_names: ONNX names.
        calibration: batches ``{input_name: array}`` of typical inputs (INT8 calibration).
        evaluate: metric of an ONNX file, higher is better, in points (e.g. mAP x 100).
        metric_name: how the report calls the metric.
        prunable: the ``nn.Module`` that pruning changes (defaults to ``module``).
        rebuild: ``prunable -> module`` after pruning (for graphs that wrap the prunable net).
        ignored_layers: modules pruning must keep whole (heads, classifiers).
        finetune: ``(student, teacher) -> None`` trains the pruned student in place.
        finetune_description: what ``finetune`` does, for the report.
        compare: parity measure for export (see ``export_onnx``).
        groupnorm_to_batchnorm: at level 3, replace the pruned net's GroupNorms with per-level
            BatchNorms before fine-tuning (``core.compress.norm``), so they fold into the INT8 convs;
            a ratio that misses the budget this way is tried again without the swap.
        norm_batches: batches ``{input_name: array}`` for BatchNorm statistics after that swap
            (default: ``calibration``).
    """

    module: Any
    example_inputs: tuple
    input_names: Sequence[str]
    output_names: Sequence[str]
    calibration: Sequence[dict[str, np.ndarray]]
    evaluate: Callable[[Path], float]
    metric_name: str = "metric"
    prunable: Any = None
    rebuild: Callable[[Any], Any] | None = None
    ignored_layers: Sequence[Any] = ()
    finetune: Callable[[Any, Any], None] | None = None
    compare: Callable | None = None
    finetune_description: str = "fine-tuning the pruned model"
    groupnorm_to_batchnorm: bool = False
    norm_batches: Sequence[dict[str, np.ndarray]] | None = None


@dataclass
class StepRecord:
    step: str
    detail: str
    metric: float | None = None


@dataclass
class VariantMeasure:
    name: str
    params: int
    macs: int
    file_mb: float
    p50_ms_b1: float
    p99_ms_b1: float
    throughput_b16: float
    metric: float


@dataclass
class CompressionReport:
    """What each step did and what the result costs and gains, next to the FP32 baseline."""

    level: int
    metric_name: str
    max_accuracy_drop: float
    baseline: VariantMeasure
    result: VariantMeasure
    steps: list[StepRecord] = field(default_factory=list)
    layer_plan: dict[str, str] = field(default_factory=dict)
    within_budget: bool = True

    @property
    def speedup_b1(self) -> float:
        return self.baseline.p50_ms_b1 / self.result.p50_ms_b1

    @property
    def size_ratio(self) -> float:
        return self.baseline.file_mb / self.result.file_mb

    @property
    def metric_drop(self) -> float:
        return self.baseline.metric - self.result.metric

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(speedup_b1=self.speedup_b1, size_ratio=self.size_ratio, metric_drop=self.metric_drop)
        return out

    def table(self) -> str:
        head = f"| variant | params | MMACs | file MB | p50 ms b1 | p99 ms b1 | img/s b16 | {self.metric_name} |"
        rows = [head, "|---|---|---|---|---|---|---|---|"]
        for v in (self.baseline, self.result):
            rows.append(
                f"| {v.name} | {v.params:,} | {v.macs / 1e6:.0f} | {v.file_mb:.2f} | {v.p50_ms_b1:.2f} | "
                f"{v.p99_ms_b1:.2f} | {v.throughput_b16:.0f} | {v.metric:.2f} |"
            )
        rows.append(
            f"\nspeed-up x{self.speedup_b1:.2f} at batch 1, {self.size_ratio:.1f}x smaller, "
            f"{self.metric_name} drop {self.metric_drop:+.2f} (budget {self.max_accuracy_drop})"
        )
        return "\n".join(rows)


def count_params_macs(module: Any, example_inputs: tuple) -> tuple[int, int]:
    """Parameters and multiply-accumulates per sample (torch's FLOP counter / 2, batch of one)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    params = sum(p.numel() for p in module.parameters())
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(*(x[:1] for x in example_inputs))
    return params, counter.get_total_flops() // 2


def _latencies(name: str, run: Callable, target: OptimizeTarget, repeat: int):
    """``run`` timed at batch 1 and 16 on the target's first calibration batch (repeated to 16)."""
    from ..bench import measure

    first = target.calibration[0]
    one = {k: v[:1] for k, v in first.items()}
    sixteen = {k: np.concatenate([v] * (16 // len(v) + 1))[:16] for k, v in first.items()}
    b1 = measure(name, run, one, 1, repeat=repeat, warmup=10)
    b16 = measure(name, run, sixteen, 16, repeat=max(10, repeat // 8), warmup=3)
    return b1, b16


def measure_onnx(
    name: str,
    path: Path,
    target: OptimizeTarget,
    params: int,
    macs: int,
    repeat: int = 100,
    metric: float | None = None,
) -> VariantMeasure:
    """Latency (batch 1 and 16), size and metric of one ONNX variant."""
    from ..runtime.session import OrtSession

    b1, b16 = _latencies(name, OrtSession(path, threads=2).run, target, repeat)
    value = target.evaluate(path) if metric is None else metric
    return VariantMeasure(name, params, macs, path.stat().st_size / 1e6, b1.p50_ms, b1.p99_ms, b16.throughput, value)


def _openvino_check(path: Path, target: OptimizeTarget, ours: VariantMeasure, repeat: int) -> StepRecord | None:
    """Time the result on OpenVINO too, when it is installed: which runtime is faster depends on the CPU.

    On a CPU with AMX, OpenVINO runs INT8 QDQ convolutions on AMX tiles (ResNet-18 level 3:
    1.35 against 1.79 ms); elsewhere, and for small models at batch 1, ONNX Runtime usually
    wins. Only latency is compared: both run the same file, but their integer rounding can
    differ slightly, so the bundle's metrics are ONNX Runtime's.
    """
    import importlib.util

    if importlib.util.find_spec("openvino") is None:
        return None
    from ..runtime.session import OpenVinoSession

    try:
        session = OpenVinoSession(path, threads=2)
    except Exception as exc:  # a report line, not a failure: the ONNX Runtime result stands
        return StepRecord("runtime check", f"OpenVINO could not open the result ({type(exc).__name__}: {exc})")
    b1, b16 = _latencies("openvino", session.run, target, repeat)
    faster = "OpenVINO" if b1.p50_ms < ours.p50_ms_b1 else "ONNX Runtime"
    return StepRecord(
        "runtime check",
        f"OpenVINO on this CPU: {b1.p50_ms:.2f} ms at batch 1 (ONNX Runtime {ours.p50_ms_b1:.2f}), "
        f"{b16.throughput:.0f} img/s at batch 16 ({ours.throughput_b16:.0f}); faster at batch 1 here: {faster}",
    )


def save_ort_optimized(model_path: Path, out_path: Path) -> Path:
    """Run ONNX Runtime's extended graph optimisations once and save the fused graph."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    opts.optimized_model_filepath = str(out_path)
    ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])
    return out_path


def _export(target: OptimizeTarget, module: Any, path: Path):
    from ..runtime.export import export_onnx, max_abs_diff
    from .norm import LevelBatchNorm2d, fold_level_batchnorm

    if any(isinstance(m, LevelBatchNorm2d) for m in module.modules()):
        module = fold_level_batchnorm(module)  # one folded conv per pyramid level: no norm ops left
    return export_onnx(
        module,
        target.example_inputs,
        path,
        target.input_names,
        target.output_names,
        compare=target.compare or max_abs_diff,
        tolerance=1e-2,
    )


def _prune_and_finetune(target: OptimizeTarget, ratio: float, work: Path, steps: list[StepRecord], swap: bool = False):
    """Prune a copy of the prunable net at ``ratio``, fine-tune it, export; ``(graph, onnx path, prunable)``.

    ``swap``: GroupNorm -> per-level BatchNorm after pruning, exact statistics after fine-tuning.
    """
    import copy

    from .prune import prune

    prunable = copy.deepcopy(_teacher(target))
    ignored = _map_ignored(_teacher(target), prunable, target.ignored_layers)
    wrap = target.rebuild or (lambda m: m)
    result = prune(wrap(prunable), target.example_inputs, ratio=ratio, ignored_layers=ignored)
    steps.append(
        StepRecord(
            "prune",
            f"ratio {ratio}: params {result.params_before:,} -> {result.params_after:,}, "
            f"MACs {result.macs_before / 1e6:.0f}M -> {result.macs_after / 1e6:.0f}M",
        )
    )
    if swap:
        _swap_norms(target, prunable, wrap, steps)
    if target.finetune is not None:
        target.finetune(prunable, _teacher(target))
        steps.append(StepRecord("fine-tune", target.finetune_description))
    if swap:
        _precise_batchnorm(target, prunable, wrap, steps)
    module = wrap(prunable).eval()
    path = work / f"pruned_{ratio}{'_bn' if swap else ''}.onnx"
    _export(target, module, path)
    return module, path, prunable


def _torch_forward(target: OptimizeTarget, graph: Any) -> Callable[[dict[str, np.ndarray]], Any]:
    import torch

    return lambda batch: graph(*(torch.from_numpy(np.asarray(batch[n])) for n in target.input_names))


def _swap_norms(target: OptimizeTarget, prunable: Any, wrap: Callable, steps: list[StepRecord]) -> None:
    from .norm import groupnorm_to_batchnorm

    batches = list(target.norm_batches or target.calibration)
    count = groupnorm_to_batchnorm(prunable, _torch_forward(target, wrap(prunable)), batches)
    steps.append(
        StepRecord(
            "groupnorm -> batchnorm", f"{count} GroupNorm layers replaced by per-level BatchNorm (fold into INT8 convs)"
        )
    )


def _precise_batchnorm(target: OptimizeTarget, prunable: Any, wrap: Callable, steps: list[StepRecord]) -> None:
    from .norm import recompute_batchnorm_stats

    batches = list(target.norm_batches or target.calibration)
    count = recompute_batchnorm_stats(prunable, _torch_forward(target, wrap(prunable)), batches)
    images = sum(len(next(iter(b.values()))) for b in batches)
    steps.append(
        StepRecord("batchnorm statistics", f"{count} BatchNorm layers recomputed exactly over {images} inputs")
    )


def _teacher(target: OptimizeTarget) -> Any:
    return target.prunable if target.prunable is not None else target.module


def _quantization_aware(target: OptimizeTarget, prunable: Any, path: Path, steps: list[StepRecord]):
    """Fine-tune a copy of ``prunable`` with simulated INT8 rounding; export it next to ``path``."""
    import copy

    from .qat import fake_quantized

    student = copy.deepcopy(prunable)
    with fake_quantized(student):
        target.finetune(student, _teacher(target))
    module = (target.rebuild or (lambda m: m))(student).eval()
    out = path.with_name(path.stem + "_qat.onnx")
    _export(target, module, out)
    steps.append(StepRecord("quantization-aware fine-tune", f"{target.finetune_description}, with INT8 fake-quant"))
    return module, out, student


def _map_ignored(original: Any, copy_: Any, ignored: Sequence[Any]) -> list[Any]:
    names = {id(m): n for n, m in original.named_modules()}
    wanted = {names[id(m)] for m in ignored if id(m) in names}
    return [m for n, m in copy_.named_modules() if n in wanted]


class _StepLog(list):
    """A list of ``StepRecord`` that reports each appended step to a callback."""

    def __init__(self, callback: Callable[[StepRecord], None] | None):
        super().__init__()
        self._callback = callback

    def append(self, step: StepRecord) -> None:
        super().append(step)
        if self._callback is not None:
            self._callback(step)


def optimize(
    target: OptimizeTarget,
    level: int = 2,
    max_accuracy_drop: float = 1.0,
    prune_ratios: Sequence[float] = (0.5, 0.35, 0.2),
    method: str = "minmax",
    repeat: int = 100,
    progress: bool = True,
    on_step: Callable[[StepRecord], None] | None = None,
    qat: bool | None = None,
) -> tuple[bytes, CompressionReport]:
    """Optimise ``target`` to ``level`` (0-3) within ``max_accuracy_drop`` metric points.

    Level 3 tries each of ``prune_ratios`` in turn (most aggressive first): prune, fine-tune,
    quantize with the mixed-precision plan, and keep the first whose final metric fits the
    budget; if none does it says so and continues unpruned. ``qat``: quantization-aware
    fine-tuning when post-training INT8 misses the budget (``None``: whenever the target can
    fine-tune; ``True``: always; ``False``: never). ``on_step`` is called with each
    ``StepRecord`` as it completes (for progress displays).
    """
    _check_optimize_args(target, level, max_accuracy_drop, prune_ratios)
    with tempfile.TemporaryDirectory(prefix="dsa-optimize-") as work:  # removed on return and on error
        return _optimize_in(
            Path(work), target, level, max_accuracy_drop, prune_ratios, method, repeat, progress, on_step, qat
        )


def _optimize_in(
    work: Path,
    target: OptimizeTarget,
    level: int,
    max_accuracy_drop: float,
    prune_ratios: Sequence[float],
    method: str,
    repeat: int,
    progress: bool,
    on_step: Callable[[StepRecord], None] | None,
    qat: bool | None,
) -> tuple[bytes, CompressionReport]:
    """``optimize``'s steps, with every intermediate file in ``work``."""
    steps = _StepLog(on_step)
    params, macs = count_params_macs(target.module, target.example_inputs)
    report = _export(target, target.module, work / "fp32.onnx")
    steps.append(StepRecord("export", f"FP32 ONNX, parity max abs diff {report.max_abs_diff:.2g}"))
    baseline = measure_onnx("onnx-fp32", work / "fp32.onnx", target, params, macs, repeat)
    steps[-1].metric = baseline.metric
    module, current, prunable = target.module, work / "fp32.onnx", _teacher(target)
    final, mixed = current, None

    def quantize(path: Path, fp32_metric: float | None = None):
        return _int8(target, path, baseline.metric, max_accuracy_drop, method, progress, steps, fp32_metric)

    if level == 3:
        # with the GroupNorm swap, each ratio is tried with it first, then without it
        swaps = (True, False) if target.groupnorm_to_batchnorm else (False,)
        for ratio, swap in ((r, s) for r in prune_ratios for s in swaps):
            cand, cand_path, cand_prunable = _prune_and_finetune(target, ratio, work, steps, swap)
            drop = baseline.metric - target.evaluate(cand_path)
            steps[-1].metric = baseline.metric - drop
            if drop <= max_accuracy_drop:
                plan = quantize(cand_path, baseline.metric - drop)
                if baseline.metric - plan[0].metric <= max_accuracy_drop:
                    module, current, prunable, mixed = cand, cand_path, cand_prunable, plan
                    break
                drop = baseline.metric - plan[0].metric
            how = " with GroupNorm -> BatchNorm" if swap else ""
            steps.append(
                StepRecord("back off", f"ratio {ratio}{how} lost {drop:.2f} points (budget {max_accuracy_drop})")
            )
        else:
            steps.append(StepRecord("back off", "no pruning ratio met the budget; continuing unpruned"))
    if level >= 1:
        final = save_ort_optimized(current, work / "optimized.onnx")
        steps.append(StepRecord("graph optimisation", "ONNX Runtime extended fusions saved offline"))
    if level >= 2:
        if mixed is None:
            mixed = quantize(current, baseline.metric)  # current is the unpruned FP32 export here
        missed = baseline.metric - mixed[0].metric > max_accuracy_drop
        if target.finetune is not None and (qat or (qat is None and missed)):
            qat_module, qat_path, _ = _quantization_aware(target, prunable, current, steps)
            retry = quantize(qat_path)
            if retry[0].metric >= mixed[0].metric:
                mixed, module = retry, qat_module
            else:
                steps.append(StepRecord("back off", "quantization-aware fine-tune did not help; kept the PTQ model"))
        final = mixed[1]
    if level == 0:
        final = current
    p, m = count_params_macs(module, target.example_inputs)
    result = measure_onnx(f"level-{level}", final, target, p, m, repeat)
    runtime = _openvino_check(final, target, result, repeat)
    if runtime is not None:
        steps.append(runtime)
    out = CompressionReport(
        level,
        "metric" if not target.metric_name else target.metric_name,
        max_accuracy_drop,
        baseline,
        result,
        steps,
        mixed[0].layers if mixed is not None else {},
        baseline.metric - result.metric <= max_accuracy_drop,
    )
    return final.read_bytes(), out


def _int8(
    target: OptimizeTarget,
    path: Path,
    baseline: float,
    budget: float,
    method: str,
    progress: bool,
    steps,
    fp32_metric: float | None = None,
):
    """Static INT8 of ``path`` with the mixed-precision plan, so the total drop from ``baseline`` fits ``budget``.

    Writes ``<path>_int8.onnx``, records a step and returns ``(plan, written path)``.
    ``fp32_metric`` is ``path``'s own metric when the caller has measured it already.
    """
    from .mixed import plan_mixed_precision
    from .quantize import integer_kernel_coverage

    out = path.with_name(path.stem + "_int8.onnx")
    fp32_metric = target.evaluate(path) if fp32_metric is None else fp32_metric
    spent = baseline - fp32_metric  # what pruning / fine-tuning already cost
    mixed = plan_mixed_precision(
        path,
        out,
        target.calibration,
        target.evaluate,
        max_drop=max(0.0, budget - spent),
        method=method,
        progress=progress,
        max_fp32_layers=8,
        baseline_metric=fp32_metric,
    )
    kept = [n for n, p in mixed.layers.items() if p == "fp32"]
    fused = integer_kernel_coverage(out)
    steps.append(
        StepRecord(
            "int8",
            f"static QDQ per-channel ({method}) of {path.name}; {len(kept)} layer(s) kept in FP32; "
            f"{fused.integer} integer kernels, {fused.float_fed_by_dequantize} unfused, "
            f"{fused.requantize} float round trip(s) between them; "
            f"{mixed.metric - mixed.baseline_metric:+.2f} points against its FP32"
            + ("" if baseline - mixed.metric <= budget else "; budget NOT met, best plan kept"),
            mixed.metric,
        )
    )
    return mixed, out


def _check_optimize_args(target: OptimizeTarget, level: int, max_accuracy_drop: float, ratios) -> None:
    if level not in (0, 1, 2, 3):
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            "level must be 0, 1, 2 or 3",
            value=level,
            hint="0 FP32 ONNX, 1 graph-optimised, 2 INT8 mixed precision, 3 pruned + INT8",
        )
    if max_accuracy_drop < 0:
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            "max_accuracy_drop must be >= 0",
            value=max_accuracy_drop,
            hint="give the budget in metric points, e.g. 1.0",
        )
    bad = [r for r in ratios if not 0 < r < 1]
    if level == 3 and (bad or not ratios):
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            "prune_ratios must be fractions in (0, 1), most aggressive first",
            value=bad or list(ratios),
            hint="e.g. prune_ratios=(0.5, 0.35, 0.2)",
        )
    if not target.calibration:
        raise InvalidInputError(
            ErrorCode.DATASET_EMPTY, "calibration set is empty", value=0, hint="pass typical inputs as calib_data"
        )
