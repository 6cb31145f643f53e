"""What the ``Trainer`` keeps between epochs: checkpoint files on disk, or the best weights in memory.

On disk (``out_dir`` given): ``last.safetensors`` / ``best.safetensors`` (weights), and
``last_state.pt`` (optimizer, scheduler, gradient scaler, RNG states, the batch source's state
and the run state as JSON), a tensors-only file that loads with ``torch.load(weights_only=True)``,
plus ``history.json``, and ``ema.safetensors`` when the weights are averaged (``WeightAverage``).
In memory (``out_dir=None``): only the best weights, for ``restore_best``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save
from torch import nn

from ..errors import ErrorCode, InvalidInputError, ModelFormatError


def atomic_save(write: Callable[[str], None], path: Path) -> None:
    """Write through ``write(tmp_path)`` then rename, so a crash never leaves half a file at ``path``.

    Safetensors go through ``save`` (bytes) and Python's ``open``: ``save_file`` creates its files
    readable by their owner only (mode 0600), so a model trained by one account could not be
    served by another.
    """
    tmp = path.with_name(path.name + ".tmp")
    write(str(tmp))
    os.replace(tmp, path)


def cpu_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}


class WeightAverage:
    """An exponential moving average of a model's weights, updated after every optimizer step.

    The decay ramps up as ``decay * (1 - exp(-updates / warmup))`` so the first steps, far from
    any optimum, fade quickly (the schedule of YOLOv5's ``ModelEMA``). Floating-point tensors of
    the state dict (weights and BatchNorm statistics) are averaged; integer buffers are copied.
    """

    def __init__(self, model: nn.Module, decay: float, warmup: int = 200):
        if not 0.0 < decay < 1.0:
            raise InvalidInputError(
                ErrorCode.INVALID_ARGUMENT,
                "the weight average's decay must lie strictly between 0 and 1",
                value=decay,
                hint="use e.g. 0.998 (about the last 500 steps), or None to train without it",
            )
        self.decay, self.warmup, self.updates = decay, warmup, 0
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        keep = self.decay * (1.0 - math.exp(-self.updates / self.warmup))
        current = model.state_dict()
        for key, value in self.shadow.items():
            if value.is_floating_point():
                value.lerp_(current[key].detach(), 1.0 - keep)
            else:
                value.copy_(current[key])

    def weights(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in self.shadow.items()}

    @contextmanager
    def applied(self, model: nn.Module) -> Iterator[None]:
        """Within the block ``model`` holds the averaged weights; its own come back afterwards."""
        own = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.shadow)
        try:
            yield
        finally:
            model.load_state_dict(own)

    def save(self, path: Path) -> None:
        weights = self.weights()
        blob = save(weights, metadata={"updates": str(self.updates)})
        atomic_save(lambda p: Path(p).write_bytes(blob), path)

    def load(self, path: Path) -> None:
        from safetensors import safe_open

        with safe_open(str(path), "pt") as f:
            self.updates = int((f.metadata() or {}).get("updates", "0"))
        for key, value in load_file(str(path)).items():
            self.shadow[key].copy_(value)


class TrainState:
    """The run state (epoch, best metric, history, patience count) and where it is kept."""

    def __init__(self, out: Path | None):
        self.out = out
        self.run: dict[str, Any] = {"epoch": 0, "best_metric": None, "best_epoch": -1, "history": [], "waited": 0}
        self.best_weights: dict[str, torch.Tensor] | None = None

    def can_resume(self) -> bool:
        return self.out is not None and (self.out / "last_state.pt").exists()

    def save(
        self, model, opt, sched, scaler, batch_state, improved: bool, keep_best: bool, average: WeightAverage | None
    ) -> None:
        """Checkpoint the epoch; with ``average``, the best weights are the averaged ones (those judged)."""
        judged = average.weights if average is not None else lambda: cpu_weights(model)
        if self.out is None:
            if improved and keep_best:
                self.best_weights = judged()
            return
        out, weights = self.out, cpu_weights(model)
        atomic_save(lambda p: Path(p).write_bytes(save(weights)), out / "last.safetensors")
        if average is not None:
            average.save(out / "ema.safetensors")
        if improved:
            best = judged()
            atomic_save(lambda p: Path(p).write_bytes(save(best)), out / "best.safetensors")
        blob = {
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict() if sched is not None else {},
            "scaler": scaler.state_dict() if scaler is not None else {},
            "state_json": json.dumps(self.run, default=float),
            "batches_json": json.dumps(batch_state.state_dict() if batch_state is not None else None),
            "torch_rng": torch.get_rng_state(),
        }
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            blob["cuda_rng"] = torch.cuda.get_rng_state_all()
        atomic_save(lambda p: torch.save(blob, p), out / "last_state.pt")
        (out / "history.json").write_text(json.dumps(self.run["history"], indent=2, default=float))

    def load(self, model, opt, sched, scaler, batch_state, average: WeightAverage | None) -> None:
        out = self.out
        try:
            model.load_state_dict(load_file(str(out / "last.safetensors")))
            if average is not None:
                average.load(out / "ema.safetensors")
            blob = torch.load(out / "last_state.pt", weights_only=True)
            opt.load_state_dict(blob["optimizer"])
            if sched is not None:
                sched.load_state_dict(blob["scheduler"])
            if scaler is not None and blob.get("scaler"):
                scaler.load_state_dict(blob["scaler"])
            torch.set_rng_state(blob["torch_rng"])
            if "cuda_rng" in blob and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(blob["cuda_rng"])
            saved_batches = json.loads(blob.get("batches_json", "null"))
            if batch_state is not None and saved_batches is not None:
                batch_state.load_state_dict(saved_batches)
            self.run = {"waited": 0, **json.loads(blob["state_json"])}
        except (OSError, KeyError, RuntimeError, ValueError) as exc:
            raise ModelFormatError(
                ErrorCode.CHECKPOINT_INVALID,
                f"cannot resume from {out} ({exc})",
                value=str(out),
                hint="delete the folder or pass resume=False / --no-resume to start over",
            ) from exc

    def restore_best(self, model: nn.Module) -> None:
        """Load the best epoch's weights into ``model`` (no-op when no epoch has been judged yet)."""
        if self.best_weights is not None:
            model.load_state_dict(self.best_weights)
        elif self.out is not None and (self.out / "best.safetensors").exists():
            model.load_state_dict(load_file(str(self.out / "best.safetensors")))
