"""Any application's batch job on Ray Data: chunks of items through an actor pool, parts out.

The driver lists the items (``adapter`` decides what an item is: an image path, a contract
file, a user id, a row of a transactions file), drops those already in a committed part of
``out`` (see ``parts``), cuts the rest into chunks exactly as the local job batches them, and
turns the chunks into a Ray Dataset. ``map_batches`` sends them through a pool of actors;
each actor builds the application once (``Application.load`` with the trusted keys in force)
and writes one part per chunk. Ray restarts an actor that dies and retries its chunk, which
rewrites the same part name; a killed driver leaves committed parts, which the next run skips.

An adapter (``apps/<app>/ray_adapter.py``) is a small picklable object with four methods::

    item_key(item) -> a JSON value naming the item (unique within the job)
    plan(todo, batch_size) -> list of chunks (lists of items), as the local job batches them
    prepare(app) -> whatever every chunk needs, built once per actor (or None)
    score(app, state, items) -> the output records of one chunk, per-item errors recorded

Example:
    >>> from deepseek_apps.core.scale.ray_batch import run_batch
    >>> run = run_batch(inspector, adapter, paths, "scores/", workers=2)  # doctest: +SKIP
    >>> run.scored_now, run.skipped  # doctest: +SKIP
    (980, 20)
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ...errors import DeepSeekAppsError, ErrorCode, InvalidInputError, RuntimeFailure
from ..runtime.bundle import TRUSTED_KEYS_ENV, bundle_policy
from .parts import PartStore, part_name
from .session import first_line, our_error, ray_session


class BatchAdapter(Protocol):
    def item_key(self, item: Any) -> Any: ...

    def plan(self, todo: list[Any], batch_size: int) -> list[list[Any]]: ...

    def prepare(self, app: Any) -> Any: ...

    def score(self, app: Any, state: Any, items: list[Any]) -> list[dict]: ...


def plan_slices(todo: list[Any], batch_size: int) -> list[list[Any]]:
    """Consecutive chunks of ``batch_size`` items: how the local jobs batch their inputs."""
    if batch_size < 1:
        raise InvalidInputError(ErrorCode.INVALID_ARGUMENT, "batch size must be at least 1", value=batch_size)
    return [todo[i : i + batch_size] for i in range(0, len(todo), batch_size)]


@dataclass
class AppSpec:
    """How a worker rebuilds the driver's application: its class and constructor arguments.

    The model is loaded again from ``params["model_path"]`` (or the shipped default) under the
    bundle policy (``trusted_keys``, ``key``): a worker opens only what the driver would.
    """

    cls: type
    params: dict[str, Any]
    trusted_keys: Any = None
    key: Any = None

    @classmethod
    def of(cls, app: Any, trusted_keys: Any = None, key: Any = None) -> AppSpec:
        """The spec of ``app``; trusted keys (given, else ``$DEEPSEEK_APPS_TRUSTED_KEYS``) travel as bytes."""
        if trusted_keys is None and os.environ.get(TRUSTED_KEYS_ENV):
            trusted_keys = [Path(p) for p in os.environ[TRUSTED_KEYS_ENV].split(os.pathsep) if p]
        return cls(type(app), app.get_params(), _as_bytes(trusted_keys), _as_bytes(key))

    def build(self) -> Any:
        params = dict(self.params)
        path = params.pop("model_path", None)
        if path is not None:
            return self.cls.load(path, trusted_keys=self.trusted_keys, key=self.key, **params)
        app = self.cls(**params)  # the shipped model, opened now under the same policy
        with bundle_policy(self.trusted_keys, self.key):
            app._load_now()  # noqa: SLF001  (the step Application.load runs)
        return app


@dataclass
class RayRun:
    """What a Ray batch job did: ``records`` are every committed record, by the adapter's record key."""

    records: list[dict]
    new_records: list[dict] = field(default_factory=list)  # those this run wrote
    total: int = 0
    scored_now: int = 0
    skipped: int = 0
    parts: int = 0
    seconds: float = 0.0
    workers: int = 0
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("records", "new_records")}


class PartScorer:
    """The actor: builds the app once, then scores chunks into committed parts."""

    def __init__(self, spec: AppSpec, adapter: BatchAdapter, folder: str):
        self.app = spec.build()
        self.adapter = adapter
        self.state = adapter.prepare(self.app)
        self.store = PartStore(folder)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        names, counts = [], []
        for name, blob in zip(batch["part"], batch["items"]):
            items = json.loads(blob)
            if not self.store.is_committed(name):  # a retried chunk whose part was written already
                records = self.adapter.score(self.app, self.state, items)
                self.store.commit(name, [self.adapter.item_key(i) for i in items], records)
            names.append(str(name))
            counts.append(len(items))
        return {"part": names, "items": counts}


def run_batch(
    app: Any,
    adapter: BatchAdapter,
    items: list[Any],
    out: str,
    *,
    workers: int | None = None,
    batch_size: int = 16,
    address: str | None = None,
    trusted_keys: Any = None,
    key: Any = None,
    progress: bool = True,
) -> RayRun:
    """Score ``items`` with ``app`` on Ray into the part folder ``out``, resuming; see the module docstring.

    Args:
        workers: actors in the pool (each loads the model once; default: the cluster's CPUs).
        batch_size: items per chunk (one part each; also what the app's own batching gets).
        address: the cluster (see ``session.ray_session``); default ``$RAY_ADDRESS`` or a local one.
        trusted_keys, key: the bundle policy the workers load the model under (default: the
            environment's, which is forwarded to them).

    Raises:
        MissingResourceError: 2006 (no ray), 2007 (no cluster at ``address``).
        RuntimeFailure: 4004 (another job holds ``out``), 4010 (the job failed beyond Ray's
            retries: re-run to resume), 4011 / 4012 (``out`` is not a part folder).
        DeepSeekAppsError: what a worker raised for the whole job (a bad model, a bad option).
    """
    from tqdm.auto import tqdm

    store = PartStore(out)
    spec = AppSpec.of(app, trusted_keys, key)
    started = time.perf_counter()
    with store.locked():
        done = store.done_keys()
        todo = [item for item in items if adapter.item_key(item) not in done]
        chunks = adapter.plan(todo, batch_size)
        rows = [
            {"part": part_name([adapter.item_key(i) for i in c]), "items": json.dumps(c, default=_plain)}
            for c in chunks
        ]
        timings = {"plan_s": time.perf_counter() - started}
        pool = 0
        if rows:
            with ray_session(address) as ray:
                timings["connect_s"] = time.perf_counter() - started - timings["plan_s"]
                pool = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
                ctx = ray.data.DataContext.get_current()
                ctx.enable_progress_bars = False
                ctx.print_on_execution_start = False
                ds = ray.data.from_items(rows, override_num_blocks=min(len(rows), pool * 4))
                scored = ds.map_batches(
                    PartScorer,
                    fn_constructor_kwargs={"spec": spec, "adapter": adapter, "folder": str(store.folder)},
                    batch_size=1,
                    compute=ray.data.ActorPoolStrategy(size=pool),
                    num_cpus=1,
                    batch_format="numpy",
                )
                bar = tqdm(total=len(todo), unit="item", desc="score (ray)", disable=not progress, dynamic_ncols=True)
                try:
                    for row in scored.iter_rows():
                        bar.update(int(row["items"]))
                except Exception as exc:  # noqa: BLE001  (Ray wraps a worker's error; unwrap ours)
                    raise _job_error(exc, out) from exc
                finally:
                    bar.close()
        records = store.records()
        committed = len(store.committed())
        new = store.records(parts=[row["part"] for row in rows])
    return RayRun(
        records=records,
        new_records=new,
        total=len(items),
        scored_now=len(todo),
        skipped=len(items) - len(todo),
        parts=committed,
        seconds=time.perf_counter() - started,
        workers=pool,
        timings=timings,
    )


def _job_error(exc: BaseException, out: str) -> DeepSeekAppsError:
    """Our own error when a worker raised one (Ray wraps it); else ``RAY_JOB_FAILED`` (4010)."""
    return our_error(exc) or RuntimeFailure(
        ErrorCode.RAY_JOB_FAILED,
        f"the Ray batch job stopped: {first_line(exc)}",
        value=out,
        hint="fix the cause and run the same command again: committed parts are kept and skipped",
    )


def _plain(value: Any) -> Any:
    """numpy scalars (ids read from a table) as the Python values JSON can hold."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"an item must be JSON data, not {type(value).__name__}")


def _as_bytes(keys: Any) -> Any:
    """Key files read on the driver, so workers need no copy of them (bytes pass through)."""
    if keys is None or isinstance(keys, bytes):
        return keys
    if isinstance(keys, str | Path):
        return Path(keys).read_bytes()
    return [_as_bytes(k) for k in keys]
