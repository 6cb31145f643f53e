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
    >>> net = nn.Sequential(nn.Conv2d(3, 32, 3), nn.ReLU(), nn.Flatten(), nn.Linear(32 * 36, 4))
    >>> result = prune(net, torch.zeros(1, 3, 8, 8), ratio=0.5)
    >>> net[0].out_channels
    16
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import torch
from torch import nn

from ...errors import ErrorCode, InvalidInputError, ModelFormatError, require

IMPORTANCES = ("magnitude", "taylor", "lamp")
PLAN_FILE = "pruning_plan.json"
WEIGHTS_FILE = "model.safetensors"
_MAX_RATIO = 0.9  # target_macs: never remove more than this share of a layer's channels
_MAC_STEP = 0.02  # target_macs: ratio increment per step once near the estimate


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
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "model"}
        ratios = {"param_ratio": self.params_after / max(self.params_before, 1)}
        return {**data, **ratios, "mac_ratio": self.macs_after / max(self.macs_before, 1)}


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
        round_to: kept channel counts are rounded to the nearest multiple of this (8 suits
            SIMD and tensor cores); None for any count.
        iterative_steps: reach ``ratio`` in this many steps, re-ranking channels after each
            (``target_macs`` picks its own steps).
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
    with torch.no_grad():
        shapes_before = _output_shapes(_run(model.eval(), inputs, forward_fn))
    params_before, macs_before = _count(tp, model, inputs, forward_fn)
    target = None if target_macs is None else _target(target_macs, macs_before)
    ignored = list(ignored_layers) + _auto_ignored(model, shapes_before)
    with torch.enable_grad():  # Torch-Pruning traces the graph through autograd
        pruner, steps = _make_pruner(
            tp, model, inputs, ratio, target, macs_before, ignored, importance, round_to, iterative_steps, forward_fn
        )
        plan: list[dict[str, Any]] = []
        for _ in range(steps):
            if importance == "taylor":
                model.zero_grad()
                loss_fn(model).backward()
            for group in pruner.step(interactive=True):
                if len(group[0].idxs):
                    plan.append(_record(pruner.DG, group))
                    group.prune()
            if target is not None and _count(tp, model, inputs, forward_fn)[1] <= target:
                break
    if importance == "taylor":
        model.zero_grad(set_to_none=True)
    model.train(was_training)
    _check_forward(model, inputs, forward_fn, shapes_before)
    params_after, macs_after = _count(tp, model, inputs, forward_fn)
    if target is not None and macs_after > target:
        raise _bad(
            f"target_macs={target_macs} is out of reach: removing {_MAX_RATIO:.0%} of every prunable "
            f"layer leaves {macs_after:,} MACs (the model was pruned that far in place)",
            target_macs,
            f"ask for at least {macs_after:,} MACs, or ignore fewer layers",
        )
    if not plan:
        warnings.warn(f"prune: no channel removed (ratio={ratio}, round_to={round_to})", stacklevel=2)
    return PruneResult(model, params_before, params_after, macs_before, macs_after, plan, _input_spec(inputs))


def _bad(message: str, value: Any, hint: str) -> InvalidInputError:
    return InvalidInputError(ErrorCode.INVALID_ARGUMENT, message, value=value, hint=hint)


def _unsupported(message: str, value: Any, hint: str) -> ModelFormatError:
    return ModelFormatError(ErrorCode.UNSUPPORTED_FORMAT, message, value=value, hint=hint)


def _target(target_macs: float, macs_before: int) -> float:
    target = target_macs * macs_before if target_macs < 1 else target_macs
    if target >= macs_before:
        message = f"target_macs={target_macs} is not below the model's {macs_before:,} MACs"
        raise _bad(message, target_macs, "ask for fewer MACs, or a fraction in (0, 1) of the original")
    return target


def _make_pruner(tp, model, inputs, ratio, target, macs_before, ignored, importance, round_to, steps, forward_fn):
    """The Torch-Pruning pruner and its number of steps (for a MAC target: jump close, then creep)."""
    schedule = {}
    if target is not None:  # MACs shrink about as (1 - r)^2: start at 90% of that ratio, then +2% a step
        start = min(_MAX_RATIO, 0.9 * (1 - math.sqrt(target / macs_before)))
        steps = 1 + math.ceil((_MAX_RATIO - start) / _MAC_STEP)
        schedule = {"iterative_pruning_ratio_scheduler": _schedule(start / _MAX_RATIO)}
    try:
        pruner = _pruner_type(tp)(
            model,
            inputs,
            importance=_importance(tp, importance),
            pruning_ratio=ratio if ratio is not None else _MAX_RATIO,
            iterative_steps=steps,
            ignored_layers=ignored,
            round_to=round_to if round_to and round_to > 1 else None,
            forward_fn=forward_fn,
            **schedule,
        )
    except (AssertionError, RuntimeError, ValueError, KeyError) as exc:
        name = type(model).__name__
        hint = "pass forward_fn if the model is not called as model(*example_inputs)"
        raise _unsupported(f"Torch-Pruning cannot trace {name}: {exc!r}", name, hint) from exc
    _check_prunable(model, pruner)
    return pruner, steps


def _schedule(first: float) -> Callable[[float, int], list[float]]:
    """Torch-Pruning ratio scheduler: step 1 prunes ``first * ratio``, then linearly up to ``ratio``."""

    def schedule(ratio: float, steps: int) -> list[float]:
        return [0.0] + [ratio * (first + (1 - first) * k / max(steps - 1, 1)) for k in range(steps)]

    return schedule


def _check_args(ratio, target_macs, importance, iterative_steps, round_to, loss_fn) -> None:
    if (ratio is None) == (target_macs is None):
        raise _bad("give exactly one of ratio and target_macs", (ratio, target_macs), "e.g. ratio=0.5")
    if ratio is not None and not 0 < ratio < 1:
        raise _bad(f"ratio must be in (0, 1), got {ratio}", ratio, "e.g. 0.3 removes 30% of each layer's channels")
    if target_macs is not None and not target_macs > 0:
        raise _bad(f"target_macs must be > 0, got {target_macs}", target_macs, "an absolute count or a fraction")
    if importance not in IMPORTANCES:
        raise _bad(f"unknown importance '{importance}'", importance, f"use one of: {', '.join(IMPORTANCES)}")
    if importance == "taylor" and loss_fn is None:
        raise _bad("importance='taylor' needs gradients", importance, "pass loss_fn=lambda m: loss on a batch")
    if iterative_steps < 1:
        raise _bad(f"iterative_steps must be >= 1, got {iterative_steps}", iterative_steps, "use 1 or more")
    if round_to is not None and round_to < 1:
        raise _bad(f"round_to must be >= 1, got {round_to}", round_to, "use None, 1 or e.g. 8")


def _pruner_type(tp) -> type:
    class NearestRoundPruner(tp.pruner.BasePruner):
        """Rounds kept channels to the *nearest* multiple of ``round_to`` (Torch-Pruning floors them,
        which halves a 16-channel layer at any ratio)."""

        def _round_to(self, n_pruned: int, current_channels: int, round_to: int) -> int:
            kept = max(round_to, round((current_channels - n_pruned) / round_to) * round_to)
            return max(current_channels - kept, 0)

    return NearestRoundPruner


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

    def forward(self, *args, **kwargs):
        return self.forward_fn(self.model, kwargs or args)


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
        raise _unsupported(
            f"layer '{layer}' ({kind}) holds parameters Torch-Pruning cannot prune: {names}",
            layer,
            "use standard nn layers (Conv/Linear/norms) there, or Torch-Pruning's customized_pruners",
        )
    if pruner.initial_total_channels == 0:
        raise _unsupported(
            f"nothing to prune in {type(model).__name__}: no Conv/Linear layer outside ignored_layers",
            type(model).__name__,
            "check ignored_layers; only convolutions, linear layers and LSTMs are pruned",
        )


def _record(graph, group) -> dict[str, Any]:
    dep, idxs = group[0].dep, list(group[0].idxs)
    module, is_out = dep.target.module, graph.is_out_channel_pruning_fn(dep.handler)
    channels = graph.get_out_channels(module) if is_out else graph.get_in_channels(module)
    removed = set(int(i) for i in idxs)
    keep = [i for i in range(channels) if i not in removed]
    return {"module": graph._module2name[module], "out": is_out, "channels": channels, "keep": keep}


def _check_forward(model: nn.Module, inputs: Any, forward_fn, shapes_before: list[tuple[int, ...]]) -> None:
    entered: list[str] = []
    hooks = [m.register_forward_pre_hook(lambda *_, n=n: entered.append(n)) for n, m in model.named_modules() if n]
    try:
        with torch.no_grad():
            shapes = _output_shapes(_run(model, inputs, forward_fn))
    except Exception as exc:
        layer = entered[-1] if entered else type(model).__name__
        raise _unsupported(
            f"the pruned model fails at layer '{layer}': {exc}",
            layer,
            "Torch-Pruning could not follow this part of the graph; add the layer to ignored_layers",
        ) from exc
    finally:
        for hook in hooks:
            hook.remove()
    if shapes != shapes_before:
        raise _unsupported(
            f"pruning changed the output shapes from {shapes_before} to {shapes}",
            shapes,
            "add the layers that produce the outputs (classifier, detection-head convs) to ignored_layers",
        )


def _input_spec(inputs: Any) -> list[dict[str, Any]]:
    items = list(inputs.items() if isinstance(inputs, dict) else enumerate(inputs))
    if not all(isinstance(t, torch.Tensor) for _, t in items):
        return []
    return [{"name": k, "shape": list(t.shape), "dtype": str(t.dtype).removeprefix("torch.")} for k, t in items]
