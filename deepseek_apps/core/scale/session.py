"""Importing Ray lazily, and one Ray session per job: an existing cluster or a local one.

``address`` is what ``ray.init`` takes: ``None`` (``$RAY_ADDRESS`` when set, else a new
local cluster), ``"auto"`` (the cluster ``ray start --head`` started on this machine) or
``"ray://host:10001"`` (Ray Client). A session this module started is shut down when the
block ends; one the caller started (``ray.init`` before the job) is left running.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ...errors import DeepSeekAppsError, ErrorCode, InvalidInputError, MissingResourceError

ENGINES = ("local", "ray")
# environment that decides which bundles a worker may open (see core.runtime.bundle)
POLICY_ENV = ("DEEPSEEK_APPS_TRUSTED_KEYS", "DEEPSEEK_APPS_ENCRYPT_KEY", "DEEPSEEK_APPS_BUNDLE_KEY_FILE")


def require_ray() -> Any:
    """The ``ray`` module, or ``RAY_NOT_INSTALLED`` (2006) with the pip command."""
    try:
        import ray
    except ImportError as exc:
        raise MissingResourceError(
            ErrorCode.RAY_NOT_INSTALLED,
            "--engine ray needs Ray (Ray Data and Ray Train), which is not installed",
            value="ray",
            hint="install it with: pip install 'deepseek-apps[ray]' (or run with --engine local)",
        ) from exc
    return ray


def check_engine(engine: str) -> str:
    """``engine`` when it is ``local`` or ``ray``; else ``RAY_ENGINE_UNKNOWN`` (4014)."""
    if engine not in ENGINES:
        raise InvalidInputError(
            ErrorCode.RAY_ENGINE_UNKNOWN,
            "unknown engine",
            value=engine,
            hint=f"use one of: {', '.join(ENGINES)}",
        )
    return engine


def runtime_env(ship_package: bool) -> dict[str, Any]:
    """What every worker needs: the bundle-policy variables, and this package when ``ship_package``.

    Shipping (Ray's ``py_modules``) uploads ``deepseek_apps`` to the cluster, for clusters whose
    nodes do not have it installed; its dependencies must be there (``pip install
    'deepseek-apps[all]'`` on the nodes, or a ``pip`` entry in your own runtime environment).
    """
    env: dict[str, Any] = {"env_vars": {k: os.environ[k] for k in POLICY_ENV if os.environ.get(k)}}
    if ship_package:
        env["py_modules"] = [str(Path(__file__).resolve().parents[2])]
    return env


@contextmanager
def ray_session(
    address: str | None = None, num_cpus: int | None = None, ship_package: bool | None = None
) -> Iterator[Any]:
    """Ray connected for the block: to ``address`` (or ``$RAY_ADDRESS``), else a local cluster of ``num_cpus``.

    Raises:
        MissingResourceError: ``RAY_NOT_INSTALLED`` (2006); ``RAY_CLUSTER_UNREACHABLE`` (2007)
            when ``address`` names no running cluster.
    """
    ray = require_ray()
    if ray.is_initialized():
        yield ray
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    ship = ship_package if ship_package is not None else bool(address and address.startswith("ray://"))
    kwargs: dict[str, Any] = {"runtime_env": runtime_env(ship), "log_to_driver": False}
    if address:
        kwargs["address"] = address
    else:
        kwargs.update(num_cpus=num_cpus, include_dashboard=False)
    try:
        ray.init(**kwargs)
    except (ConnectionError, TimeoutError, ValueError) as exc:
        raise MissingResourceError(
            ErrorCode.RAY_CLUSTER_UNREACHABLE,
            f"cannot connect to the Ray cluster ({exc})",
            value=address,
            hint="start one with `ray start --head` (then --address auto), check RAY_ADDRESS, "
            "or leave --address out to run a local cluster",
        ) from exc
    try:
        yield ray
    finally:
        ray.shutdown()


def our_error(exc: BaseException) -> DeepSeekAppsError | None:
    """The error of ours that a worker raised, found inside Ray's wrappers (None when there is none)."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        cur = stack.pop()
        if cur is None or id(cur) in seen:
            continue
        seen.add(id(cur))
        if isinstance(cur, DeepSeekAppsError):
            return cur
        if isinstance(cur, BaseException):
            stack += [cur.__cause__, cur.__context__, getattr(cur, "cause", None)]
            failures = getattr(cur, "worker_failures", None)  # Ray Train: {rank: exception}
            if isinstance(failures, dict):
                stack += list(failures.values())
    return None


def first_line(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"
