"""Reading .docx (python-docx, checked for zip bombs first), images (OCR) and plain text."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from deepseek_apps.errors import DeepSeekAppsError, ErrorCode, InvalidInputError, require

from .pages import Document, ReadLimits, Table, assemble

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def check_zip(data: bytes, name: str, limits: ReadLimits) -> None:
    """Refuse a .docx that is not a zip, has no Word body, or inflates past the limits."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise InvalidInputError(
            ErrorCode.CONTRACT_DOCX_NOT_ZIP,
            "the .docx is not a valid zip archive",
            value=name,
            hint="save the document again as Word (.docx); old .doc files are not read",
        ) from exc
    total = sum(m.file_size for m in members)
    worst = max((m.file_size / max(m.compress_size, 1) for m in members), default=0.0)
    if total > limits.max_uncompressed_bytes or worst > limits.max_compression_ratio:
        raise InvalidInputError(
            ErrorCode.CONTRACT_DOCX_ZIP_BOMB,
            "the .docx inflates beyond the limits (zip bomb?)",
            value=f"{name}: {total} bytes uncompressed, ratio {worst:.0f}",
            hint="raise ReadLimits(max_uncompressed_bytes=..., max_compression_ratio=...) if the file is trusted",
        )
    if "word/document.xml" not in {m.filename for m in members}:
        raise InvalidInputError(
            ErrorCode.CONTRACT_DOCX_NOT_ZIP,
            "the zip holds no Word document (word/document.xml)",
            value=name,
            hint="pass a Word .docx file",
        )


def read_docx(data: bytes, *, name: str, limits: ReadLimits) -> Document:
    """Paragraphs and tables in body order; explicit page breaks start new pages."""
    check_zip(data, name, limits)
    docx = require("docx", "contracts")
    try:
        word = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises several types on malformed XML
        raise InvalidInputError(
            ErrorCode.CONTRACT_DOCX_NOT_ZIP, f"the .docx cannot be parsed ({exc})", value=name, hint="re-save it"
        ) from exc
    pages: list[list[str]] = [[]]
    tables: list[Table] = []
    characters = 0
    for block in word.element.body.iterchildren():
        if block.tag == f"{_W}p":
            text, page_break = _paragraph_text(block)
            pages[-1].append(text)
            characters += len(text) + 1
            if page_break:
                pages.append([])
        elif block.tag == f"{_W}tbl":
            rows = _table_rows(block)
            tables.append(Table(page=len(pages), rows=rows))
            pages[-1].extend("\t".join(row) for row in rows)
            characters += sum(len(cell) + 1 for row in rows for cell in row)
        limits.check_characters(characters, name)
    _check_pages(len(pages), name, limits)
    header_lines = _header_footer_lines(word)
    doc = assemble([("\n".join(lines), "text") for lines in pages], kind="docx", name=name, tables=tables)
    for page in doc.pages:
        page.header, page.footer = header_lines
    return doc


def _paragraph_text(paragraph) -> tuple[str, bool]:
    """Text of a paragraph (line breaks and tabs kept) and whether it ends the page."""
    parts, page_break = [], False
    for node in paragraph.iter(f"{_W}t", f"{_W}br", f"{_W}cr", f"{_W}tab"):
        if node.tag == f"{_W}t":
            parts.append(node.text or "")
        elif node.tag == f"{_W}tab":
            parts.append("\t")
        elif node.get(f"{_W}type") == "page":
            page_break = True
        else:
            parts.append("\n")
    return "".join(parts), page_break


def _table_rows(table) -> list[list[str]]:
    rows = []
    for row in table.iter(f"{_W}tr"):
        cells = ["".join(t.text or "" for t in cell.iter(f"{_W}t")).strip() for cell in row.iter(f"{_W}tc")]
        rows.append(cells)
    return rows


def _header_footer_lines(word) -> tuple[list[str], list[str]]:
    header, footer = [], []
    for section in word.sections:
        header += [p.text for p in section.header.paragraphs if p.text.strip()]
        footer += [p.text for p in section.footer.paragraphs if p.text.strip()]
    return header, footer


def _check_pages(n_pages: int, name: str, limits: ReadLimits) -> None:
    if n_pages > limits.max_pages:
        raise InvalidInputError(
            ErrorCode.CONTRACT_TOO_MANY_PAGES,
            f"the document has more pages than the limit {limits.max_pages}",
            value=f"{name}: {n_pages}",
            hint="raise ReadLimits(max_pages=...) or split the file",
        )


def open_image_frames(data: bytes, name: str, limits: ReadLimits) -> list:
    """Decode every frame of a PNG / JPEG / (multi-page) TIFF, enforcing the pixel limit.

    Each frame's size is checked from its header before it is decoded; a decompression bomb
    is ``CONTRACT_TOO_MANY_PIXELS`` (1309), any decoder failure ``CONTRACT_IMAGE_INVALID``
    (1307). 16-bit and float scans are scaled to 8 bits, not clipped (``core.runtime.preprocess``).
    """
    from deepseek_apps.core.runtime.preprocess import DECOMPRESSION_BOMB

    try:
        return _decode_frames(data, name, limits)
    except DeepSeekAppsError:
        raise
    except DECOMPRESSION_BOMB as exc:
        raise _too_many_pixels(name, limits, str(exc)) from exc
    except Exception as exc:  # UnidentifiedImageError, truncated data (OSError), a decoder's own errors
        raise InvalidInputError(
            ErrorCode.CONTRACT_IMAGE_INVALID,
            f"the file is not a readable image ({type(exc).__name__}: {exc})",
            value=name,
            hint="pass a PNG, JPEG or TIFF scan; this one may be truncated or damaged",
        ) from exc


def _decode_frames(data: bytes, name: str, limits: ReadLimits) -> list:
    from PIL import Image

    from deepseek_apps.core.runtime.preprocess import to_8bit

    image = Image.open(io.BytesIO(data))
    n_frames = getattr(image, "n_frames", 1)
    _check_pages(n_frames, name, limits)
    frames = []
    for index in range(n_frames):
        image.seek(index)
        if image.size[0] * image.size[1] > limits.max_pixels:
            raise _too_many_pixels(name, limits, f"{image.size[0]}x{image.size[1]}")
        frames.append(to_8bit(image, name).convert("L"))
    return frames


def _too_many_pixels(name: str, limits: ReadLimits, size: str) -> InvalidInputError:
    return InvalidInputError(
        ErrorCode.CONTRACT_TOO_MANY_PIXELS,
        f"the image has more pixels than the limit {limits.max_pixels}",
        value=f"{name}: {size}",
        hint="downscale it or raise ReadLimits(max_pixels=...)",
    )


def read_image(data: bytes, *, name: str, limits: ReadLimits, ocr: dict[str, Any]) -> Document:
    """OCR each frame of an image file as one page."""
    frames = open_image_frames(data, name, limits)
    from .ocr import ocr_images

    texts = ocr_images(frames, ocr["lang"], ocr["workers"])
    return assemble([(text, "ocr") for text in texts], kind="image", name=name)


def read_txt(data: bytes, *, name: str, limits: ReadLimits) -> Document:
    """UTF-8 text (Latin-1 fallback); form feeds separate pages; the character limit is checked first."""
    limits.check_characters(len(data) // 4, name, exact=False)  # UTF-8: at most 4 bytes a character
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    limits.check_characters(len(text), name)
    pages = text.split("\f")
    _check_pages(len(pages), name, limits)
    return assemble([(page, "text") for page in pages], kind="txt", name=name)
