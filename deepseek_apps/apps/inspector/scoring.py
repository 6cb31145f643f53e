"""Resumable batch scoring: files in, one JSON line per file out, exactly once.

Each result line is written whole and flushed to disk before the next batch, so a job
killed at any moment leaves at most one partial last line; the next run drops that line,
skips every file already in the output and scores the rest.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ...core.runtime.files import expand_inputs as expand_paths
from ...core.runtime.jsonl import append_records, locked_output, read_records
from ...datasets.io import IMAGE_SUFFIXES


@dataclass
class ScoreSummary:
    total: int = 0
    ok: int = 0
    ng: int = 0
    errors: int = 0
    per_class: Counter = field(default_factory=Counter)
    scored_now: int = 0
    skipped: int = 0
    images_per_s: float = 0.0

    def to_dict(self) -> dict:
        return {**{k: v for k, v in self.__dict__.items() if k != "per_class"}, "per_class": dict(self.per_class)}


def expand_inputs(inputs: Iterable[str]) -> list[Path]:
    """Files, folders (their images, recursively) and glob patterns -> sorted unique paths."""
    return expand_paths(inputs, IMAGE_SUFFIXES)  # missing files become per-item errors


def read_done(out: Path) -> dict[str, dict]:
    """Records already in ``out`` by source; a torn last line (killed mid-write) is cut off the file."""
    return read_records(out, key="source")


def _annotated_name(path: Path) -> str:
    return f"{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}.png"


def score_files(
    inspector,
    inputs: Iterable[str],
    out: str | Path,
    save_annotated: str | Path | None = None,
    progress: bool = True,
    engine: str = "local",
    **ray_options,
) -> ScoreSummary:
    """Score every image in ``inputs`` into ``out`` (JSON lines), resuming a previous run.

    A file that cannot be read (a decompression bomb, a truncated PNG) becomes a line with its
    coded ``error`` and the job goes on. ``out`` is locked while the job runs: a second job on
    the same file fails at once with ``OUTPUT_LOCKED`` (4004). ``engine="ray"`` scores the same
    batches on a Ray cluster (``ray_options``: ``address``, ``workers``) and writes ``out`` as a
    folder of JSON-lines parts (see ``core.scale.parts``).
    """
    from ...core.scale.session import check_engine

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = expand_inputs(inputs)
    annotated_dir = Path(save_annotated) if save_annotated else None
    if annotated_dir:
        annotated_dir.mkdir(parents=True, exist_ok=True)
    if check_engine(engine) == "ray":
        from .ray_adapter import score_on_ray

        done, scored_now, elapsed = score_on_ray(
            inspector, paths, out, annotated_dir, _score_batch, progress, **ray_options
        )
    else:
        done, scored_now, elapsed = _score_local(inspector, paths, out, annotated_dir, progress)
    summary = ScoreSummary(
        scored_now=scored_now,
        skipped=len(paths) - scored_now,
        images_per_s=scored_now / elapsed if elapsed > 0 and scored_now else 0.0,
    )
    for p in paths:
        rec = done[str(p)]
        summary.total += 1
        if rec["error"]:
            summary.errors += 1
        elif rec["ok"]:
            summary.ok += 1
        else:
            summary.ng += 1
        summary.per_class.update(d["label"] for d in rec["defects"])
    return summary


def _score_local(inspector, paths: list[Path], out: Path, annotated_dir: Path | None, progress: bool):
    """``(records by source, files scored now, seconds)``: the job in this process, into one JSON-lines file."""
    from tqdm.auto import tqdm

    with locked_output(out) as fh:
        done = read_done(out)
        todo = [p for p in paths if str(p) not in done]
        t0 = time.perf_counter()
        bar = tqdm(total=len(todo), unit="img", desc="score", disable=not progress, dynamic_ncols=True)
        for start in range(0, len(todo), inspector.batch_size):
            batch = todo[start : start + inspector.batch_size]
            lines = _score_batch(inspector, batch, annotated_dir)
            append_records(fh, lines)
            done.update((rec["source"], rec) for rec in lines)
            bar.update(len(batch))
        bar.close()
    return done, len(todo), time.perf_counter() - t0


def _score_batch(inspector, batch: list[Path], annotated_dir: Path | None) -> list[dict]:
    """The output records of one batch of files (errors recorded per file)."""
    from .images import to_pil
    from .render import annotate

    lines = []
    for path, res in zip(batch, inspector.predict([str(p) for p in batch], errors="record")):
        res.source = str(path)
        if annotated_dir and res.error is None:
            annotate(to_pil(path), res, inspector.class_names).save(annotated_dir / _annotated_name(path))
        lines.append(res.to_dict())
    return lines


def format_summary(summary: ScoreSummary, class_names: Iterable[str]) -> str:
    rows = [
        ("images", summary.total),
        ("OK", summary.ok),
        ("NG", summary.ng),
        ("errors", summary.errors),
        ("scored this run", summary.scored_now),
        ("already in output", summary.skipped),
        ("images/s (this run)", f"{summary.images_per_s:.1f}"),
    ]
    rows += [(f"defects: {name}", summary.per_class.get(name, 0)) for name in class_names]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
