"""The core ``Trainer`` inside Ray Train's ``TorchTrainer``: DDP on N workers, checkpoints through Ray.

Every worker runs the same training function (the app's own, writing to ``out_dir`` with the
core ``Trainer``); Ray starts the workers and their process group (gloo on CPU, NCCL with
``use_gpu``), and the ``Trainer`` joins that group instead of making its own. After each
epoch every worker reports to Ray (``ray.train.report``) and rank 0 hands Ray the epoch's
checkpoint folder, which Ray copies to its storage. When a worker is lost, Ray restarts the
group (up to ``max_failures`` times); each node first restores the latest checkpoint into
``out_dir`` when its copy is missing, and the ``Trainer`` resumes from it.

Example:
    >>> from functools import partial
    >>> from deepseek_apps.core.scale.ray_train import fit_on_ray
    >>> run = fit_on_ray(partial(train_my_model, out_dir="runs/a"), "runs/a", workers=2)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from ...errors import DeepSeekAppsError, ErrorCode, MissingResourceError, RuntimeFailure
from ..train import epoch_hook
from .session import first_line, our_error, ray_session


@dataclass
class RayTrainRun:
    """``value``: what rank 0's training function returned; ``metrics``: the last report to Ray."""

    value: Any
    metrics: dict = field(default_factory=dict)
    checkpoint: str | None = None
    storage: str = ""
    workers: int = 0

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "value"}


def fit_on_ray(
    train_fn: Callable[[], Any],
    out_dir: str | Path,
    *,
    workers: int = 2,
    use_gpu: bool = False,
    address: str | None = None,
    max_failures: int = 2,
    storage_path: str | None = None,
) -> RayTrainRun:
    """Run ``train_fn`` on ``workers`` Ray Train workers (DDP); it trains with the core ``Trainer`` into ``out_dir``.

    Args:
        train_fn: a picklable callable without arguments, run on every worker (e.g. a
            ``functools.partial`` of a module-level function); rank 0's return value comes back.
        out_dir: the ``Trainer``'s ``out_dir`` (on a cluster: a path every node can write,
            or a local path on each node: the checkpoint Ray keeps is restored into it).
        storage_path: where Ray keeps the checkpoints (default: next to ``out_dir``; on a
            multi-node cluster a shared path such as NFS or ``s3://...``).

    Raises:
        MissingResourceError: 2006 (no ray), 2007 (no cluster), ``RAY_NO_WORKERS`` (2008) when
            the cluster has fewer CPUs (GPUs) than ``workers``.
        RuntimeFailure: ``RAY_TRAIN_FAILED`` (4013) when training failed beyond ``max_failures``.
    """
    out = Path(out_dir).resolve()
    storage = storage_path or str(out.parent / ".ray_train")
    with ray_session(address) as ray:
        _check_capacity(ray, workers, use_gpu)
        from ray.train import FailureConfig, RunConfig, ScalingConfig
        from ray.train.torch import TorchTrainer

        trainer = TorchTrainer(
            _worker_loop,
            train_loop_config={"train_fn": train_fn, "out_dir": str(out)},
            scaling_config=ScalingConfig(num_workers=workers, use_gpu=use_gpu),
            run_config=RunConfig(
                name=out.name,
                storage_path=storage,
                failure_config=FailureConfig(max_failures=max_failures),
            ),
        )
        try:
            result = trainer.fit()
        except Exception as exc:  # noqa: BLE001  (Ray wraps a worker's error; unwrap ours)
            raise _train_error(exc, out) from exc
        if result.checkpoint is not None and not (out / "last_state.pt").exists():
            result.checkpoint.to_directory(str(out))  # workers on other nodes: bring the model here
        return RayTrainRun(
            value=result.return_value,
            metrics=dict(result.metrics or {}),
            checkpoint=result.checkpoint.path if result.checkpoint is not None else None,
            storage=str(Path(storage) / out.name),
            workers=workers,
        )


def fit_app_on_ray(
    app: Any, data: Any, fit_kwargs: dict, model_dir: str | Path, **train_options: Any
) -> tuple[Any, dict | None]:
    """``app.fit(data, **fit_kwargs)`` on Ray Train workers (DDP); returns the fitted app (opened from ``model_dir``) and rank 0's ``metrics_``.

    Every worker rebuilds the application from its constructor arguments and fits it: the
    apps' training loops run on the core ``Trainer``, which takes rank ``r``'s share of the
    batches and averages the gradients over the workers. Rank 0 saves the fitted model to
    ``model_dir`` (``app.save``); Ray hands that folder back as the run's checkpoint, so a
    driver on another node gets it too. ``train_options``: as
    ``fit_on_ray`` (``workers``, ``use_gpu``, ``address``, ``max_failures``).

    Example:
        >>> rec, metrics = fit_app_on_ray(DINRecommender(), log, {}, "runs/rec", workers=2)  # doctest: +SKIP
    """
    out = Path(model_dir).resolve()
    job = partial(_fit_app_worker, type(app), app.get_params(), data, fit_kwargs, str(out))
    run = fit_on_ray(job, out, **train_options)
    return type(app).load(out), run.value


def _fit_app_worker(cls: type, params: dict, data: Any, fit_kwargs: dict, model_dir: str) -> Any:
    import ray.train

    app = cls(**params).fit(data, **fit_kwargs)
    if ray.train.get_context().get_world_rank() == 0:
        app.save(model_dir)
    return getattr(app, "metrics_", None)


def _check_capacity(ray: Any, workers: int, use_gpu: bool) -> None:
    have = ray.cluster_resources()
    kind = "GPU" if use_gpu else "CPU"
    if workers < 1 or have.get(kind, 0) < workers:
        raise MissingResourceError(
            ErrorCode.RAY_NO_WORKERS,
            f"the Ray cluster has {have.get(kind, 0):g} {kind}s for {workers} training workers",
            value=workers,
            hint=f"pass --workers {max(1, int(have.get(kind, 0)))} or fewer, or add nodes to the cluster",
        )


def _worker_loop(config: dict) -> Any:
    """One Ray Train worker: restore the latest checkpoint if needed, train, report the final folder."""
    import ray.train
    from ray.train import Checkpoint

    ctx = ray.train.get_context()
    rank = ctx.get_world_rank()
    # code that reads torchrun's variables sees the same world (the process group is Ray's)
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(ctx.get_world_size()), LOCAL_RANK=str(ctx.get_local_rank()))
    out = Path(config["out_dir"])
    latest = ray.train.get_checkpoint()
    if latest is not None and ctx.get_local_rank() == 0 and not (out / "last_state.pt").exists():
        latest.to_directory(str(out))
    _barrier()
    with epoch_hook(partial(report_epoch, rank)):
        value = config["train_fn"]()
    final = Checkpoint.from_directory(str(out)) if rank == 0 and out.is_dir() else None
    ray.train.report({"finished": 1}, checkpoint=final, delete_local_checkpoint_after_upload=False)
    return value


def _barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def report_epoch(rank: int, out: Path | None, state: dict) -> None:
    """``Trainer``'s ``on_checkpoint`` under Ray: every worker reports; rank 0 adds the epoch's checkpoint."""
    import ray.train
    from ray.train import Checkpoint

    last = state["history"][-1] if state.get("history") else {}
    metrics = {k: v for k, v in last.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    metrics["epoch"] = state.get("epoch", 0)
    checkpoint = None
    if rank == 0 and out is not None:
        snapshot = Path(tempfile.mkdtemp(prefix="ckpt-"))  # the Trainer rewrites out_dir next epoch
        for path in out.iterdir():
            if path.is_file():
                shutil.copy2(path, snapshot / path.name)
        checkpoint = Checkpoint.from_directory(str(snapshot))
    ray.train.report(metrics, checkpoint=checkpoint, delete_local_checkpoint_after_upload=rank == 0)


def _worker_cause(exc: BaseException) -> str:
    """The last line of a worker's traceback in Ray's error text (the exception that stopped it), or ''."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f" ... {lines[-1]}" if len(lines) > 1 else ""


def _train_error(exc: BaseException, out: Path) -> DeepSeekAppsError:
    """Our own error when a worker raised one; else ``RAY_TRAIN_FAILED`` (4013)."""
    return our_error(exc) or RuntimeFailure(
        ErrorCode.RAY_TRAIN_FAILED,
        f"Ray Train stopped: {first_line(exc)}{_worker_cause(exc)}",
        value=str(out),
        hint="fix the cause and run the same command again: training resumes from the last checkpoint",
    )
