"""A small, app-agnostic training loop that runs alone or under ``torchrun`` (DDP, gloo on CPU).

The loop owns what every app needs and nothing app-specific: seeding, sharding the data
across processes, AdamW with warm-up and a cosine schedule, gradient clipping, a progress
bar with ETA, per-epoch evaluation, the best checkpoint, and resume after interruption.
Weights are written as safetensors; the optimizer state as a tensors-only file that loads
with ``torch.load(weights_only=True)``.

Example:
    >>> from deepseek_apps.core.train import TrainConfig, Trainer
    >>> trainer = Trainer(TrainConfig(epochs=2, out_dir="runs/demo"))  # doctest: +SKIP
    >>> result = trainer.fit(model, items, collate, loss_fn, evaluate)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..errors import ErrorCode, ModelFormatError, RuntimeFailure


@dataclass
class TrainConfig:
    """Optimisation settings shared by the apps (the CLI maps its flags onto these names)."""

    epochs: int = 30
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 5e-4
    warmup_epochs: float = 1.0
    grad_clip: float = 10.0
    seed: int = 0
    threads: int | None = None
    out_dir: str = "runs/train"
    monitor: str = "map50"
    resume: bool = True
    progress: bool = True


@dataclass
class TrainResult:
    best_metric: float
    best_epoch: int
    history: list[dict] = field(default_factory=list)
    out_dir: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def distributed_context() -> tuple[int, int]:
    """Return ``(rank, world_size)``, initialising a gloo process group under ``torchrun``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("gloo")
    return dist.get_rank(), world


def _barrier(world: int) -> None:
    if world > 1:
        import torch.distributed as dist

        dist.barrier()


def _atomic_save(write: Callable[[str], None], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(str(tmp))
    os.replace(tmp, path)


def seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Trainer:
    """Runs ``epochs`` over ``items`` with a user ``collate`` and ``loss_fn``."""

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
    ) -> TrainResult:
        cfg = self.config
        rank, world = distributed_context()
        torch.set_num_threads(cfg.threads or max(1, (os.cpu_count() or 1) // world))
        seed_everything(cfg.seed)
        out = Path(cfg.out_dir)
        if rank == 0:
            out.mkdir(parents=True, exist_ok=True)
        _barrier(world)

        steps_per_epoch = max(1, len(items) // (cfg.batch_size * world))
        total = steps_per_epoch * cfg.epochs
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        warm = max(1, int(cfg.warmup_epochs * steps_per_epoch))

        def lr_at(step: int) -> float:
            if step < warm:
                return (step + 1) / warm
            return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm)))) * 0.99 + 0.01

        sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
        state = {"epoch": 0, "best_metric": None, "best_epoch": -1, "history": []}
        if cfg.resume and (out / "last_state.pt").exists():
            state = self._load(model, opt, sched, out)
        net: nn.Module = model
        if world > 1:
            net = nn.parallel.DistributedDataParallel(model)

        bar = None
        if cfg.progress and rank == 0:
            from tqdm.auto import tqdm

            bar = tqdm(
                total=total, initial=state["epoch"] * steps_per_epoch, unit="step", desc="train", dynamic_ncols=True
            )
        for epoch in range(state["epoch"], cfg.epochs):
            t0 = time.perf_counter()
            net.train()
            order = np.random.default_rng(cfg.seed + epoch).permutation(len(items))
            shard = order[rank::world][: steps_per_epoch * cfg.batch_size]
            rng = np.random.default_rng((cfg.seed + 1) * 100_003 + epoch * world + rank)
            losses = []
            for step in range(steps_per_epoch):
                batch = collate([items[i] for i in shard[step * cfg.batch_size : (step + 1) * cfg.batch_size]], rng)
                loss = loss_fn(net, batch)
                if not torch.isfinite(loss):
                    raise RuntimeFailure(
                        ErrorCode.TRAINING_FAILURE,
                        "loss is not finite",
                        value=loss.item(),
                        hint="lower the learning rate (--lr) or check the annotations",
                    )
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip:
                    nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                opt.step()
                sched.step()
                losses.append(loss.item())
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(epoch=epoch + 1, loss=f"{np.mean(losses[-20:]):.3f}")
            if rank == 0:
                model.eval()
                with torch.no_grad():
                    metrics = evaluate(model)
                record = {
                    "epoch": epoch + 1,
                    "loss": float(np.mean(losses)),
                    "seconds": time.perf_counter() - t0,
                    **metrics,
                }
                state["history"].append(record)
                value = float(metrics.get(cfg.monitor, -record["loss"]))
                improved = state["best_metric"] is None or value > state["best_metric"]
                if improved:
                    state["best_metric"], state["best_epoch"] = value, epoch + 1
                state["epoch"] = epoch + 1
                self._save(model, opt, sched, state, out, improved, on_checkpoint)
                if bar is not None:
                    bar.write(json.dumps({k: v for k, v in record.items() if not isinstance(v, dict)}, default=float))
            _barrier(world)
        if bar is not None:
            bar.close()
        if world > 1:
            import torch.distributed as dist

            state = self._broadcast(state)
            dist.destroy_process_group()
        best = state["best_metric"] if state["best_metric"] is not None else float("nan")
        return TrainResult(best, state["best_epoch"], state["history"], str(out))

    @staticmethod
    def _broadcast(state: dict) -> dict:
        import torch.distributed as dist

        box = [state]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    @staticmethod
    def _save(model, opt, sched, state, out: Path, improved: bool, on_checkpoint) -> None:
        weights = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
        _atomic_save(lambda p: save_file(weights, p), out / "last.safetensors")
        if improved:
            _atomic_save(lambda p: save_file(weights, p), out / "best.safetensors")
        blob = {
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "state_json": json.dumps(state, default=float),
            "torch_rng": torch.get_rng_state(),
        }
        _atomic_save(lambda p: torch.save(blob, p), out / "last_state.pt")
        (out / "history.json").write_text(json.dumps(state["history"], indent=2, default=float))
        if on_checkpoint is not None:
            on_checkpoint(out, state)

    @staticmethod
    def _load(model, opt, sched, out: Path) -> dict:
        try:
            model.load_state_dict(load_file(str(out / "last.safetensors")))
            blob = torch.load(out / "last_state.pt", weights_only=True)
            opt.load_state_dict(blob["optimizer"])
            sched.load_state_dict(blob["scheduler"])
            torch.set_rng_state(blob["torch_rng"])
            return json.loads(blob["state_json"])
        except (OSError, KeyError, RuntimeError, ValueError) as exc:
            raise ModelFormatError(
                ErrorCode.CHECKPOINT_INVALID,
                f"cannot resume from {out} ({exc})",
                value=str(out),
                hint="delete the folder or pass resume=False / --no-resume to start over",
            ) from exc
