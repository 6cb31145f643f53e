"""Resumable JSON-lines output: each record written whole, flushed and fsynced.

A job killed at any moment leaves at most one torn last line; ``read_records`` cuts it off
and returns the records already written (by their key), so a re-run skips them and
appends the rest: nothing lost, nothing duplicated.

Example:
    >>> from deepseek_apps.core.runtime.jsonl import read_records, append_records
    >>> done = read_records("out.jsonl", key="user_id")  # doctest: +SKIP
    >>> with open("out.jsonl", "a") as fh:  # doctest: +SKIP
    ...     append_records(fh, [{"user_id": 1, "items": [3, 4]}])
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any


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
