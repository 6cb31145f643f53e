"""Resumable JSON-lines output: each record written whole, flushed and fsynced.

A job killed at any moment leaves at most one torn last line; ``read_records`` cuts it off
and returns the records already written (by their key), so a re-run skips them and
appends the rest: nothing lost, nothing duplicated.

Only one job may write an output at a time: ``locked_output`` opens it for appending under an
exclusive, non-blocking ``flock``, and a second job on the same file fails at once with
``OUTPUT_LOCKED`` (4004) instead of writing every record twice. The operating system
releases the lock when the job ends, however it ends (a crash or SIGKILL included). Read the
records already done inside the ``with`` block: the torn-line repair then cannot cut a line
another job is writing. (Where ``fcntl`` is missing, on Windows, the file is opened unlocked.)

Example:
    >>> from deepseek_apps.core.runtime.jsonl import append_records, locked_output, read_records
    >>> with locked_output("out.jsonl") as fh:  # doctest: +SKIP
    ...     done = read_records("out.jsonl", key="user_id")
    ...     append_records(fh, [{"user_id": 1, "items": [3, 4]}])
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from ...errors import ErrorCode, RuntimeFailure


@contextmanager
def locked_output(path: str | Path) -> Iterator[IO[str]]:
    """``path`` opened for appending (created if missing) under an exclusive lock held until the block ends.

    Raises:
        RuntimeFailure: ``OUTPUT_LOCKED`` (4004) when another process (or another open of the
            file in this one) holds the lock: a job is already writing this output.
    """
    path = Path(path)
    with open(path, "a", encoding="utf-8") as fh:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks here
            yield fh
            return
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise RuntimeFailure(
                ErrorCode.OUTPUT_LOCKED,
                "another job is writing this output file",
                value=str(path),
                hint="wait for that job to finish (a re-run then resumes), or pass another --out",
            ) from exc
        yield fh  # closing the file (here, or the OS on a crash) releases the lock


def read_records(path: str | Path, key: str) -> dict[Any, dict]:
    """Records already in ``path`` keyed by ``record[key]``; a torn last line is truncated away.

    Reading stops at the first line that is not a whole JSON record with ``key``; the file is
    cut there, so the next append starts on a clean line.
    """
    path = Path(path)
    done: dict[Any, dict] = {}
    if not path.exists():
        return done
    data = path.read_bytes()
    good = 0
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break
        try:
            rec = json.loads(line)
            done[rec[key]] = rec
        except (json.JSONDecodeError, KeyError, TypeError):
            break
        good += len(line)
    if good != len(data):
        with open(path, "r+b") as fh:
            fh.truncate(good)
    return done


def append_records(fh: IO[str], records: Iterable[dict]) -> int:
    """Write ``records`` as JSON lines in one write, then flush and fsync; returns the count."""
    lines = [json.dumps(r, default=_default) + "\n" for r in records]
    fh.write("".join(lines))
    fh.flush()
    os.fsync(fh.fileno())
    return len(lines)


def _default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
