"""Resumable batch analysis: contract files in, one JSON line per file out, exactly once.

Each line is ``{"file": ..., "ok": true, "analysis": {...}}`` or ``{"file": ..., "ok": false,
"error": {"code", "family", "message", "value", "hint"}}``. Lines are written whole and
fsynced one file at a time, so a job killed at any moment leaves at most one torn last line;
the next run cuts it off, skips every file already in the output and analyses the rest.

Example:
    >>> from deepseek_apps.apps.contracts.app import ContractParser
    >>> from deepseek_apps.apps.contracts.batch import analyze_files
    >>> summary = analyze_files(ContractParser(), ["contracts/"], "results.jsonl")  # doctest: +SKIP
    >>> summary.ok, summary.failed, summary.skipped  # doctest: +SKIP
    (12, 1, 0)
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from deepseek_apps.core.runtime.files import expand_inputs as expand_paths
from deepseek_apps.core.runtime.jsonl import append_records, locked_output, read_records
from deepseek_apps.errors import DeepSeekAppsError, ErrorCode, InvalidInputError

CONTRACT_SUFFIXES = frozenset({".pdf", ".docx", ".txt", ".png", ".jpg", ".jpeg", ".tif", ".tiff"})


@dataclass
class BatchSummary:
    """Counts over every input of one run: ``ok`` and ``failed`` include lines from earlier runs."""

    total: int = 0
    ok: int = 0
    failed: int = 0
    analysed_now: int = 0
    skipped: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self, out: str | Path) -> str:
        """The one-line summary the CLI prints."""
        return (
            f"contracts: {self.ok} ok, {self.failed} failed, {self.skipped} skipped (already in {out}); "
            f"{self.analysed_now} analysed in {self.seconds:.1f} s"
        )


def expand_inputs(inputs: Iterable[str | Path]) -> list[Path]:
    """Files, folders (their contract files, recursively) and glob patterns -> sorted unique paths.

    A named file is kept whatever its suffix (an unsupported or missing one becomes a per-file
    error); a folder contributes only files with a suffix the parser reads.
    """
    return expand_paths(inputs, CONTRACT_SUFFIXES)


def contract_paths(inputs: Iterable[str | Path] | str | Path) -> list[Path]:
    """``expand_inputs`` that raises ``InvalidInputError`` when nothing at all was found."""
    inputs = [inputs] if isinstance(inputs, str | Path) else list(inputs)
    paths = expand_inputs(inputs)
    if not paths:
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            "no contract files found",
            value=[str(i) for i in inputs],
            hint=f"pass files, or folders holding {', '.join(sorted(CONTRACT_SUFFIXES))} files",
        )
    return paths


def prepare(parser) -> None:
    """Load what every file needs (glossary, clause model) once, before the first file.

    A bad ``--legal-terms`` file or a missing clause model then stops the job with one clear
    error instead of being recorded against every file.
    """
    if parser.output_format != "model":
        raise InvalidInputError(
            ErrorCode.CONTRACT_BAD_OPTION,
            "batch analysis writes the parser's typed results",
            value=parser.output_format,
            hint="use ContractParser(output_format='model') for analyze_files",
        )
    parser.legal_terms()
    if parser.clauses:
        parser.tagger()


def analyze_one(parser, path: Path) -> dict[str, Any]:
    """The output line of one file: its analysis, or the error that stopped it."""
    try:
        return {"file": str(path), "ok": True, "analysis": parser.analyze(path).to_dict()}
    except InvalidInputError as exc:
        if exc.code == ErrorCode.CONTRACT_BAD_OPTION:
            raise  # a wrong option fails every file: stop instead of recording it N times
        return {"file": str(path), "ok": False, "error": exc.to_dict()}
    except DeepSeekAppsError as exc:  # a library's exception on one file arrives as BACKEND_FAILURE (4002)
        return {"file": str(path), "ok": False, "error": exc.to_dict()}


def analyze_files(
    parser,
    inputs: Iterable[str | Path],
    out: str | Path,
    progress: bool = True,
    engine: str = "local",
    **ray_options: Any,
) -> BatchSummary:
    """Analyse every contract in ``inputs`` into ``out`` (JSON lines), resuming a previous run.

    Args:
        parser: a ``ContractParser`` (default ``output_format="model"``).
        inputs: files, folders and glob patterns (see ``expand_inputs``).
        out: the JSON-lines file; lines of files already in it are kept and those files skipped.
        progress: show a tqdm bar with rate and ETA.
        engine: ``"ray"`` analyses the files on a Ray cluster (``ray_options``: ``address``,
            ``workers``, ``batch_size`` files per part) into ``out`` as a folder of JSON-lines parts.

    Raises:
        InvalidInputError: no input at all, or a glob that matched nothing.
        RuntimeFailure: ``OUTPUT_LOCKED`` (4004) when another job is writing ``out``.
    """
    from deepseek_apps.core.scale.session import check_engine

    paths = contract_paths(inputs)
    prepare(parser)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if check_engine(engine) == "ray":
        from .ray_adapter import analyze_on_ray

        done, analysed_now, seconds = analyze_on_ray(parser, paths, out, prepare, analyze_one, progress, **ray_options)
    else:
        done, analysed_now, seconds = _analyze_local(parser, paths, out, progress)
    summary = BatchSummary(
        total=len(paths), analysed_now=analysed_now, skipped=len(paths) - analysed_now, seconds=seconds
    )
    for path in paths:
        if done[str(path)]["ok"]:
            summary.ok += 1
        else:
            summary.failed += 1
    return summary


def _analyze_local(parser, paths: list[Path], out: Path, progress: bool) -> tuple[dict, int, float]:
    """``(records by file, files analysed now, seconds)``: the job in this process, into one JSON-lines file."""
    from tqdm.auto import tqdm

    with locked_output(out) as fh:
        done = read_records(out, key="file")
        todo = [p for p in paths if str(p) not in done]
        started = time.perf_counter()
        bar = tqdm(total=len(todo), unit="file", desc="analyze", disable=not progress, dynamic_ncols=True)
        for path in todo:
            bar.set_postfix_str(path.name[-40:], refresh=False)
            record = analyze_one(parser, path)
            append_records(fh, [record])
            done[record["file"]] = record
            bar.update(1)
        bar.close()
    return done, len(todo), time.perf_counter() - started
