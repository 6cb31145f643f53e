"""PDF reading: the text layer through pypdfium2, tables through pdfplumber, scans through OCR.

pypdfium2 reads the text layer at a few hundred pages per second; pdfplumber (about 6 pages
per second here) is only opened for the pages whose drawing has enough ruled lines to hold a
table. Pages whose text layer is (almost) empty are rendered and OCR-ed when ``ocr`` allows.
"""

from __future__ import annotations

from typing import Any

from deepseek_apps.errors import ErrorCode, InvalidInputError, require

from .pages import Document, ReadLimits, Table, assemble

MIN_TEXT_CHARS = 20  # fewer non-space characters on a page than this: treat it as a scan
MIN_TABLE_PATHS = 6  # ruled lines / rectangles on a page before pdfplumber looks for tables


def _open(data: bytes, name: str):
    pdfium = require("pypdfium2", "contracts")
    tail = data[-2048:]
    if b"%%EOF" not in tail:
        raise InvalidInputError(
            ErrorCode.CONTRACT_PDF_CORRUPT,
            "the PDF is truncated (no end-of-file marker)",
            value=name,
            hint="the file was cut short: download or export it again",
        )
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise InvalidInputError(
                ErrorCode.CONTRACT_PDF_ENCRYPTED,
                "the PDF is encrypted with a password",
                value=name,
                hint="remove the password (e.g. `qpdf --decrypt --password=... in.pdf out.pdf`) and retry",
            ) from exc
        if _pages_by_pdfminer(data) == 0:  # PDFium refuses documents without pages
            raise InvalidInputError(
                ErrorCode.CONTRACT_ZERO_PAGES, "the PDF has zero pages", value=name, hint="pass a PDF with content"
            ) from exc
        raise InvalidInputError(
            ErrorCode.CONTRACT_PDF_CORRUPT,
            f"the PDF cannot be parsed ({exc})",
            value=name,
            hint="repair or re-export it",
        ) from exc


def _pages_by_pdfminer(data: bytes) -> int | None:
    """Page count by pdfminer (a second opinion when PDFium fails), None when it fails too."""
    import io

    try:
        from pdfminer.pdfdocument import PDFDocument
        from pdfminer.pdfpage import PDFPage
        from pdfminer.pdfparser import PDFParser

        document = PDFDocument(PDFParser(io.BytesIO(data)))
        return sum(1 for _ in PDFPage.create_pages(document))
    except Exception:  # noqa: BLE001 - any failure here means "corrupt", reported by the caller
        return None


def read_pdf(data: bytes, *, name: str, limits: ReadLimits, ocr: dict[str, Any]) -> Document:
    """Read a PDF's pages (text layer, OCR where needed) and tables into a ``Document``."""
    pdf = _open(data, name)
    try:
        n_pages = len(pdf)
        if n_pages == 0:
            raise InvalidInputError(
                ErrorCode.CONTRACT_ZERO_PAGES, "the PDF has zero pages", value=name, hint="pass a PDF with content"
            )
        if n_pages > limits.max_pages:
            raise InvalidInputError(
                ErrorCode.CONTRACT_TOO_MANY_PAGES,
                f"the PDF has more pages than the limit {limits.max_pages}",
                value=n_pages,
                hint="raise ReadLimits(max_pages=...) or split the file",
            )
        texts, table_pages, scan_pages = [], [], []
        characters = 0
        for index in range(n_pages):
            text, n_paths = _page_text(pdf[index])
            texts.append(text)
            characters += len(text)
            limits.check_characters(characters, name)
            if n_paths >= MIN_TABLE_PATHS:
                table_pages.append(index)
            needs_ocr = len("".join(text.split())) < MIN_TEXT_CHARS
            if ocr["mode"] == "always" or (ocr["mode"] == "auto" and needs_ocr):
                scan_pages.append(index)
        sources = ["text"] * n_pages
        if scan_pages:
            images = [_render(pdf[i], limits, name) for i in scan_pages]
            from .ocr import ocr_images

            for index, text in zip(scan_pages, ocr_images(images, ocr["lang"], ocr["workers"])):
                texts[index], sources[index] = text, "ocr"
    finally:
        pdf.close()
    tables = _tables(data, table_pages) if table_pages else []
    return assemble(list(zip(texts, sources)), kind="pdf", name=name, tables=tables)


def _page_text(page) -> tuple[str, int]:
    import pypdfium2.raw as pdfium_c

    textpage = page.get_textpage()
    try:
        text = textpage.get_text_bounded()
    finally:
        textpage.close()
    n_paths = sum(1 for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH], max_depth=1))
    return text, n_paths


def _render(page, limits: ReadLimits, name: str):
    scale = limits.ocr_dpi / 72.0
    width, height = page.get_size()
    pixels = int(width * scale) * int(height * scale)
    if pixels > limits.max_pixels:
        raise InvalidInputError(
            ErrorCode.CONTRACT_TOO_MANY_PIXELS,
            f"a scanned page would render to more pixels than the limit {limits.max_pixels}",
            value=f"{name}: {pixels} pixels",
            hint="lower ReadLimits(ocr_dpi=...) or raise max_pixels",
        )
    return page.render(scale=scale, grayscale=True).to_pil()


def _tables(data: bytes, pages: list[int]) -> list[Table]:
    import io

    pdfplumber = require("pdfplumber", "contracts")
    found = []
    with pdfplumber.open(io.BytesIO(data), pages=[i + 1 for i in pages]) as pdf:
        for page in pdf.pages:
            for rows in page.extract_tables():
                cleaned = [[(cell or "").strip() for cell in row] for row in rows]
                if len(cleaned) >= 2 and max(len(r) for r in cleaned) >= 2:
                    found.append(Table(page=page.page_number, rows=cleaned))
    return found
