"""Hostile contract inputs: every bad document is a coded error; the good ones are unchanged.

Cases (-> code): int, None, float, list, dict and object sources (1313); a contract's text passed
as a path (2001, with a hint to pass bytes); text over ``ReadLimits.max_characters`` as bytes,
as a .txt file refused before it is read, as DOCX and as PDF (1312); a decompression-bomb PNG
and a PNG over ``max_pixels`` that Pillow only warns about (1309); a truncated PNG and a text
file named .png (1307); a library exception inside the analysis (4002). A 16-bit scan is OCR-ed
after scaling (clipping it would leave a white page).
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from deepseek_apps.apps.contracts.app import ContractParser
from deepseek_apps.apps.contracts.batch import analyze_files
from deepseek_apps.apps.contracts.reading.documents import ReadLimits, read_document
from deepseek_apps.apps.contracts.synthetic import generate_contract
from deepseek_apps.errors import DeepSeekAppsError, ErrorCode

from .test_images import bomb_png

pytest.importorskip("pypdfium2", reason="the contracts extra is not installed")
pytest.importorskip("docx", reason="the contracts extra is not installed")


@pytest.fixture(scope="module")
def parser() -> ContractParser:
    return ContractParser(clauses=False)


@pytest.fixture(scope="module")
def good() -> list[tuple[str, bytes]]:
    return [(f"good{i}.txt", generate_contract(seed=30 + i).text.encode()) for i in range(2)]


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return bomb_png()


def _answer(analysis) -> dict:
    return {k: v for k, v in analysis.to_dict().items() if k != "elapsed_ms"}


def _code(call, *args, **kwargs) -> int:
    with pytest.raises(DeepSeekAppsError) as info:
        call(*args, **kwargs)
    return info.value.code


def _hostile(bomb: bytes) -> dict[str, tuple[object, int]]:
    png = io.BytesIO()
    Image.new("L", (200, 100), 255).save(png, format="PNG")
    limits = ReadLimits()
    return {
        "int": (12345, ErrorCode.CONTRACT_BAD_SOURCE),
        "None": (None, ErrorCode.CONTRACT_BAD_SOURCE),
        "float": (1.5, ErrorCode.CONTRACT_BAD_SOURCE),
        "list": (["a.txt"], ErrorCode.CONTRACT_BAD_SOURCE),
        "dict": ({"file": "a.txt"}, ErrorCode.CONTRACT_BAD_SOURCE),
        "object": (object(), ErrorCode.CONTRACT_BAD_SOURCE),
        "pair holding an int": (("a.txt", 5), ErrorCode.CONTRACT_BAD_SOURCE),
        "text passed as a path": ("THIS AGREEMENT\nis made ...", ErrorCode.FILE_NOT_FOUND),
        "huge text": (("huge.txt", b"a" * (limits.max_characters + 1)), ErrorCode.CONTRACT_TEXT_TOO_LONG),
        "bomb png": (("bomb.png", bomb), ErrorCode.CONTRACT_TOO_MANY_PIXELS),
        "png Pillow only warns about": (("big.png", bomb_png(10000, 10000)), ErrorCode.CONTRACT_TOO_MANY_PIXELS),
        "truncated png": (("cut.png", png.getvalue()[:60]), ErrorCode.CONTRACT_IMAGE_INVALID),
        "text named .png": (("notes.png", b"just some notes"), ErrorCode.CONTRACT_IMAGE_INVALID),
    }


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_each_hostile_source_is_its_code_and_good_contracts_are_unchanged(parser, good, bomb):
    cases = _hostile(bomb)
    for name, (source, code) in cases.items():
        if not (isinstance(source, tuple) and len(source) == 2 and isinstance(source[0], str)):
            assert _code(parser.analyze, source) == code, name
    clean = [_answer(a) for a in parser.predict(good)]
    mixed = [good[0], *[source for source, _ in cases.values()], good[1]]
    results = parser.predict(mixed, errors="record")
    assert [_answer(results[0]), _answer(results[-1])] == clean
    assert [r.error["code"] for r in results[1:-1]] == [code for _, code in cases.values()]
    assert results[1].document.name == "<int #1>" and results[9].document.name == "huge.txt"
    again = parser.analyze_many(mixed, on_error="record")  # the earlier name: the same answers
    assert [r.error and r.error["code"] for r in again] == [r.error and r.error["code"] for r in results]


def test_text_passed_as_a_path_gets_a_hint_to_pass_bytes(parser):
    with pytest.raises(DeepSeekAppsError) as info:
        parser.analyze("x" * 5000)  # too long for a file name: no raw OSError
    assert info.value.code == ErrorCode.FILE_NOT_FOUND and "bytes" in info.value.hint


def test_character_limit_on_txt_docx_and_pdf(tmp_path, monkeypatch):
    from deepseek_apps.apps.contracts.synthetic.render import render_docx, render_pdf

    contract = generate_contract(seed=40)
    small = ReadLimits(max_characters=len(contract.text) // 2)
    for data, name in ((contract.text.encode(), "a.txt"), (render_docx(contract), "a.docx")):
        assert _code(read_document, data, filename=name, limits=small) == ErrorCode.CONTRACT_TEXT_TOO_LONG
    pdf = render_pdf(contract, table=True)
    import deepseek_apps.apps.contracts.reading.pdf as pdf_module

    monkeypatch.setattr(pdf_module, "_tables", lambda *a: pytest.fail("tables read after the limit"))
    assert _code(read_document, pdf, filename="a.pdf", limits=small) == ErrorCode.CONTRACT_TEXT_TOO_LONG
    monkeypatch.undo()
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * (4 * small.max_characters + 8))  # cannot hold fewer characters: refused unread
    monkeypatch.setattr(type(big), "read_bytes", lambda self: pytest.fail(f"{self} was read"))
    with pytest.raises(DeepSeekAppsError) as info:
        read_document(big, limits=small)
    assert info.value.code == ErrorCode.CONTRACT_TEXT_TOO_LONG and "at least" in str(info.value.value)
    monkeypatch.undo()
    assert read_document(contract.text.encode(), filename="a.txt").text  # the default limit lets it through


def test_a_library_exception_is_that_documents_error(parser, good, monkeypatch):
    import deepseek_apps.apps.contracts.app as app_module

    real = app_module.extract

    def flaky(document, terms):
        if document.name == "odd.txt":
            raise KeyError("a rule tripped")
        return real(document, terms)

    clean = [_answer(a) for a in parser.predict(good)]
    monkeypatch.setattr(app_module, "extract", flaky)
    results = parser.predict([good[0], ("odd.txt", b"an odd contract"), good[1]], errors="record")
    assert [_answer(results[0]), _answer(results[2])] == clean
    error = results[1].error
    assert error["code"] == ErrorCode.BACKEND_FAILURE and "KeyError" in error["value"]
    assert _code(parser.analyze, b"an odd contract", filename="odd.txt") == ErrorCode.BACKEND_FAILURE


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_batch_job_records_bombs_and_long_texts_and_keeps_good_files(parser, good, bomb, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name, data in good:
        (folder / name).write_bytes(data)
    (folder / "bomb.png").write_bytes(bomb)
    (folder / "huge.txt").write_bytes(b"word " * 500_000)  # 2.5 million characters
    out = tmp_path / "out.jsonl"
    summary = analyze_files(parser, [folder], out, progress=False)
    assert (summary.ok, summary.failed) == (2, 2)
    records = {json.loads(line)["file"]: json.loads(line) for line in out.read_text().splitlines()}
    assert records[str(folder / "bomb.png")]["error"]["code"] == ErrorCode.CONTRACT_TOO_MANY_PIXELS
    assert records[str(folder / "huge.txt")]["error"]["code"] == ErrorCode.CONTRACT_TEXT_TOO_LONG
    for name, _ in good:
        analysis = records[str(folder / name)]["analysis"]
        assert {k: v for k, v in analysis.items() if k != "elapsed_ms"} == _answer(parser.analyze(folder / name))


def test_16_bit_scan_is_scaled_before_ocr():
    from deepseek_apps.apps.contracts.reading.ocr import tesseract_available

    if not tesseract_available():
        pytest.skip("tesseract is not installed")
    page = Image.new("L", (900, 120), 235)
    ImageDraw.Draw(page).text((20, 30), "Governing Law: Delaware", fill=80, font=ImageFont.load_default(size=44))
    scan16 = Image.fromarray(np.asarray(page).astype(np.uint16) * 257)  # 16-bit; clipping makes it all white
    buffer = io.BytesIO()
    scan16.save(buffer, format="PNG")
    doc = read_document(buffer.getvalue(), filename="scan16.png")
    assert "Delaware" in doc.text
