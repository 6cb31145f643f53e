"""The one training loop of the package: alone, under ``torchrun`` or Ray Train, on a CPU or a GPU.

The loop owns what every app needs and nothing app-specific: seeding, the device and mixed
precision (``core.device``), sharding the data across processes (DDP over NCCL on GPUs, gloo
on CPUs; a process group someone else initialised, as Ray Train does, is used as it is),
the optimizer and learning-rate schedule, gradient clipping, a progress bar with ETA,
per-epoch evaluation, early stopping, the best checkpoint and exact resume after interruption.

``Trainer.fit`` trains over a list of items with a ``collate`` (the inspector and the
classifier); ``Trainer.run`` takes a ``TrainRecipe`` for loops that bring their own batches,
optimizer or schedule (the recommender's index slices, the fraud GNN's whole graph,
the contract tagger's windows, distillation with a teacher).

Example:
    >>> from deepseek_apps.core.train import TrainConfig, Trainer
    >>> trainer = Trainer(TrainConfig(epochs=2, out_dir="runs/demo", device="auto"))  # doctest: +SKIP
    >>> result = trainer.fit(model, items, collate, loss_fn, evaluate)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ErrorCode, InvalidInputError, RuntimeFailure
from .alloc import reuse_freed_memory, within_budget
from .device import Placement, resolve_placement, to_device
from .train_state import TrainState, WeightAverage


@dataclass
class TrainConfig:
    """Optimisation settings shared by the apps (the CLI maps its flags onto these names).

    ``device``: ``auto`` | ``cpu`` | ``cuda`` | ``cuda:N``; ``precision``: ``32`` | ``bf16`` | ``16``
    (see ``core.device``). ``patience``: stop after that many epochs without a better monitored
    value (``None``: never). ``restore_best``: load the best epoch's weights into the model at
    the end. ``workers``: data-loading processes (``None``: none on a CPU, up to 4 on CUDA).
    ``out_dir=None`` keeps the best weights in memory and writes nothing (no resume).
    ``seed=None`` (``run`` only): the caller has seeded already (its model's initialisation drew
    from the RNG), so the RNGs are left as they are. ``ema``: decay of an exponential moving
    average of the weights, updated after every step (``core.train_state.WeightAverage``; e.g.
    0.998, None: off). With it, each epoch is judged and checkpointed as best with the averaged
    weights, and the model ends with them; the optimizer goes on with its own.
    """

    epochs: int = 30
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 5e-4
    warmup_epochs: float = 1.0
    grad_clip: float = 10.0
    seed: int | None = 0
    threads: int | None = None
    out_dir: str | None = "runs/train"
    monitor: str = "map50"
    resume: bool = True
    progress: bool = True
    device: str = "auto"
    precision: str = "32"
    patience: int | None = None
    restore_best: bool = False
    workers: int | None = None
    ema: float | None = None


@dataclass
class TrainResult:
    best_metric: float
    best_epoch: int
    history: list[dict] = field(default_factory=list)
    out_dir: str = ""
    device: str = "cpu"
    precision: str = "32"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainRecipe:
    """What one training loop brings to ``Trainer.run`` beyond ``TrainConfig``.

    Attributes:
        loss_fn: ``(net, batch) -> loss``; ``net`` is ``module`` (DDP-wrapped under torchrun),
            ``batch`` is already on the training device.
        evaluate: ``model -> metrics`` after each epoch, on rank 0. The model sits on the
            training device; CPU tensors given to its ``forward`` are moved there and its
            outputs come back on the CPU, so evaluation code written for the CPU works as is.
        batches: ``(epoch, rank, world) -> iterable of batches`` (on the CPU) for this
            process's share of one epoch.
        steps_per_epoch: batches per epoch and process, for the progress bar / schedule (None: unknown).
        optimizer: ``model -> optimizer`` (default AdamW with the config's lr and weight decay).
        scheduler: ``(optimizer, total_steps) -> LR scheduler`` stepped after every batch, or
            after every epoch with ``schedule_per_epoch`` (None: a constant learning rate).
        score: ``epoch record -> value to maximise`` (default ``record[monitor]``, else ``-loss``).
        batch_state: the batch source's RNG, with ``state_dict()`` / ``load_state_dict()``
            (JSON-able), saved with each checkpoint so a resumed run draws the same batches.
        module: what DDP wraps and ``loss_fn`` receives (default: the model), e.g. a view that
            calls the model's logits method.
        companions: other modules moved to the training device (a distillation teacher).
        diverged: ``loss -> exception`` raised when a loss is not finite (default: 4003).
        find_unused_parameters: under DDP, let parameters that take no part in a step's loss
            go without gradients (e.g. a heterogeneous GNN's last-layer convolutions into node
            types the loss never reads); DDP's own flag, at the cost of a graph traversal per step.
    """

    loss_fn: Callable[[nn.Module, Any], torch.Tensor]
    evaluate: Callable[[nn.Module], dict]
    batches: Callable[[int, int, int], Iterable[Any]]
    steps_per_epoch: int | None = None
    optimizer: Callable[[nn.Module], torch.optim.Optimizer] | None = None
    scheduler: Callable[[torch.optim.Optimizer, int], Any] | None = None
    schedule_per_epoch: bool = False
    score: Callable[[dict], float] | None = None
    batch_state: Any = None
    module: nn.Module | None = None
    companions: Sequence[nn.Module] = ()
    diverged: Callable[[float], Exception] | None = None
    find_unused_parameters: bool = False


def distributed_context(backend: str = "gloo") -> tuple[int, int]:
    """Return ``(rank, world_size)``: of an existing process group, else one started under ``torchrun``."""
    rank, world, _ = _join_process_group(backend)
    return rank, world


def _join_process_group(backend: str) -> tuple[int, int, bool]:
    """``(rank, world, created)``; ``created`` is True only when this call initialised the group."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():  # e.g. Ray Train's TorchTrainer set it up
        return dist.get_rank(), dist.get_world_size(), False
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, False
    dist.init_process_group(backend)
    return dist.get_rank(), world, True


def _barrier(world: int) -> None:
    if world > 1:
        import torch.distributed as dist

        dist.barrier()


def seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def warmup_cosine(warmup_steps: int, total_steps: int) -> Callable[[int], float]:
    """Linear warm-up to 1 over ``warmup_steps``, then cosine decay to 0.01 at ``total_steps``."""

    def lr_at(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return 0.5 * (1 + math.cos(math.pi * progress)) * 0.99 + 0.01

    return lr_at


_EPOCH_HOOKS: ContextVar[tuple[Callable[[Path | None, dict], None], ...]] = ContextVar("epoch_hooks", default=())


@contextmanager
def epoch_hook(hook: Callable[[Path | None, dict], None]) -> Iterator[None]:
    """Within the block, every ``Trainer`` also calls ``hook(out_dir, state)`` after each epoch, like ``on_checkpoint``.

    For a runner that wraps an app's own training function and cannot pass ``on_checkpoint``
    through it (Ray Train reports every epoch this way).
    """
    token = _EPOCH_HOOKS.set((*_EPOCH_HOOKS.get(), hook))
    try:
        yield
    finally:
        _EPOCH_HOOKS.reset(token)


class Trainer:
    """Runs ``config.epochs`` epochs of a training loop (``fit`` for items + collate, ``run`` for a recipe)."""

    def __init__(self, config: TrainConfig):
        self.config = config

    def fit(
        self,
        model: nn.Module,
        items: Sequence[Any],
        collate: Callable[[list[Any], np.random.Generator], Any],
        loss_fn: Callable[[nn.Module, Any], torch.Tensor],
        evaluate: Callable[[nn.Module], dict],
        on_checkpoint: Callable[[Path, dict], None] | None = None,
        score: Callable[[dict], float] | None = None,
    ) -> TrainResult:
        """Train on ``items``: each process takes its shard of a seeded permutation, ``collate(items, rng)`` batches it.

        ``on_checkpoint(out_dir, state)`` is called on every process after each epoch, once rank 0
        has written the epoch's checkpoint to ``out_dir`` (``state``: epoch, best_metric,
        best_epoch, history; ``out_dir`` is None when ``config.out_dir`` is None). A caller that
        reports checkpoints elsewhere (Ray Train) does it here, on all workers at once.
        ``score``: ``epoch record -> value to maximise`` in place of ``record[config.monitor]``
        (``TrainRecipe.score``), for example to break ties.
        """
        cfg = self.config
        world = _world_hint()
        steps = max(1, len(items) // (cfg.batch_size * world))
        warm = max(1, int(cfg.warmup_epochs * steps))
        recipe = TrainRecipe(
            loss_fn=loss_fn,
            evaluate=evaluate,
            batches=ItemBatches(items, collate, cfg, steps),
            steps_per_epoch=steps,
            scheduler=lambda opt, total: torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine(warm, total)),
            score=score,
        )
        return self.run(model, recipe, on_checkpoint)

    def run(
        self, model: nn.Module, recipe: TrainRecipe, on_checkpoint: Callable[[Path, dict], None] | None = None
    ) -> TrainResult:
        """Train ``model`` in place with ``recipe``; it ends on the device it started on.

        Freed memory stays mapped while it runs (``core.alloc``): a step's large temporaries
        are reused instead of page-faulted in again (1.12x on an EfficientNet-Lite0 epoch,
        2.1x on a full-graph GNN step over 3x10^5 nodes), until the process passes the memory
        budget (``core.alloc.within_budget``, checked after every epoch).
        """
        with reuse_freed_memory():
            return self._run(model, recipe, on_checkpoint)

    def _run(self, model: nn.Module, recipe: TrainRecipe, on_checkpoint) -> TrainResult:
        cfg = self.config
        place = resolve_placement(cfg.device, cfg.precision)
        rank, world, created = _join_process_group(place.backend)
        if place.is_cuda:
            torch.cuda.set_device(place.device)
        if cfg.threads or world > 1:  # alone with threads=None: torch's own choice (all cores)
            torch.set_num_threads(cfg.threads or max(1, (os.cpu_count() or 1) // world))
        if cfg.seed is not None:
            seed_everything(cfg.seed)
        out = Path(cfg.out_dir) if cfg.out_dir else None
        if out is not None and rank == 0:
            out.mkdir(parents=True, exist_ok=True)
        _barrier(world)
        home = next((p.device for p in model.parameters()), torch.device("cpu"))
        for module in (model, *recipe.companions):
            module.to(place.device)
        opt = recipe.optimizer(model) if recipe.optimizer else _adamw(model, cfg)
        steps = recipe.steps_per_epoch
        horizon = (steps * cfg.epochs) if (steps and not recipe.schedule_per_epoch) else cfg.epochs
        sched = recipe.scheduler(opt, max(1, horizon)) if recipe.scheduler else None
        scaler = torch.amp.GradScaler(place.device.type) if place.grad_scaler else None
        state = TrainState(out)
        average = WeightAverage(model, cfg.ema) if cfg.ema is not None else None
        if cfg.resume and state.can_resume():
            state.load(model, opt, sched, scaler, recipe.batch_state, average)
        net = recipe.module or model
        if world > 1:
            net = nn.parallel.DistributedDataParallel(
                net,
                device_ids=[place.device.index] if place.is_cuda else None,
                find_unused_parameters=recipe.find_unused_parameters,
            )
        bar = _progress_bar(cfg, rank, steps, state.run["epoch"])
        try:
            for epoch in range(state.run["epoch"], cfg.epochs):
                if state.run.get("stopped"):
                    break
                t0 = time.perf_counter()
                losses = self._epoch(net, recipe, place, opt, sched, scaler, epoch, rank, world, bar, model, average)
                if sched is not None and recipe.schedule_per_epoch:
                    sched.step()
                train_seconds = time.perf_counter() - t0
                within_budget()
                if rank == 0:
                    with average.applied(model) if average is not None else nullcontext():
                        self._judge(model, recipe, place, state, epoch, losses, t0, train_seconds, bar)
                    improved = state.run["best_epoch"] == epoch + 1
                    state.save(model, opt, sched, scaler, recipe.batch_state, improved, cfg.restore_best, average)
                if world > 1:
                    state.run = _broadcast(state.run)  # rank 0's record, early-stop decision included
                if on_checkpoint is not None:
                    on_checkpoint(out, state.run)
                for hook in _EPOCH_HOOKS.get():
                    hook(out, state.run)
                if state.run.get("stopped"):
                    break
        finally:
            if bar is not None:
                bar.close()
        if average is not None:
            model.load_state_dict(average.shadow)
        if cfg.restore_best and rank == 0:
            state.restore_best(model)
        if world > 1:
            if cfg.restore_best or average is not None:
                _broadcast_weights(model)
            if created:
                import torch.distributed as dist

                dist.destroy_process_group()
        model.to(home)
        for module in recipe.companions:
            module.to(home)
        run = state.run
        best = run["best_metric"] if run["best_metric"] is not None else float("nan")
        return TrainResult(best, run["best_epoch"], run["history"], str(out or ""), str(place.device), place.precision)

    def _epoch(
        self, net, recipe, place: Placement, opt, sched, scaler, epoch, rank, world, bar, model, average
    ) -> list[float]:
        cfg = self.config
        net.train()
        losses: list[float] = []
        for batch in recipe.batches(epoch, rank, world):
            batch = to_device(batch, place.device, non_blocking=place.pin_memory)
            with place.autocast():
                loss = recipe.loss_fn(net, batch)
            value = loss.item()
            if not math.isfinite(value):
                raise (recipe.diverged or _diverged)(value)
            opt.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
            else:
                loss.backward()
            if cfg.grad_clip:
                if scaler is not None:
                    scaler.unscale_(opt)
                nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], cfg.grad_clip)
            if scaler is not None:
                scaler.step(opt)
                scaler.update()
            else:
                opt.step()
            if sched is not None and not recipe.schedule_per_epoch:
                sched.step()
            if average is not None:
                average.update(model)
            losses.append(value)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{np.mean(losses[-20:]):.4f}")
        if not losses:
            raise InvalidInputError(
                ErrorCode.DATASET_EMPTY,
                f"epoch {epoch + 1} had no training batch",
                value=epoch + 1,
                hint="check that the training data is not empty",
            )
        return losses

    def _judge(self, model, recipe, place, state: TrainState, epoch, losses, t0, train_seconds, bar) -> None:
        """Evaluate on rank 0, record the epoch, track the best value and the patience count."""
        cfg = self.config
        model.eval()
        with torch.no_grad(), _bridged(model, place.device):
            metrics = recipe.evaluate(model)
        record = {
            "epoch": epoch + 1,
            "loss": float(np.mean(losses)),
            "seconds": time.perf_counter() - t0,
            "train_seconds": train_seconds,
            **metrics,
        }
        run = state.run
        run["history"].append(record)
        value = recipe.score(record) if recipe.score else float(metrics.get(cfg.monitor, -record["loss"]))
        if run["best_metric"] is None or value > run["best_metric"]:
            run["best_metric"], run["best_epoch"], run["waited"] = value, epoch + 1, 0
        else:
            run["waited"] = run.get("waited", 0) + 1
        run["epoch"] = epoch + 1
        if cfg.patience is not None and run["waited"] >= cfg.patience:
            run["stopped"] = True
        if bar is not None:
            bar.write(json.dumps({k: v for k, v in record.items() if not isinstance(v, dict)}, default=float))


class ItemBatches:
    """``Trainer.fit``'s batches: a seeded permutation per epoch, sharded by rank, collated with an RNG.

    With ``workers == 0`` one RNG per epoch and rank is consumed batch after batch (the CPU
    path, unchanged); with worker processes each batch gets its own RNG seeded by
    ``(seed, epoch, rank, step)``, so the order workers finish in does not matter.
    """

    def __init__(self, items: Sequence[Any], collate: Callable, cfg: TrainConfig, steps: int):
        self.items, self.collate, self.cfg, self.steps = items, collate, cfg, steps

    def __call__(self, epoch: int, rank: int, world: int) -> Iterable[Any]:
        cfg, steps = self.cfg, self.steps
        order = np.random.default_rng(cfg.seed + epoch).permutation(len(self.items))
        shard = order[rank::world][: steps * cfg.batch_size]
        picks = [shard[s * cfg.batch_size : (s + 1) * cfg.batch_size] for s in range(steps)]
        workers = _workers(cfg)
        if workers == 0:
            rng = np.random.default_rng((cfg.seed + 1) * 100_003 + epoch * world + rank)
            return (self.collate([self.items[i] for i in pick], rng) for pick in picks)
        dataset = _CollatedSteps(self.items, self.collate, picks, (cfg.seed, epoch, rank))
        return torch.utils.data.DataLoader(
            dataset, batch_size=None, shuffle=False, num_workers=workers, pin_memory=torch.cuda.is_available()
        )


class _CollatedSteps(torch.utils.data.Dataset):
    def __init__(self, items, collate, picks, key):
        self.items, self.collate, self.picks, self.key = items, collate, picks, key

    def __len__(self) -> int:
        return len(self.picks)

    def __getitem__(self, step: int):
        rng = np.random.default_rng([*self.key, step])
        return self.collate([self.items[i] for i in self.picks[step]], rng)


def _workers(cfg: TrainConfig) -> int:
    if cfg.workers is not None:
        return max(0, int(cfg.workers))
    if not str(cfg.device).startswith(("cuda", "auto")) or not torch.cuda.is_available():
        return 0
    return min(4, max(1, (os.cpu_count() or 1) // max(1, _world_hint())))


def _world_hint() -> int:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return max(1, int(os.environ.get("WORLD_SIZE", "1")))


def _adamw(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def _diverged(value: float) -> Exception:
    return RuntimeFailure(
        ErrorCode.TRAINING_FAILURE,
        "loss is not finite",
        value=value,
        hint="lower the learning rate (--lr) or check the annotations",
    )


def _progress_bar(cfg: TrainConfig, rank: int, steps: int | None, epoch: int):
    if not cfg.progress or rank != 0:
        return None
    from tqdm.auto import tqdm

    total = steps * cfg.epochs if steps else None
    return tqdm(total=total, initial=epoch * (steps or 0), unit="step", desc="train", dynamic_ncols=True)


@contextmanager
def _bridged(model: nn.Module, device: torch.device):
    """During evaluation: CPU inputs of ``model.forward`` go to ``device``, its outputs come back to the CPU."""
    if device.type == "cpu":
        yield
        return
    handles = [
        model.register_forward_pre_hook(lambda m, a, k: (to_device(a, device), to_device(k, device)), with_kwargs=True),
        model.register_forward_hook(lambda m, a, out: to_device(out, torch.device("cpu"))),
    ]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _broadcast(value: Any) -> Any:
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def _broadcast_weights(model: nn.Module) -> None:
    import torch.distributed as dist

    for tensor in model.state_dict().values():
        dist.broadcast(tensor, src=0)
