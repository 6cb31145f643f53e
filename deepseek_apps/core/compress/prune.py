"""Structured pruning that really removes channels, built on Torch-Pruning's dependency graph.

Coupled layers (residual adds, concatenations, depthwise convs, norms) are pruned together,
so the pruned model is an ordinary, smaller ``nn.Module``. Every pruning step is recorded as
a JSON plan (module name + kept output-channel indices), so a pruned model is saved as
``model.safetensors`` + ``pruning_plan.json`` and rebuilt from its original architecture
without pickles.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from deepseek_apps.core.compress.prune import prune
    >>> net = nn.Sequential(nn.Conv2d(3, 32, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(4))
    >>> _ = net(torch.zeros(1, 3, 8, 8))
    >>> result = prune(net, torch.zeros(1, 3, 8, 8), ratio=0.5)
    >>> net[0].out_channels
    16
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ...errors import ErrorCode, InvalidInputError, MissingResourceError, ModelFormatError, require

IMPORTANCES = ("magnitude", "taylor", "lamp")
PLAN_FILE = "pruning_plan.json"
WEIGHTS_FILE = "model.safetensors"
_MAX_RATIO = 0.9  # target_macs: the pruner never removes more than this share of a layer's channels
_MAC_STEPS = 45  # target_macs: ratio grows by _MAX_RATIO / _MAC_STEPS per step (2%)


@dataclass
class PruneResult:
    """What ``prune`` did. ``plan`` lists the steps in order: module, channels before, kept indices."""

    model: nn.Module
    params_before: int
    params_after: int
    macs_before: int
    macs_after: int
    plan: list[dict[str, Any]] = field(default_factory=list)
    inputs: list[dict[str, Any]] = field(default_factory=list)  # shapes/dtypes of the example inputs

    def to_dict(self) -> dict[str, Any]:
        """Everything but the model, JSON-able."""
        return {
            "params_before": self.params_before,
            "params_after": self.params_after,
            "macs_before": self.macs_before,
            "macs_after": self.macs_after,
            "param_ratio": self.params_after / max(self.params_before, 1),
            "mac_ratio": self.macs_after / max(self.macs_before, 1),
            "plan": self.plan,
            "inputs": self.inputs,
        }


def prune(
    model: nn.Module,
    example_inputs: Any,
    ratio: float | None = None,
    target_macs: float | None = None,
    ignored_layers: Sequence[nn.Module] = (),
    importance: str = "magnitude",
    round_to: int | None = 8,
    iterative_steps: int = 1,
    forward_fn: Callable[[nn.Module, Any], Any] | None = None,
    loss_fn: Callable[[nn.Module], torch.Tensor] | None = None,
) -> PruneResult:
    """Remove output channels of every prunable layer, in place, and return the smaller model.

    Args:
        model: the model; modified in place (deep-copy it first to keep the original).
        example_inputs: a tensor, tuple of tensors or dict, used to trace the graph and count MACs.
        ratio: share of channels removed from every prunable layer, in (0, 1).
        target_macs: instead of ``ratio``: prune step by step until MACs <= target; an absolute
            count, or a float in (0, 1) meaning that fraction of the original MACs.
        ignored_layers: layers whose output channels are kept (detection-head output convs).
            When the model returns one tensor, every ``nn.Linear`` whose ``out_features`` equals
            its last dimension (a classifier's final layer) is added automatically.
        importance: ``magnitude`` (L2 of weights), ``taylor`` (weight x gradient; needs
            ``loss_fn``) or ``lamp``.
        round_to: keep channel counts multiples of this (8 suits SIMD/tensor cores); None for any.
        iterative_steps: reach ``ratio`` in this many steps, re-ranking channels after each.
        forward_fn: ``(model, example_inputs) -> outputs`` when ``model(*inputs)`` is not the call.
        loss_fn: ``model -> scalar loss`` on a calibration batch; backpropagated before each step.

    Raises:
        InvalidInputError: bad ratio/target_macs/importance/steps, or an unreachable target.
        ModelFormatError: nothing prunable, a layer Torch-Pruning cannot handle, or a pruned
            model that no longer runs or changed its output shapes.

    Example:
        >>> result = prune(model, torch.zeros(1, 3, 32, 32), ratio=0.3)  # doctest: +SKIP
        >>> result.macs_after / result.macs_before  # doctest: +SKIP
        0.49
    """
    tp = require("torch_pruning", "compress")
    _check_args(ratio, target_macs, importance, iterative_steps, round_to, loss_fn)
    inputs = (example_inputs,) if isinstance(example_inputs, torch.Tensor) else example_inputs
    was_training = model.training
    model.eval()
    with torch.no_grad():
        shapes_before = _output_shapes(_run(model, inputs, forward_fn))
    params_before, macs_before = _count(tp, model, inputs, forward_fn)
    if target_macs is not None:
        target = target_macs * macs_before if target_macs < 1 else target_macs
        if target >= macs_before:
            raise InvalidInputError(
                ErrorCode.INVALID_ARGUMENT,
                f"target_macs={target_macs} is not below the model's {macs_before:,} MACs",
                value=target_macs,
                hint="ask for fewer MACs, or a fraction in (0, 1) of the original",
            )
    ignored = list(ignored_layers) + _auto_ignored(model, shapes_before)
    steps = iterative_steps if ratio is not None else max(iterative_steps, _MAC_STEPS)
    pruner = tp.pruner.BasePruner(
        model,
        inputs,
        importance=_importance(tp, importance),
        pruning_ratio=ratio if ratio is not None else _MAX_RATIO,
        iterative_steps=steps,
        ignored_layers=ignored,
        round_to=round_to if round_to and round_to > 1 else None,
        forward_fn=forward_fn,
    )
    _check_prunable(model, pruner)
    plan: list[dict[str, Any]] = []
    macs = macs_before
    for _ in range(steps):
        if importance == "taylor":
            model.zero_grad()
            loss_fn(model).backward()
        for group in pruner.step(interactive=True):
            plan.append(_record(pruner.DG, group))
            group.prune()
        if target_macs is not None:
            macs = _count(tp, model, inputs, forward_fn)[1]
            if macs <= target:
                break
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    _check_forward(model, inputs, forward_fn, shapes_before)
    params_after, macs_after = _count(tp, model, inputs, forward_fn)
    if target_macs is not None and macs_after > target:
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            f"target_macs={target_macs} is out of reach: removing {_MAX_RATIO:.0%} of every prunable "
            f"layer leaves {macs_after:,} MACs (the model was pruned that far in place)",
            value=target_macs,
            hint=f"ask for at least {macs_after:,} MACs, or ignore fewer layers",
        )
    if not plan:
        warnings.warn(f"prune: no channel removed (ratio={ratio}, round_to={round_to}); layers too narrow", stacklevel=2)
    return PruneResult(model, params_before, params_after, macs_before, macs_after, plan, _input_spec(inputs))


def save_pruned(result_or_model: PruneResult | nn.Module, plan: list[dict] | None, path_dir: str | Path) -> Path:
    """Write ``model.safetensors`` and ``pruning_plan.json`` (``plan`` defaults to the result's).

    Example:
        >>> save_pruned(result, result.plan, "runs/pruned")  # doctest: +SKIP
    """
    from safetensors.torch import save_model

    model = result_or_model.model if isinstance(result_or_model, PruneResult) else result_or_model
    spec = result_or_model.inputs if isinstance(result_or_model, PruneResult) else []
    if plan is None:
        if not isinstance(result_or_model, PruneResult):
            raise InvalidInputError(
                ErrorCode.INVALID_ARGUMENT, "plan is None", value=type(model).__name__, hint="pass result.plan"
            )
        plan = result_or_model.plan
    out = Path(path_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = {"format": "deepseek_apps.pruning_plan", "version": 1, "inputs": spec, "steps": plan}
    (out / PLAN_FILE).write_text(json.dumps(doc, indent=1))
    save_model(model, str(out / WEIGHTS_FILE))
    return out


def load_pruned(
    build_fn: Callable[[], nn.Module],
    path_dir: str | Path,
    example_inputs: Any = None,
    forward_fn: Callable[[nn.Module, Any], Any] | None = None,
) -> nn.Module:
    """Build the original architecture, replay the pruning plan, then load the weights.

    Args:
        build_fn: builds the unpruned architecture (random weights are fine).
        path_dir: folder written by ``save_pruned``.
        example_inputs: inputs to trace the graph; default: random tensors of the recorded shapes.
        forward_fn: the same ``forward_fn`` given to ``prune``, if any.

    Example:
        >>> model = load_pruned(lambda: MyNet(), "runs/pruned")  # doctest: +SKIP
    """
    tp = require("torch_pruning", "compress")
    from safetensors.torch import load_model

    folder = Path(path_dir)
    for name in (PLAN_FILE, WEIGHTS_FILE):
        if not (folder / name).is_file():
            raise MissingResourceError(
                ErrorCode.FILE_NOT_FOUND, f"{name} not found", value=str(folder / name), hint="write it with save_pruned"
            )
    doc = json.loads((folder / PLAN_FILE).read_text())
    model = build_fn().eval()
    inputs = _inputs_from_spec(doc.get("inputs", [])) if example_inputs is None else example_inputs
    if not inputs:
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            "the plan records no example input shapes",
            value=str(folder / PLAN_FILE),
            hint="pass example_inputs to load_pruned",
        )
    inputs = (inputs,) if isinstance(inputs, torch.Tensor) else inputs
    graph = tp.DependencyGraph().build_dependency(model, example_inputs=inputs, forward_fn=forward_fn)
    for step in doc["steps"]:
        _replay(graph, model, step, folder)
    try:
        load_model(model, str(folder / WEIGHTS_FILE), strict=True)
    except RuntimeError as exc:
        raise ModelFormatError(
            ErrorCode.CHECKPOINT_INVALID,
            f"weights do not fit the replayed architecture: {exc}",
            value=str(folder / WEIGHTS_FILE),
            hint="save the weights and plan together with save_pruned",
        ) from exc
    return model


def _check_args(ratio, target_macs, importance, iterative_steps, round_to, loss_fn) -> None:
    def bad(message: str, value: Any, hint: str) -> InvalidInputError:
        return InvalidInputError(ErrorCode.INVALID_ARGUMENT, message, value=value, hint=hint)

    if (ratio is None) == (target_macs is None):
        raise bad("give exactly one of ratio and target_macs", (ratio, target_macs), "e.g. ratio=0.5")
    if ratio is not None and not 0 < ratio < 1:
        raise bad(f"ratio must be in (0, 1), got {ratio}", ratio, "e.g. 0.3 removes 30% of each layer's channels")
    if target_macs is not None and not target_macs > 0:
        raise bad(f"target_macs must be > 0, got {target_macs}", target_macs, "an absolute count or a fraction")
    if importance not in IMPORTANCES:
        raise bad(f"unknown importance '{importance}'", importance, f"use one of: {', '.join(IMPORTANCES)}")
    if importance == "taylor" and loss_fn is None:
        raise bad("importance='taylor' needs gradients", importance, "pass loss_fn=lambda m: loss on a batch")
    if iterative_steps < 1:
        raise bad(f"iterative_steps must be >= 1, got {iterative_steps}", iterative_steps, "use 1 or more")
    if round_to is not None and round_to < 1:
        raise bad(f"round_to must be >= 1, got {round_to}", round_to, "use None, 1 or e.g. 8")


def _importance(tp, name: str):
    imp = tp.importance
    return {"magnitude": imp.MagnitudeImportance, "taylor": imp.TaylorImportance, "lamp": imp.LAMPImportance}[name]()


def _run(model: nn.Module, inputs: Any, forward_fn) -> Any:
    if forward_fn is not None:
        return forward_fn(model, inputs)
    return model(**inputs) if isinstance(inputs, dict) else model(*inputs)


class _Forward(nn.Module):
    """Makes ``forward_fn`` callable as ``module(*inputs)`` for the MAC counter."""

    def __init__(self, model: nn.Module, forward_fn):
        super().__init__()
        self.model, self.forward_fn = model, forward_fn

    def forward(self, *inputs):
        return self.forward_fn(self.model, inputs)


def _count(tp, model: nn.Module, inputs: Any, forward_fn) -> tuple[int, int]:
    counted = model if forward_fn is None else _Forward(model, forward_fn)
    with torch.no_grad():
        macs, _ = tp.utils.count_ops_and_params(counted, inputs)
    return sum(p.numel() for p in model.parameters()), int(macs)


def _output_shapes(out: Any) -> list[tuple[int, ...]]:
    if isinstance(out, torch.Tensor):
        return [tuple(out.shape)]
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, list | tuple):
        return [s for o in out for s in _output_shapes(o)]
    return []


def _auto_ignored(model: nn.Module, shapes: list[tuple[int, ...]]) -> list[nn.Module]:
    """A single-tensor output of width C: every Linear with C outputs is a classifier head."""
    if len(shapes) != 1 or not shapes[0]:
        return []
    return [m for m in model.modules() if isinstance(m, nn.Linear) and m.out_features == shapes[0][-1]]


def _check_prunable(model: nn.Module, pruner) -> None:
    graph = pruner.DG
    if graph.unwrapped_parameters:
        names = [graph._param_to_name[p.parameters] for p in graph.unwrapped_parameters]
        layer = names[0].rsplit(".", 1)[0] if "." in names[0] else names[0]
        kind = type(model.get_submodule(layer)).__name__ if "." in names[0] else type(model).__name__
        raise ModelFormatError(
            ErrorCode.UNSUPPORTED_FORMAT,
            f"layer '{layer}' ({kind}) holds parameters Torch-Pruning cannot prune: {names}",
            value=layer,
            hint="use standard nn layers (Conv/Linear/norms) there, or prune with Torch-Pruning's customized_pruners",
        )
    if pruner.initial_total_channels == 0:
        raise ModelFormatError(
            ErrorCode.UNSUPPORTED_FORMAT,
            f"nothing to prune in {type(model).__name__}: no Conv/Linear layer outside ignored_layers",
            value=type(model).__name__,
            hint="check ignored_layers; only convolutions, linear layers and LSTMs are pruned",
        )


def _record(graph, group) -> dict[str, Any]:
    dep, idxs = group[0].dep, list(group[0].idxs)
    module, is_out = dep.target.module, graph.is_out_channel_pruning_fn(dep.handler)
    channels = graph.get_out_channels(module) if is_out else graph.get_in_channels(module)
    removed = set(int(i) for i in idxs)
    keep = [i for i in range(channels) if i not in removed]
    return {"module": graph._module2name[module], "out": is_out, "channels": channels, "keep": keep}


def _replay(graph, model: nn.Module, step: dict[str, Any], folder: Path) -> None:
    try:
        module = model.get_submodule(step["module"])
    except AttributeError as exc:
        raise ModelFormatError(
            ErrorCode.CHECKPOINT_INVALID,
            f"pruning plan names layer '{step['module']}' which build_fn's model lacks",
            value=step["module"],
            hint=f"build the architecture {folder / PLAN_FILE} was made for",
        ) from exc
    pruner = graph.get_pruner_of_module(module)
    fn = pruner.prune_out_channels if step.get("out", True) else pruner.prune_in_channels
    channels = graph.get_out_channels(module) if step.get("out", True) else graph.get_in_channels(module)
    if channels != step["channels"]:
        raise ModelFormatError(
            ErrorCode.CHECKPOINT_INVALID,
            f"layer '{step['module']}' has {channels} channels where the plan expects {step['channels']}",
            value=step["module"],
            hint=f"build the architecture {folder / PLAN_FILE} was made for",
        )
    keep = set(step["keep"])
    graph.get_pruning_group(module, fn, [i for i in range(channels) if i not in keep]).prune()


def _check_forward(model: nn.Module, inputs: Any, forward_fn, shapes_before: list[tuple[int, ...]]) -> None:
    entered: list[str] = []
    hooks = [m.register_forward_pre_hook(lambda *_, n=n: entered.append(n)) for n, m in model.named_modules() if n]
    try:
        with torch.no_grad():
            shapes = _output_shapes(_run(model, inputs, forward_fn))
    except Exception as exc:
        layer = entered[-1] if entered else type(model).__name__
        raise ModelFormatError(
            ErrorCode.UNSUPPORTED_FORMAT,
            f"the pruned model fails at layer '{layer}': {exc}",
            value=layer,
            hint="Torch-Pruning could not follow this part of the graph; add the layer to ignored_layers",
        ) from exc
    finally:
        for hook in hooks:
            hook.remove()
    if shapes != shapes_before:
        raise ModelFormatError(
            ErrorCode.UNSUPPORTED_FORMAT,
            f"pruning changed the output shapes from {shapes_before} to {shapes}",
            value=shapes,
            hint="add the layers that produce the outputs (classifier, detection-head convs) to ignored_layers",
        )


def _input_spec(inputs: Any) -> list[dict[str, Any]]:
    items = inputs.items() if isinstance(inputs, dict) else enumerate(inputs)
    if not all(isinstance(t, torch.Tensor) for _, t in items):
        return []
    items = inputs.items() if isinstance(inputs, dict) else enumerate(inputs)
    return [{"name": k, "shape": list(t.shape), "dtype": str(t.dtype).removeprefix("torch.")} for k, t in items]


def _inputs_from_spec(spec: list[dict[str, Any]]) -> Any:
    gen = torch.Generator().manual_seed(0)
    tensors = {}
    for item in spec:
        dtype = getattr(torch, item["dtype"])
        shape = item["shape"]
        tensors[item["name"]] = (
            torch.rand(shape, generator=gen).to(dtype) if dtype.is_floating_point else torch.zeros(shape, dtype=dtype)
        )
    if spec and all(isinstance(item["name"], str) for item in spec):
        return tensors
    return tuple(tensors.values())
