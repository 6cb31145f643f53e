"""Contract document readers: every format with page numbers, headers/footers, bad files."""

from __future__ import annotations

import io
import zipfile

import pytest

from deepseek_apps.apps.contracts.reading.documents import ReadLimits, read_document, strip_running_lines
from deepseek_apps.apps.contracts.synthetic import generate_contract
from deepseek_apps.apps.contracts.synthetic.render import render_docx, render_pdf, render_scan
from deepseek_apps.errors import ErrorCode, InvalidInputError, MissingResourceError, RuntimeFailure

pytest.importorskip("pypdfium2", reason="the contracts extra is not installed")
pytest.importorskip("docx", reason="the contracts extra is not installed")


def _needs_tesseract():
    from deepseek_apps.apps.contracts.reading.ocr import tesseract_available

    if not tesseract_available():
        pytest.skip("tesseract is not installed (apt-get install tesseract-ocr tesseract-ocr-eng)")


@pytest.fixture(scope="module")
def contract():
    return generate_contract(seed=7)


@pytest.fixture(scope="module")
def pdf_bytes(contract):
    return render_pdf(contract, table=True)


def test_pdf_pages_offsets_and_running_lines_removed(pdf_bytes, contract):
    doc = read_document(pdf_bytes, filename="c.pdf")
    assert doc.kind == "pdf" and len(doc.pages) >= 2
    assert [p.number for p in doc.pages] == list(range(1, len(doc.pages) + 1))
    for page in doc.pages:
        assert doc.text[page.start : page.end] == page.text
        assert doc.page_at(page.start) == page.number
        assert page.header == [f"CONFIDENTIAL - {contract.title}"]
        assert page.footer == [f"Page {page.number} of {len(doc.pages)}"]
    assert "CONFIDENTIAL -" not in doc.text and "Page 1 of" not in doc.text
    last_line = contract.text.strip().split("\n")[-1]
    assert doc.page_at(doc.text.rindex(last_line)) == len(doc.pages)


def test_pdf_table_read_as_table(pdf_bytes):
    doc = read_document(pdf_bytes, filename="c.pdf")
    assert len(doc.tables) == 1
    assert doc.tables[0].rows[0] == ["Milestone", "Due", "Amount"]
    assert doc.tables[0].page == len(doc.pages)


def test_docx_paragraphs_tables_page_breaks_and_header(contract):
    doc = read_document(render_docx(contract, page_break_every=5), filename="c.docx")
    assert doc.kind == "docx" and len(doc.pages) > 1
    assert doc.pages[0].header == [f"CONFIDENTIAL - {contract.title}"]
    assert " ".join(doc.text.split()) == " ".join(contract.text.split())


def test_docx_table_is_kept():
    import docx

    word = docx.Document()
    word.add_paragraph("Fee schedule")
    table = word.add_table(rows=2, cols=2)
    for r, row in enumerate([["Item", "Fee"], ["Setup", "$1,000"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    buffer = io.BytesIO()
    word.save(buffer)
    doc = read_document(buffer.getvalue(), filename="t.docx")
    assert doc.tables[0].rows == [["Item", "Fee"], ["Setup", "$1,000"]]
    assert "Setup\t$1,000" in doc.text


def test_txt_form_feeds_are_pages(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("ACME LEASE\nFirst page body.\n1\f ACME LEASE\nSecond page body.\n2\f")
    doc = read_document(path)
    assert [p.text for p in doc.pages] == ["First page body.", "Second page body.", ""]
    assert doc.pages[1].header == ["ACME LEASE"] and doc.pages[1].footer == ["2"]
    assert doc.page_at(doc.text.index("Second")) == 2


def test_running_lines_need_repetition():
    pages = ["Title A\nbody one\nPage 1", "Other B\nbody two\nPage 2", "Third C\nbody three\nPage 3"]
    split = strip_running_lines(pages)
    assert [s[0] for s in split] == [[], [], []]  # distinct first lines stay in the body
    assert [s[2] for s in split] == [["Page 1"], ["Page 2"], ["Page 3"]]


def test_scanned_pdf_page_is_ocred(contract):
    _needs_tesseract()
    doc = read_document(render_scan(contract, pages=[0], seed=1), filename="scan.pdf")
    assert doc.ocr_pages == 1 and doc.pages[0].source == "ocr"
    party = contract.facts_of("PARTY")[0].text
    assert party.split(",")[0] in " ".join(doc.text.split())


def test_image_png_and_tiff_are_ocred():
    _needs_tesseract()
    from PIL import Image, ImageDraw, ImageFont

    def line(text):
        image = Image.new("L", (900, 120), 255)
        ImageDraw.Draw(image).text((20, 30), text, fill=0, font=ImageFont.load_default(size=44))
        return image

    buffer = io.BytesIO()
    line("Governing Law: Delaware").save(buffer, format="PNG")
    doc = read_document(buffer.getvalue(), filename="x.png")
    assert doc.kind == "image" and "Delaware" in doc.text
    buffer = io.BytesIO()
    line("First page").save(buffer, format="TIFF", save_all=True, append_images=[line("Second page")])
    doc = read_document(buffer.getvalue(), filename="x.tiff")
    assert len(doc.pages) == 2 and "Second" in doc.pages[1].text and doc.page_at(doc.text.index("Second")) == 2


# ---- bad files: every error code --------------------------------------------------------


def _code(exc_info) -> int:
    return exc_info.value.code


def test_unsupported_type_and_empty_and_bad_option():
    with pytest.raises(InvalidInputError) as e:
        read_document(b"\x00\x01\x02binary", filename="x.xls")
    assert _code(e) == ErrorCode.CONTRACT_UNSUPPORTED_TYPE
    with pytest.raises(InvalidInputError) as e:
        read_document(b"", filename="x.txt")
    assert _code(e) == ErrorCode.CONTRACT_EMPTY_INPUT
    with pytest.raises(InvalidInputError) as e:
        read_document(b"text", filename="x.txt", ocr="sometimes")
    assert _code(e) == ErrorCode.CONTRACT_BAD_OPTION
    with pytest.raises(MissingResourceError) as e:
        read_document("/nonexistent/contract.pdf")
    assert _code(e) == ErrorCode.FILE_NOT_FOUND


def test_encrypted_pdf():
    import fpdf

    pdf = fpdf.FPDF()
    pdf.set_encryption(owner_password="owner", user_password="secret")
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, "Secret terms")
    with pytest.raises(InvalidInputError) as e:
        read_document(bytes(pdf.output()), filename="locked.pdf")
    assert _code(e) == ErrorCode.CONTRACT_PDF_ENCRYPTED and "locked.pdf" in str(e.value)


def test_corrupt_and_truncated_pdf(pdf_bytes):
    with pytest.raises(InvalidInputError) as e:
        read_document(pdf_bytes[: len(pdf_bytes) // 2], filename="cut.pdf")
    assert _code(e) == ErrorCode.CONTRACT_PDF_CORRUPT and "truncated" in str(e.value)
    with pytest.raises(InvalidInputError) as e:
        read_document(b"%PDF-1.7\nthis is not a pdf body\n%%EOF\n", filename="bad.pdf")
    assert _code(e) == ErrorCode.CONTRACT_PDF_CORRUPT


def test_zero_page_pdf():
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]
    data, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(data))
        data += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(data)
    data += b"xref\n0 3\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    data += b"trailer\n<< /Size 3 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
    with pytest.raises(InvalidInputError) as e:
        read_document(data, filename="empty.pdf")
    assert _code(e) == ErrorCode.CONTRACT_ZERO_PAGES


def test_page_limit(pdf_bytes):
    with pytest.raises(InvalidInputError) as e:
        read_document(pdf_bytes, filename="c.pdf", limits=ReadLimits(max_pages=1))
    assert _code(e) == ErrorCode.CONTRACT_TOO_MANY_PAGES


def test_docx_not_a_zip_and_zip_without_word_body():
    with pytest.raises(InvalidInputError) as e:
        read_document(b"this is a .doc from 1997", filename="old.docx")
    assert _code(e) == ErrorCode.CONTRACT_DOCX_NOT_ZIP
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(InvalidInputError) as e:
        read_document(buffer.getvalue(), filename="fake.docx")
    assert _code(e) == ErrorCode.CONTRACT_DOCX_NOT_ZIP


def test_docx_zip_bomb_refused_before_inflating(contract):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", "<w:document/>")
        archive.writestr("word/media/bomb.bin", b"\x00" * 20_000_000)
    with pytest.raises(InvalidInputError) as e:
        read_document(buffer.getvalue(), filename="bomb.docx")
    assert _code(e) == ErrorCode.CONTRACT_DOCX_ZIP_BOMB
    small = ReadLimits(max_uncompressed_bytes=1000)
    with pytest.raises(InvalidInputError) as e:
        read_document(render_docx(contract), filename="c.docx", limits=small)
    assert _code(e) == ErrorCode.CONTRACT_DOCX_ZIP_BOMB


def test_image_that_is_not_one_and_pixel_limit():
    with pytest.raises(InvalidInputError) as e:
        read_document(b"\x89PNG\r\n\x1a\nnot really a png", filename="x.png")
    assert _code(e) == ErrorCode.CONTRACT_IMAGE_INVALID
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (200, 200), 255).save(buffer, format="PNG")
    with pytest.raises(InvalidInputError) as e:
        read_document(buffer.getvalue(), filename="x.png", limits=ReadLimits(max_pixels=1000))
    assert _code(e) == ErrorCode.CONTRACT_TOO_MANY_PIXELS


def test_scanned_page_render_obeys_pixel_limit(contract):
    scan = render_scan(contract, pages=[0], dpi=50)
    with pytest.raises(InvalidInputError) as e:
        read_document(scan, filename="scan.pdf", limits=ReadLimits(max_pixels=10_000))
    assert _code(e) == ErrorCode.CONTRACT_TOO_MANY_PIXELS


def test_ocr_engine_missing(monkeypatch, contract):
    from deepseek_apps.apps.contracts.reading import ocr

    monkeypatch.setattr(ocr.shutil, "which", lambda name: None)
    ocr.installed_languages.cache_clear()
    with pytest.raises(MissingResourceError) as e:
        read_document(render_scan(contract, pages=[0], dpi=50), filename="scan.pdf")
    assert _code(e) == ErrorCode.CONTRACT_OCR_ENGINE_MISSING and "tesseract-ocr" in str(e.value)
    ocr.installed_languages.cache_clear()


def test_ocr_language_missing(contract):
    _needs_tesseract()
    with pytest.raises(MissingResourceError) as e:
        read_document(render_scan(contract, pages=[0], dpi=50), filename="scan.pdf", ocr_lang="eng+tlh")
    assert _code(e) == ErrorCode.CONTRACT_OCR_LANGUAGE_MISSING and "tlh" in str(e.value)


def test_ocr_failure_is_a_runtime_error(monkeypatch):
    from PIL import Image

    from deepseek_apps.apps.contracts.reading import ocr

    monkeypatch.setattr(ocr.shutil, "which", lambda name: "/bin/false")
    with pytest.raises(RuntimeFailure) as e:
        ocr.ocr_image(Image.new("L", (10, 10), 255))
    assert _code(e) == ErrorCode.CONTRACT_OCR_FAILED
