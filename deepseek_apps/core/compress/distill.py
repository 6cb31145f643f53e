"""Knowledge distillation: a student learns a teacher's soft outputs (and, optionally, features).

The loss is Hinton's ``alpha * T^2 * KD + (1 - alpha) * task`` plus ``feature_weight`` times
the MSE between chosen student and teacher feature maps, with a 1x1 conv / linear adapter when
their channel counts differ. ``outputs_fn`` picks the logits, so one loop serves classifiers
``(N, C)``, token classifiers ``(N, T, C)`` (positions whose target is -100 are ignored) and
detectors ``(N, A, C)`` with ``kd="sigmoid"``. The loop is the core ``Trainer``'s (device and
mixed precision, progress with ETA); the teacher travels to the training device with the student.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from deepseek_apps.core.compress.distill import distill
    >>> teacher, student = nn.Linear(4, 3), nn.Linear(4, 3)
    >>> data = [(torch.randn(8, 4), torch.randint(0, 3, (8,)))]
    >>> distill(teacher, student, data, epochs=2, progress=False).epochs
    2
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ...errors import ErrorCode, InvalidInputError

KD_KINDS = ("softmax", "sigmoid")
LR_SCHEDULES = ("constant", "cosine")
IGNORE_INDEX = -100


@dataclass
class DistillReport:
    """Per-epoch mean losses and wall-clock seconds; ``adapters`` names the feature pairs that needed one."""

    total: list[float] = field(default_factory=list)
    kd: list[float] = field(default_factory=list)
    task: list[float] = field(default_factory=list)
    feature: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    adapters: list[str] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        return len(self.total)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "epochs": self.epochs, "total_seconds": sum(self.seconds)}


def kd_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    temperature: float = 4.0,
    mask: torch.Tensor | None = None,
    kd: str = "softmax",
) -> torch.Tensor:
    """Distillation loss over the last (class) dimension, averaged over the unmasked positions.

    ``softmax``: KL(teacher || student) of the temperature-scaled softmaxes. ``sigmoid``: binary
    cross-entropy between the temperature-scaled sigmoids minus the teacher's entropy (a binary
    KL, 0 when they agree), summed over classes. Both are multiplied by ``T^2``.

    Example:
        >>> kd_loss(torch.zeros(2, 5), torch.zeros(2, 5)).item()
        0.0
    """
    if kd not in KD_KINDS:
        raise _bad(f"unknown kd '{kd}'", kd, f"use one of: {', '.join(KD_KINDS)}")
    classes = student_logits.shape[-1]
    s = student_logits.reshape(-1, classes) / temperature
    t = teacher_logits.reshape(-1, classes).detach() / temperature
    if kd == "softmax":
        per_pos = F.kl_div(F.log_softmax(s, -1), F.log_softmax(t, -1), reduction="none", log_target=True).sum(-1)
    else:
        p = torch.sigmoid(t)
        bce = F.binary_cross_entropy_with_logits(s, p, reduction="none")
        entropy = F.binary_cross_entropy_with_logits(t, p, reduction="none")
        per_pos = (bce - entropy).sum(-1)
    if mask is not None:
        keep = mask.reshape(-1).to(per_pos.device)
        per_pos = per_pos[keep]
    if per_pos.numel() == 0:
        return student_logits.sum() * 0.0
    return per_pos.mean() * temperature**2


def distill(
    teacher: nn.Module,
    student: nn.Module,
    train_data: Iterable[Any],
    epochs: int = 1,
    temperature: float = 4.0,
    alpha: float = 0.7,
    lr: float = 1e-3,
    task_loss: Callable[[torch.Tensor, Any], torch.Tensor] | None = None,
    outputs_fn: Callable[[nn.Module, Any], torch.Tensor] | None = None,
    feature_pairs: Sequence[tuple[str, str]] = (),
    feature_weight: float = 1.0,
    batch_size: int | None = None,
    progress: bool = True,
    kd: str = "softmax",
    lr_schedule: str = "constant",
    device: str | None = None,
    precision: str = "32",
    seed: int | None = None,
) -> DistillReport:
    """Train ``student`` in place (AdamW) to match ``teacher`` (frozen, eval mode, same device).

    Args:
        train_data: batches ``(inputs, targets)`` (a DataLoader works; it must be re-iterable
            for ``epochs > 1``), or one ``(inputs, targets)`` pair of tensors that is shuffled
            and cut into ``batch_size`` batches every epoch. ``targets`` may be None when
            ``alpha == 1``.
        temperature / alpha: Hinton's ``T`` and the weight of the KD term against the task loss.
        task_loss: ``(student_logits, targets) -> loss``; default cross-entropy (ignoring -100)
            for ``softmax``, BCE-with-logits on same-shaped targets for ``sigmoid``.
        outputs_fn: ``(model, inputs) -> logits`` of shape ``(..., C)``; default ``model(inputs)``.
        feature_pairs: ``(student_layer, teacher_layer)`` names whose outputs are matched (MSE);
            channels are dim 1 of 4-D/5-D maps (1x1 conv adapter) and the last dim of 2-D/3-D
            outputs (linear adapter). Adapters are trained alongside and dropped afterwards.
        kd: ``softmax`` (one label per position) or ``sigmoid`` (independent per-class scores).
        lr_schedule: ``constant``, or ``cosine`` (decays ``lr`` to zero over all steps; needs
            ``train_data`` with a length, otherwise it steps once per epoch).
        device / precision: where and how to train (``core.device``); ``device=None``: where the
            student is. Both models end on the student's original device.
        seed: seed the RNGs first (``None``: leave them as they are).

    Example:
        >>> report = distill(teacher, student, loader, epochs=3, kd="softmax")  # doctest: +SKIP
        >>> report.kd  # doctest: +SKIP
        [1.92, 0.71, 0.40]
    """
    from ..train import TrainConfig, Trainer, TrainRecipe

    _check_args(epochs, temperature, alpha, kd, batch_size, train_data)
    if lr_schedule not in LR_SCHEDULES:
        raise _bad(f"unknown lr_schedule '{lr_schedule}'", lr_schedule, f"use one of: {', '.join(LR_SCHEDULES)}")
    layers = (
        _layers(student, [p[0] for p in feature_pairs], "student"),
        _layers(teacher, [p[1] for p in feature_pairs], "teacher"),
    )
    outputs_fn = outputs_fn or _default_outputs
    task_loss = task_loss or (_cross_entropy if kd == "softmax" else _bce)
    adapters: dict[int, nn.Module] = {}
    report = DistillReport()
    total = _length(train_data, batch_size)
    held: dict[str, Any] = {}  # the optimizer (adapters join it when first needed) and the epoch's loss sums

    def make_optimizer(model: nn.Module) -> torch.optim.Optimizer:
        held["opt"] = torch.optim.AdamW(model.parameters(), lr=lr)
        return held["opt"]

    def batches(epoch: int, rank: int, world: int):
        held["sums"], held["n"] = None, 0
        return _batches(train_data, batch_size)

    def loss_fn(net: nn.Module, batch: Any) -> torch.Tensor:
        inputs, targets = batch
        with torch.no_grad():
            t_logits = outputs_fn(teacher, inputs)
        s_logits = outputs_fn(net, inputs)
        _check_logits(s_logits, t_logits)
        kd_term = kd_loss(s_logits, t_logits, temperature, _mask(targets, s_logits), kd)
        task = task_loss(s_logits, targets) if alpha < 1 else s_logits.new_zeros(())
        device = s_logits.device
        feat = _feature_loss(feature_pairs, s_feats, t_feats, adapters, held["opt"], report.adapters, device)
        loss = alpha * kd_term + (1 - alpha) * task + feature_weight * feat
        parts = torch.stack([loss, kd_term, task, feat]).detach().float()
        held["sums"] = parts if held["sums"] is None else held["sums"] + parts
        held["n"] += 1
        return loss

    def epoch_means(model: nn.Module) -> dict:
        means = (held["sums"].cpu() / held["n"]).tolist()
        return dict(zip(("total", "kd", "task", "feature"), means))

    recipe = TrainRecipe(
        loss_fn=loss_fn,
        evaluate=epoch_means,
        batches=batches,
        steps_per_epoch=total,
        optimizer=make_optimizer,
        scheduler=(lambda opt, horizon: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=horizon))
        if lr_schedule == "cosine"
        else None,
        schedule_per_epoch=total is None,
        companions=[teacher],
    )
    home = next(student.parameters()).device
    config = TrainConfig(
        epochs=epochs,
        grad_clip=0.0,
        seed=seed,
        out_dir=None,
        progress=progress,
        device=str(home) if device is None else device,
        precision=precision,
    )
    with _distilling(teacher, student, *layers) as (s_feats, t_feats):
        try:
            result = Trainer(config).run(student, recipe)
        except InvalidInputError as exc:
            if exc.code == ErrorCode.DATASET_EMPTY:
                raise InvalidInputError(
                    ErrorCode.DATASET_EMPTY, "train_data yielded no batch", value=type(train_data).__name__
                ) from exc
            raise
    for record in result.history:
        for values, key in zip(
            (report.total, report.kd, report.task, report.feature), ("total", "kd", "task", "feature")
        ):
            values.append(record[key])
        report.seconds.append(record["train_seconds"])
    for adapter in adapters.values():
        adapter.to(home)
    return report


@contextmanager
def _distilling(teacher: nn.Module, student: nn.Module, s_layers: list[nn.Module], t_layers: list[nn.Module]):
    """Teacher in eval, student in train, feature hooks on; everything restored afterwards."""
    modes = teacher.training, student.training
    s_feats: dict[int, torch.Tensor] = {}
    t_feats: dict[int, torch.Tensor] = {}
    hooks = [_capture(m, i, s_feats) for i, m in enumerate(s_layers)]
    hooks += [_capture(m, i, t_feats) for i, m in enumerate(t_layers)]
    teacher.eval()
    student.train()
    try:
        yield s_feats, t_feats
    finally:
        for hook in hooks:
            hook.remove()
        teacher.train(modes[0])
        student.train(modes[1])


def _check_logits(s_logits: torch.Tensor, t_logits: torch.Tensor) -> None:
    if s_logits.shape != t_logits.shape:
        raise _bad(
            f"student logits {tuple(s_logits.shape)} and teacher logits {tuple(t_logits.shape)} differ",
            tuple(s_logits.shape),
            "outputs_fn must return logits of the same shape for both models",
        )


def _bad(message: str, value: Any, hint: str) -> InvalidInputError:
    return InvalidInputError(ErrorCode.INVALID_ARGUMENT, message, value=value, hint=hint)


def _check_args(epochs, temperature, alpha, kd, batch_size, train_data) -> None:
    if epochs < 1:
        raise _bad(f"epochs must be >= 1, got {epochs}", epochs, "e.g. epochs=3")
    if not temperature > 0:
        raise _bad(f"temperature must be > 0, got {temperature}", temperature, "typical values are 2-8")
    if not 0 <= alpha <= 1:
        raise _bad(f"alpha must be in [0, 1], got {alpha}", alpha, "alpha weighs the KD term; 1 - alpha the task loss")
    if kd not in KD_KINDS:
        raise _bad(f"unknown kd '{kd}'", kd, f"use one of: {', '.join(KD_KINDS)}")
    if batch_size is not None and (batch_size < 1 or not _is_tensor_pair(train_data)):
        raise _bad(
            f"batch_size={batch_size} needs train_data given as one (inputs, targets) pair of tensors",
            batch_size,
            "a DataLoader batches itself: leave batch_size=None",
        )
    if epochs > 1 and isinstance(train_data, Iterator):
        raise _bad("train_data is a one-shot iterator", type(train_data).__name__, "pass a list or a DataLoader")


def _is_tensor_pair(data: Any) -> bool:
    return isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], torch.Tensor)


def _length(data: Any, batch_size: int | None) -> int | None:
    if _is_tensor_pair(data):
        return -(-len(data[0]) // (batch_size or len(data[0])))
    try:
        return len(data)
    except TypeError:
        return None


def _batches(data: Any, batch_size: int | None) -> Iterable[tuple[Any, Any]]:
    if not _is_tensor_pair(data):
        for batch in data:
            if not isinstance(batch, list | tuple) or len(batch) != 2:
                raise _bad(
                    f"a batch must be (inputs, targets), got {type(batch).__name__}",
                    type(batch).__name__,
                    "yield (inputs, targets) pairs; targets may be None when alpha == 1",
                )
            yield batch
        return
    inputs, targets = data
    order = torch.randperm(len(inputs))
    size = batch_size or len(inputs)
    for i in range(0, len(inputs), size):
        pick = order[i : i + size]
        yield inputs[pick], None if targets is None else targets[pick]


def _default_outputs(model: nn.Module, inputs: Any) -> torch.Tensor:
    return model(**inputs) if isinstance(inputs, dict) else model(inputs)


def _mask(targets: Any, logits: torch.Tensor) -> torch.Tensor | None:
    """Positions to distil: those whose integer target is not -100 (when targets are per position)."""
    if isinstance(targets, torch.Tensor) and not targets.is_floating_point() and targets.shape == logits.shape[:-1]:
        return targets != IGNORE_INDEX
    return None


def _cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    classes = logits.shape[-1]
    if targets.shape == logits.shape:  # soft labels
        return F.cross_entropy(logits.reshape(-1, classes), targets.reshape(-1, classes))
    return F.cross_entropy(logits.reshape(-1, classes), targets.reshape(-1), ignore_index=IGNORE_INDEX)


def _bce(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    if not isinstance(targets, torch.Tensor) or targets.shape != logits.shape:
        raise _bad(
            "sigmoid KD's default task loss needs targets shaped like the logits",
            getattr(targets, "shape", type(targets).__name__),
            "pass task_loss=(logits, targets) -> loss, or alpha=1 for pure distillation",
        )
    return F.binary_cross_entropy_with_logits(logits, targets.float())


def _layers(model: nn.Module, names: Sequence[str], role: str) -> list[nn.Module]:
    modules = dict(model.named_modules())
    for name in names:
        if name not in modules:
            close = difflib.get_close_matches(name, list(modules), n=3)
            raise _bad(
                f"the {role} has no layer '{name}'",
                name,
                f"did you mean {close}?" if close else "use names from model.named_modules()",
            )
    return [modules[n] for n in names]


def _capture(module: nn.Module, index: int, store: dict[int, torch.Tensor]):
    def hook(_module, _inputs, output):
        if isinstance(output, list | tuple):
            output = output[0]
        if not isinstance(output, torch.Tensor):
            raise _bad(
                f"feature layer {type(_module).__name__} returns {type(output).__name__}, not a tensor",
                type(output).__name__,
                "pick a layer whose output is one tensor",
            )
        store[index] = output

    return module.register_forward_hook(hook)


def _feature_loss(pairs, s_feats, t_feats, adapters, opt, names, device) -> torch.Tensor:
    loss = torch.zeros((), device=device)
    for i, (s_name, t_name) in enumerate(pairs):
        if i not in s_feats or i not in t_feats:
            raise _bad(
                f"feature layers '{s_name}' / '{t_name}' did not run during the forward pass",
                (s_name, t_name),
                "pick layers that outputs_fn actually calls",
            )
        s, t = s_feats.pop(i), t_feats.pop(i).detach()
        channel_dim = 1 if s.ndim >= 4 else -1
        if s.shape[channel_dim] != t.shape[channel_dim] and i not in adapters:
            adapters[i] = _adapter(s, t, channel_dim).to(device)
            opt.add_param_group({"params": list(adapters[i].parameters())})
            names.append(f"{s_name} -> {t_name} ({s.shape[channel_dim]} -> {t.shape[channel_dim]} channels)")
        if i in adapters:
            s = adapters[i](s)
        if s.shape != t.shape:
            raise _bad(
                f"features '{s_name}' {tuple(s.shape)} and '{t_name}' {tuple(t.shape)} cannot be matched",
                (s_name, t_name),
                "pair layers with the same spatial size / sequence length",
            )
        loss = loss + F.mse_loss(s, t)
    return loss


def _adapter(s: torch.Tensor, t: torch.Tensor, channel_dim: int) -> nn.Module:
    if channel_dim == -1:
        return nn.Linear(s.shape[-1], t.shape[-1])
    conv = nn.Conv2d if s.ndim == 4 else nn.Conv3d
    return conv(s.shape[1], t.shape[1], kernel_size=1)
