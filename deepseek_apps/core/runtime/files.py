"""Input expansion for batch jobs: files, folders and glob patterns -> sorted unique paths.

Example:
    >>> from deepseek_apps.core.runtime.files import expand_inputs
    >>> expand_inputs(["scans/", "extra/*.png"], suffixes={".png", ".jpg"})  # doctest: +SKIP
    [PosixPath('/data/extra/a.png'), PosixPath('/data/scans/b.jpg')]
"""

from __future__ import annotations

import glob
from collections.abc import Iterable
from pathlib import Path

from deepseek_apps.errors import ErrorCode, InvalidInputError


def expand_inputs(inputs: Iterable[str | Path], suffixes: Iterable[str]) -> list[Path]:
    """Resolved paths of ``inputs``: a folder gives its files with one of ``suffixes`` (recursively).

    A named file is kept whatever its suffix or existence, so that a batch job records it as a
    per-item error instead of silently dropping it.

    Raises:
        InvalidInputError: a glob pattern matched nothing (code 1000).
    """
    wanted = {s.lower() for s in suffixes}
    found: dict[str, Path] = {}
    for raw in map(str, inputs):
        matches = [Path(m) for m in glob.glob(raw, recursive=True)] if any(c in raw for c in "*?[") else [Path(raw)]
        if not matches:
            raise InvalidInputError(
                ErrorCode.INVALID_ARGUMENT,
                "pattern matched no files",
                value=raw,
                hint="check the glob or quote it so the shell does not expand it",
            )
        for match in matches:
            if match.is_dir():
                for path in match.rglob("*"):
                    if path.is_file() and path.suffix.lower() in wanted:
                        found[str(path.resolve())] = path.resolve()
            else:
                found[str(match.resolve())] = match.resolve()
    return [found[key] for key in sorted(found)]
