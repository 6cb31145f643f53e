"""One writer per output file: a second job on the same ``--out`` fails with 4004 and writes nothing.

Cases: the lock held in this process, held by another process (then SIGKILLed: the OS releases
it and the job resumes, every input exactly once), the inspector and contracts CLIs, and a
finished job that leaves the file unlocked.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from deepseek_apps.apps.contracts.app import ContractParser
from deepseek_apps.apps.contracts.batch import analyze_files
from deepseek_apps.apps.contracts.synthetic import generate_contract
from deepseek_apps.cli import main
from deepseek_apps.core.runtime.jsonl import append_records, locked_output, read_records
from deepseek_apps.errors import DeepSeekAppsError, ErrorCode

pytest.importorskip("fcntl", reason="advisory file locks are POSIX only")

_HOLDER = """
import sys
from deepseek_apps.core.runtime.jsonl import locked_output
with locked_output(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.read()  # hold the lock until killed or stdin closes
"""


@pytest.fixture()
def contracts(tmp_path) -> Path:
    folder = tmp_path / "contracts"
    folder.mkdir()
    for i in range(3):
        (folder / f"c{i}.txt").write_text(generate_contract(seed=50 + i).text, encoding="utf-8")
    return folder


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _holder(out: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"locked"
    return proc


def test_second_writer_in_this_process_is_refused(tmp_path):
    out = tmp_path / "out.jsonl"
    with locked_output(out) as fh:
        append_records(fh, [{"id": 1}])
        with pytest.raises(DeepSeekAppsError) as info, locked_output(out):
            pass
        assert info.value.code == ErrorCode.OUTPUT_LOCKED and str(out) in str(info.value)
        assert "--out" in info.value.hint
    with locked_output(out) as fh:  # released at the end of the block
        assert list(read_records(out, key="id")) == [1]


def test_contracts_job_refused_while_another_process_writes_then_resumes_after_its_crash(tmp_path, contracts):
    parser = ContractParser(clauses=False)
    out = tmp_path / "out.jsonl"
    analyze_files(parser, [contracts / "c0.txt"], out, progress=False)
    holder = _holder(out)
    try:
        with pytest.raises(DeepSeekAppsError) as info:
            analyze_files(parser, [contracts], out, progress=False)
        assert info.value.code == ErrorCode.OUTPUT_LOCKED
        assert [r["file"] for r in _lines(out)] == [str(contracts / "c0.txt")]  # nothing written twice
    finally:
        holder.send_signal(signal.SIGKILL)  # a crash: the OS releases the lock
        holder.wait()
    summary = analyze_files(parser, [contracts], out, progress=False)
    assert (summary.analysed_now, summary.skipped, summary.ok) == (2, 1, 3)
    files = [r["file"] for r in _lines(out)]
    assert sorted(files) == sorted(str(p) for p in contracts.iterdir()) and len(set(files)) == len(files)


def test_clis_answer_4004_with_a_hint(tmp_path, contracts, capsys, sample_images):
    images = tmp_path / "imgs"
    images.mkdir()
    sample_images[0].save(images / "a.png")
    for argv in (
        ["inspector", "score", str(images), "--no-progress"],
        ["contracts", "predict", str(contracts), "--no-clauses", "--no-progress"],
    ):
        out = tmp_path / f"{argv[0]}.jsonl"
        holder = _holder(out)
        try:
            assert main([*argv, "--out", str(out)]) == 2
            err = capsys.readouterr().err
            assert "DSA-4004" in err and "--out" in err and out.read_text() == ""
        finally:
            holder.stdin.close()  # a clean exit releases the lock too
            holder.wait()
        assert main([*argv, "--out", str(out)]) == 0
        assert len(_lines(out)) == len(os.listdir(images if argv[0] == "inspector" else contracts))
