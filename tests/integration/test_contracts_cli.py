"""`deepseek-apps contracts` end to end: analyze (per-file errors, resumable), demo, schema, help."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pypdfium2", reason="the contracts extra is not installed (pip install deepseek-apps[contracts])")
pytest.importorskip("docx", reason="the contracts extra is not installed (pip install deepseek-apps[contracts])")

from deepseek_apps.apps.contracts.results import ContractAnalysis  # noqa: E402
from deepseek_apps.apps.contracts.synthetic import generate_contract  # noqa: E402
from deepseek_apps.apps.contracts.synthetic.render import render_docx, render_pdf  # noqa: E402
from deepseek_apps.cli import main  # noqa: E402


def run(capsys, *args, clauses: bool = False) -> tuple[int, str, str]:
    """The CLI in process (rules only unless ``clauses``, for speed); returns (exit code, stdout, stderr)."""
    rules_only = ["--no-clauses"] if not clauses and args[0] in ("analyze", "demo") else []
    code = main(["contracts", *map(str, args), *rules_only])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def contract_dir(tmp_path_factory) -> tuple[Path, dict[str, object]]:
    """A folder with a text PDF, a DOCX, a TXT, a corrupt PDF and a file the parser does not read."""
    folder = tmp_path_factory.mktemp("contracts")
    truth = {"a.pdf": generate_contract(seed=21), "b.docx": generate_contract(seed=22), "c.txt": generate_contract(23)}
    (folder / "a.pdf").write_bytes(render_pdf(truth["a.pdf"]))
    (folder / "b.docx").write_bytes(render_docx(truth["b.docx"]))
    (folder / "c.txt").write_text(truth["c.txt"].text, encoding="utf-8")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n garbage")
    (folder / "notes.csv").write_text("not,a,contract\n")  # not a contract suffix: ignored in a folder
    return folder, truth


def test_analyze_records_every_file_and_the_error(capsys, tmp_path, contract_dir):
    folder, truth = contract_dir
    out = tmp_path / "results.jsonl"
    code, stdout, _ = run(capsys, "analyze", folder, "--out", out, "--no-progress")
    assert code == 0
    assert "3 ok, 1 failed, 0 skipped" in stdout
    records = {Path(r["file"]).name: r for r in _records(out)}
    assert sorted(records) == ["a.pdf", "b.docx", "broken.pdf", "c.txt"]
    broken = records.pop("broken.pdf")
    assert broken["ok"] is False and "analysis" not in broken
    assert broken["error"]["code"] == 1303 and broken["error"]["hint"]
    for name, record in records.items():
        assert record["ok"] is True
        analysis = ContractAnalysis.model_validate(record["analysis"])
        assert analysis.document.name == name
        assert analysis.governing_law == [truth[name].facts_of("GOVERNING_LAW")[0].value]
        assert {p.name for p in analysis.parties} == {f.value["name"] for f in truth[name].facts_of("PARTY")}


def test_resume_skips_done_files_and_repairs_a_torn_line(capsys, tmp_path, contract_dir):
    folder, _ = contract_dir
    out = tmp_path / "results.jsonl"
    code, stdout, _ = run(capsys, "analyze", folder / "a.pdf", folder / "c.txt", "--out", out, "--no-progress")
    assert code == 0 and "2 ok, 0 failed, 0 skipped" in stdout
    first = out.read_text()
    with open(out, "a") as fh:  # a job killed in the middle of writing a line
        fh.write(json.dumps({"file": str((folder / "b.docx").resolve()), "ok": True})[:25])
    code, stdout, _ = run(capsys, "analyze", folder, "--out", out, "--no-progress")
    assert code == 0 and "3 ok, 1 failed, 2 skipped" in stdout and "2 analysed" in stdout
    assert out.read_text().startswith(first)  # earlier lines kept byte for byte
    files = [r["file"] for r in _records(out)]
    assert len(files) == len(set(files)) == 4
    code, stdout, _ = run(capsys, "analyze", folder, "--out", out, "--no-progress")
    assert "4 skipped" in stdout and "0 analysed" in stdout
    assert len(_records(out)) == 4


def test_exit_code_is_nonzero_only_when_nothing_was_analysed(capsys, tmp_path, contract_dir):
    folder, _ = contract_dir
    out = tmp_path / "bad.jsonl"
    code, stdout, _ = run(capsys, "analyze", folder / "broken.pdf", tmp_path / "missing.docx", "--out", out)
    assert code == 1 and "0 ok, 2 failed" in stdout
    assert sorted(r["error"]["code"] for r in _records(out)) == [1303, 2001]


def test_bad_glossary_stops_before_any_file(capsys, tmp_path, contract_dir):
    folder, _ = contract_dir
    terms = tmp_path / "terms.json"
    terms.write_text("{not json")
    out = tmp_path / "r.jsonl"
    code, _, stderr = run(capsys, "analyze", folder, "--out", out, "--legal-terms", terms)
    assert code == 2 and "DSA-3301" in stderr
    assert not out.exists() or out.read_text() == ""


def test_stdout_markdown_and_json(capsys, contract_dir):
    folder, truth = contract_dir
    code, stdout, _ = run(capsys, "analyze", folder / "c.txt", "--format", "markdown")
    assert code == 0 and stdout.startswith("# c.txt")
    assert f"Governing law: {truth['c.txt'].facts_of('GOVERNING_LAW')[0].value}" in stdout
    code, stdout, stderr = run(capsys, "analyze", folder / "c.txt", folder / "broken.pdf")
    lines = stdout.splitlines()
    assert code == 0 and len(lines) == 1 and json.loads(lines[0])["ok"] is True
    assert "DSA-1303" in stderr and "1 ok, 1 failed" in stderr


def test_schema_is_the_published_one(capsys):
    code, stdout, _ = run(capsys, "schema")
    assert code == 0
    assert json.loads(stdout) == ContractAnalysis.model_json_schema()
    published = Path(__file__).resolve().parents[2] / "deepseek_apps/assets/contracts/contract_analysis.schema.json"
    assert json.loads(published.read_text()) == json.loads(stdout)


def test_demo_writes_results_and_checks_ground_truth(capsys, tmp_path):
    from deepseek_apps.apps.contracts.reading.ocr import tesseract_available

    code, stdout, _ = run(capsys, "demo", "--out", tmp_path, "--no-progress")
    assert code == 0
    expected = ["contract.docx", "contract_scan.pdf", "contract_text.pdf"]
    if not tesseract_available():  # the demo skips the scan and says so
        expected.remove("contract_scan.pdf")
        assert "Tesseract is not installed" in stdout
    records = _records(tmp_path / "contracts_analysis.jsonl")
    assert [Path(r["file"]).name for r in records] == expected
    assert all(r["ok"] for r in records)
    assert stdout.count("   ground truth ") == len(expected)
    for field in ("parties", "dates", "governing law", "amounts", "clauses"):
        assert f"   {field}" in stdout
    table = stdout[stdout.index("file ") :].splitlines()
    assert table[0].split() == ["file", "kind", "pages", "OCR", "true", "facts", "found", "clauses"]
    for row in table[1 : 1 + len(expected)]:
        hits, total = map(int, row.split()[4].split("/"))
        assert total >= 10 and hits >= total - 1
    if "contract_scan.pdf" in expected:
        scan = next(row for row in table if row.startswith("contract_scan.pdf")).split()
        assert int(scan[3]) == int(scan[2]) >= 1  # every page of the scan was read by OCR


def test_help_lists_the_commands():
    proc = subprocess.run(
        [sys.executable, "-m", "deepseek_apps.cli", "contracts", "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0
    for command in ("predict", "analyze", "score", "demo", "schema", "train", "evaluate", "export"):
        assert command in proc.stdout
    proc = subprocess.run(
        [sys.executable, "-m", "deepseek_apps.cli", "contracts", "analyze", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    for flag in ("--out", "--ocr-lang", "--ocr", "--legal-terms", "--format", "--no-clauses", "resumes"):
        assert flag in proc.stdout


def test_globs_and_empty_inputs(capsys, tmp_path, contract_dir):
    folder, _ = contract_dir
    out = tmp_path / "r.jsonl"
    code, stdout, _ = run(capsys, "analyze", str(folder / "*.docx"), "--out", out, "--no-progress")
    assert code == 0 and "1 ok, 0 failed" in stdout
    assert [Path(r["file"]).name for r in _records(out)] == ["b.docx"]
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, stderr = run(capsys, "analyze", empty, "--out", out)
    assert code == 2 and "DSA-1000" in stderr and "no contract files found" in stderr
    code, _, stderr = run(capsys, "analyze", str(tmp_path / "*.pdf"), "--out", out)
    assert code == 2 and "pattern matched no files" in stderr


def test_missing_clause_model_stops_before_any_file(capsys, tmp_path, contract_dir):
    folder, _ = contract_dir
    out = tmp_path / "r.jsonl"
    args = ("analyze", folder, "--out", out, "--clause-model", tmp_path / "no_model")
    code, _, stderr = run(capsys, *args, clauses=True)
    assert code == 2 and "DSA-2002" in stderr and "--no-clauses" in stderr
    assert not out.exists()
