"""Helpers of the training page: the ``train`` command, its live output and its final metrics.

The training itself is the CLI's (``deepseek-apps <app> train``), run as a subprocess, so the
page shows what a terminal would. Only the public ``deepseek_apps`` API is used; testable
without Streamlit.
"""

from __future__ import annotations

import codecs
import json
import os
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from deepseek_apps.errors import ErrorCode, InvalidInputError


@dataclass(frozen=True)
class TrainableApp:
    """An application the page can train: its class, the page that opens its models, its data."""

    name: str
    class_name: str
    page: str
    page_title: str
    data_help: str


APPLICATIONS = {
    app.name: app
    for app in (
        TrainableApp(
            "inspector",
            "QualityInspector",
            "pages/1_Quality_Inspector.py",
            "Quality Inspector",
            "annotated image folder (VOC, YOLO, COCO or masks)",
        ),
        TrainableApp(
            "recommender",
            "DINRecommender",
            "pages/5_DIN_Recommender.py",
            "DIN Recommender",
            "behaviour log: a CSV / Parquet file or a MovieLens folder",
        ),
        TrainableApp(
            "fraud",
            "FraudDetector",
            "pages/6_Fraud_Detector.py",
            "Fraud Detector",
            "transactions file, or synthetic:N for N generated transactions",
        ),
        TrainableApp(
            "contracts",
            "ContractParser",
            "pages/3_Contract_Parser.py",
            "Contract Parser",
            "folder with labels.csv and contracts/*.txt (the CUAD layout)",
        ),
    )
}


def train_command(
    app: str, data: str | Path, out: str | Path, epochs: int, seed: int, python: str = sys.executable
) -> list[str]:
    """``python -m deepseek_apps.cli <app> train --data D --out O --epochs N --seed S``."""
    if app not in APPLICATIONS:
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT, "unknown application", value=app, hint=f"one of {', '.join(APPLICATIONS)}"
        )
    args = ["--data", str(data), "--out", str(out), "--epochs", str(int(epochs)), "--seed", str(int(seed))]
    return [python, "-m", "deepseek_apps.cli", app, "train", *args]


def last_json(lines: Sequence[str], max_lines: int = 200) -> dict | None:
    """The JSON object that ends the output: its last line, or the last lines when indented.

    ``None`` when the output does not end with a JSON object.
    """
    lines = [line for line in lines[-max_lines:] if line.strip()]
    for start in range(len(lines) - 1, -1, -1):
        if lines[start].lstrip().startswith("{"):
            try:
                value = json.loads("\n".join(lines[start:]))
            except json.JSONDecodeError:
                continue
            return value if isinstance(value, dict) else None
    return None


@dataclass
class TrainRun:
    """A running command whose stdout lines and latest stderr line are collected as they come.

    stdout is kept line by line (the metrics JSON is its last line); on stderr a carriage
    return ends a segment too, so ``progress`` is the bar tqdm is drawing right now.

    Example:
        >>> run = TrainRun.start([sys.executable, "-c", "print('{\\"loss\\": 0.5}')"])
        >>> run.wait()
        0
        >>> run.metrics
        {'loss': 0.5}
    """

    process: subprocess.Popen
    stdout: list[str] = field(default_factory=list)
    stderr_tail: deque[str] = field(default_factory=lambda: deque(maxlen=40))
    progress: str = ""
    _readers: list[threading.Thread] = field(default_factory=list)

    @classmethod
    def start(cls, command: Sequence[str], cwd: str | Path | None = None) -> TrainRun:
        """Start ``command`` unbuffered, with one reader thread per pipe."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            list(command), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        run = cls(process)
        run._readers = [
            threading.Thread(target=_read_segments, args=(process.stdout, "\n", run._on_stdout), daemon=True),
            threading.Thread(
                target=_read_segments, args=(process.stderr, "\r\n", run._on_stderr, run._on_partial), daemon=True
            ),
        ]
        for reader in run._readers:
            reader.start()
        return run

    def _on_stdout(self, line: str, ended_by: str) -> None:
        self.stdout.append(line.rstrip("\r"))

    def _on_stderr(self, segment: str, ended_by: str) -> None:
        if segment.strip():
            self.progress = segment.strip()
            if ended_by != "\r":  # a bar redrawn in place is progress, not a log line
                self.stderr_tail.append(segment)

    def _on_partial(self, segment: str) -> None:
        if segment.strip():
            self.progress = segment.strip()

    @property
    def running(self) -> bool:
        return self.process.poll() is None or any(reader.is_alive() for reader in self._readers)

    @property
    def returncode(self) -> int | None:
        return None if self.running else self.process.returncode

    @property
    def metrics(self) -> dict | None:
        """The final metrics: the JSON object the CLI prints as its last stdout line."""
        return last_json(self.stdout)

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process and for its output to be read to the end; the exit status."""
        code = self.process.wait(timeout)
        for reader in self._readers:
            reader.join(timeout)
        return code

    def stop(self) -> None:
        """Terminate the process (kill it when it does not stop within 10 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _read_segments(pipe: IO[bytes], separators: str, emit, partial=None) -> None:
    """Call ``emit(text, separator)`` for each piece of ``pipe`` ended by one of ``separators``.

    ``partial(text)`` sees the unfinished piece after each read (tqdm draws its bar after a
    carriage return and ends it only with the next one). The last piece, with no separator
    before the end of the stream, is emitted with separator ``""``.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    while chunk := pipe.read1(65536):
        pending += decoder.decode(chunk)
        start = 0
        for i, char in enumerate(pending):
            if char in separators:
                emit(pending[start:i], char)
                start = i + 1
        pending = pending[start:]
        if partial is not None and pending:
            partial(pending)
    pending += decoder.decode(b"", final=True)
    if pending:
        emit(pending, "")
    pipe.close()


def model_hint(app: str, out: str | Path) -> str:
    """How to open the trained model: on its dashboard page, or in Python."""
    spec = APPLICATIONS[app]
    return (
        f"Open it on the **{spec.page_title}** page: type `{out}` as the model path. "
        f"In Python: `from deepseek_apps import {spec.class_name}; model = {spec.class_name}.load({str(out)!r})`."
    )
