"""Saving and loading pruned models without pickles: safetensors + a replayable JSON plan.

Example:
    >>> from deepseek_apps.core.compress.prune_io import load_pruned, save_pruned
    >>> save_pruned(result, result.plan, "runs/pruned")  # doctest: +SKIP
    >>> model = load_pruned(lambda: MyNet(), "runs/pruned")  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ...errors import ErrorCode, MissingResourceError, ModelFormatError, require
from .prune import PLAN_FILE, WEIGHTS_FILE, PruneResult, _bad


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
            raise _bad("plan is None", type(model).__name__, "pass the plan of the PruneResult")
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
    """Build the original architecture, replay the pruning plan, load the weights; returns it in eval mode.

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
            hint = "write the folder with save_pruned"
            raise MissingResourceError(
                ErrorCode.FILE_NOT_FOUND, f"{name} not found", value=str(folder / name), hint=hint
            )
    try:
        doc = json.loads((folder / PLAN_FILE).read_text())
        steps = list(doc["steps"])
    except (ValueError, KeyError, TypeError) as exc:
        raise _mismatch(f"{PLAN_FILE} is not a pruning plan: {exc!r}", str(folder / PLAN_FILE), folder) from exc
    model = build_fn().eval()
    device = next(iter(model.parameters()), torch.empty(0)).device
    inputs = _inputs_from_spec(doc.get("inputs", []), device) if example_inputs is None else example_inputs
    if inputs is None or (isinstance(inputs, tuple | dict) and not inputs):
        raise _bad("the plan records no example input shapes", str(folder / PLAN_FILE), "pass example_inputs")
    inputs = (inputs,) if isinstance(inputs, torch.Tensor) else inputs
    with torch.enable_grad():
        graph = tp.DependencyGraph().build_dependency(model, example_inputs=inputs, forward_fn=forward_fn)
        for step in steps:
            _replay(graph, model, step, folder)
    try:
        load_model(model, str(folder / WEIGHTS_FILE), strict=True)
    except RuntimeError as exc:
        raise _mismatch(f"weights do not fit the replayed architecture: {exc}", WEIGHTS_FILE, folder) from exc
    return model


def _mismatch(message: str, value: Any, folder: Path) -> ModelFormatError:
    hint = f"build the architecture {folder / PLAN_FILE} was made for, and save weights with save_pruned"
    return ModelFormatError(ErrorCode.CHECKPOINT_INVALID, message, value=value, hint=hint)


def _replay(graph, model: nn.Module, step: dict[str, Any], folder: Path) -> None:
    try:
        module = model.get_submodule(step["module"])
    except AttributeError as exc:
        raise _mismatch(
            f"the plan prunes '{step['module']}', which the built model lacks", step["module"], folder
        ) from exc
    out, pruner = step.get("out", True), graph.get_pruner_of_module(module)
    fn = pruner.prune_out_channels if out else pruner.prune_in_channels
    channels = graph.get_out_channels(module) if out else graph.get_in_channels(module)
    if channels != step["channels"]:
        message = f"layer '{step['module']}' has {channels} channels where the plan expects {step['channels']}"
        raise _mismatch(message, step["module"], folder)
    keep = set(step["keep"])
    graph.get_pruning_group(module, fn, [i for i in range(channels) if i not in keep]).prune()


def _inputs_from_spec(spec: list[dict[str, Any]], device: torch.device) -> Any:
    """Random floats / zero integers of the recorded shapes: enough to trace the graph."""
    gen, tensors = torch.Generator().manual_seed(0), {}
    for item in spec:
        dtype = getattr(torch, item["dtype"])
        floats = torch.rand(item["shape"], generator=gen).to(dtype) if dtype.is_floating_point else None
        tensor = floats if floats is not None else torch.zeros(item["shape"], dtype=dtype)
        tensors[item["name"]] = tensor.to(device)
    return tensors if spec and all(isinstance(i["name"], str) for i in spec) else tuple(tensors.values())
