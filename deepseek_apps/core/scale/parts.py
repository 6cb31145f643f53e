"""The output of a scaled-out batch job: a folder of JSON-lines parts, each committed atomically.

Layout of ``out/``::

    part-<hash>.jsonl       the records of one chunk of items, one JSON line each (as the local job writes them)
    part-<hash>.keys.json   the keys of the items in that chunk (one JSON line: {"keys": [...]})
    _job.lock               held by the driver while it runs (a second job on the folder fails with 4004)

A chunk's name is the hash of its item keys, so a chunk that Ray runs twice (a retried task)
writes the same part again instead of a second one. A part is committed when its ``.jsonl``
exists: the keys are written first, then the records, each to a temporary file that is fsynced
and renamed over the final name. A worker or driver killed at any moment leaves only
temporary files (deleted by the next run) or a keys file without records (ignored, rewritten).
The items already done are the keys of committed parts; a re-run plans only the others, so
each item ends up in exactly one part. ``cat out/part-*.jsonl`` is the whole output.

Example:
    >>> from deepseek_apps.core.scale.parts import PartStore
    >>> store = PartStore("scores/")  # doctest: +SKIP
    >>> records = store.records(key="source")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ...errors import ErrorCode, RuntimeFailure
from ..runtime.jsonl import append_records, locked_output

PREFIX = "part-"


def part_name(keys: list[Any]) -> str:
    """The part of a chunk: ``part-`` and a hash of its keys (the same chunk, the same name)."""
    digest = hashlib.sha256(json.dumps(keys, sort_keys=True, default=str).encode()).hexdigest()
    return f"{PREFIX}{digest[:24]}"


class PartStore:
    """A folder of committed parts; see the module docstring for the layout and the guarantees."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    # ------------------------------------------------------------------ driver side
    @contextmanager
    def locked(self) -> Iterator[None]:
        """The folder created and locked for one job; stale temporary files are removed first.

        Raises:
            RuntimeFailure: ``RAY_OUTPUT_NOT_FOLDER`` (4012) when the path is a file;
                ``OUTPUT_LOCKED`` (4004) when another job holds the folder.
        """
        if self.folder.is_file():
            raise RuntimeFailure(
                ErrorCode.RAY_OUTPUT_NOT_FOLDER,
                "--engine ray writes a folder of JSON-lines parts, but --out is an existing file",
                value=str(self.folder),
                hint="pass a folder (e.g. --out scores/); a local job's .jsonl cannot be resumed on Ray",
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        with locked_output(self.folder / "_job.lock"):
            for stale in self.folder.glob(f".{PREFIX}*.tmp-*"):
                stale.unlink(missing_ok=True)
            yield

    def committed(self) -> list[str]:
        """Names of the committed parts, sorted."""
        return sorted(p.name[: -len(".jsonl")] for p in self.folder.glob(f"{PREFIX}*.jsonl"))

    def done_keys(self) -> set[Any]:
        """Keys of every item in a committed part.

        Raises:
            RuntimeFailure: ``RAY_PARTS_INCONSISTENT`` (4011) when an item is in two parts or a
                committed part lost its keys file (the folder was edited by hand or by another tool).
        """
        done: set[Any] = set()
        for name in self.committed():
            try:
                keys = json.loads((self.folder / f"{name}.keys.json").read_text(encoding="utf-8"))["keys"]
            except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
                raise self._inconsistent(f"part {name} has no readable keys file", name) from exc
            overlap = done.intersection(keys)
            if overlap:
                raise self._inconsistent(f"items in two parts: {sorted(map(str, overlap))[:5]}", name)
            done.update(keys)
        return done

    def records(
        self, key: str | Callable[[dict], Any] | None = None, parts: list[str] | None = None
    ) -> list[dict] | dict[Any, dict]:
        """Committed records (of ``parts``, default all) as a list, or by ``key`` (a field or a function)."""
        out: list[dict] = []
        for name in self.committed() if parts is None else [p for p in parts if self.is_committed(p)]:
            with open(self.folder / f"{name}.jsonl", encoding="utf-8") as fh:
                out.extend(json.loads(line) for line in fh if line.strip())
        if key is None:
            return out
        key_of = key if callable(key) else (lambda rec: rec[key])
        return {key_of(rec): rec for rec in out}

    # ------------------------------------------------------------------ worker side
    def is_committed(self, name: str) -> bool:
        return (self.folder / f"{name}.jsonl").exists()

    def commit(self, name: str, keys: list[Any], records: list[dict]) -> bool:
        """Write part ``name`` (keys, then records, each atomically); False when it was committed already."""
        if self.is_committed(name):
            return False
        self._write_atomic(f"{name}.keys.json", [{"keys": keys}])
        self._write_atomic(f"{name}.jsonl", records)
        return True

    def _write_atomic(self, final: str, records: list[dict]) -> None:
        tmp = self.folder / f".{final}.tmp-{uuid.uuid4().hex[:8]}"
        with open(tmp, "w", encoding="utf-8") as fh:
            append_records(fh, records)  # the local job's serialisation, flushed and fsynced
        os.replace(tmp, self.folder / final)
        _fsync_dir(self.folder)

    def _inconsistent(self, what: str, name: str) -> RuntimeFailure:
        return RuntimeFailure(
            ErrorCode.RAY_PARTS_INCONSISTENT,
            f"the output folder is not one job's parts: {what}",
            value=str(self.folder / name),
            hint="write to a new --out folder, or delete the folder to start over",
        )


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows: directories cannot be opened
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
