"""Reading contracts (PDF text layer, OCR, DOCX, TXT, images) into a typed ``Document``.

The type is detected from the bytes first, then from the file name; each reader lives in its
own module (``pdf``, ``office``, ``ocr``) and builds the ``Document`` of ``pages``.

Example:
    >>> from deepseek_apps.apps.contracts.reading.documents import read_document
    >>> doc = read_document(b"THIS AGREEMENT is made on May 8, 2014.", filename="a.txt")
    >>> doc.pages[0].number, doc.page_at(5)
    (1, 1)
"""

from __future__ import annotations

import os
from pathlib import Path

from deepseek_apps.errors import ErrorCode, InvalidInputError, MissingResourceError

from .pages import Document, Page, ReadLimits, Table, assemble, strip_running_lines

__all__ = [
    "Document",
    "Page",
    "ReadLimits",
    "Table",
    "assemble",
    "detect_kind",
    "load_source",
    "read_document",
    "strip_running_lines",
]

EXTENSIONS = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".txt": "txt",
    ".text": "txt",
    ".png": "image",
    ".jpg": "image",
    ".jpeg": "image",
    ".tif": "image",
    ".tiff": "image",
}


def detect_kind(data: bytes, filename: str = "") -> str:
    """The reader for ``data``: by magic bytes first, then by the file extension."""
    head = data[:8]
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return "docx"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")):
        return "image"
    suffix = Path(filename).suffix.lower()
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    if filename == "" and _looks_like_text(data):
        return "txt"
    raise InvalidInputError(
        ErrorCode.CONTRACT_UNSUPPORTED_TYPE,
        "this file type is not read by the contract parser",
        value=filename or repr(head),
        hint="pass a PDF, DOCX, TXT, PNG, JPEG or TIFF file",
    )


def _looks_like_text(data: bytes) -> bool:
    sample = data[:4096]
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start > len(sample) - 4  # a multi-byte character cut at the sample's end
    return True


def load_source(source: str | Path | bytes, filename: str = "", limits: ReadLimits | None = None) -> tuple[bytes, str]:
    """Bytes and a display name for a path or raw bytes.

    Anything else is ``CONTRACT_BAD_SOURCE`` (1313). A .txt file that cannot hold fewer than
    ``limits.max_characters`` characters (over 4 bytes per character) is refused before it is read.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source), filename
    if not isinstance(source, str | os.PathLike):
        raise InvalidInputError(
            ErrorCode.CONTRACT_BAD_SOURCE,
            f"cannot read a contract from {type(source).__name__}",
            value=repr(source),
            hint="pass a file path, the file's bytes, or a (file name, bytes) pair",
        )
    path = Path(source)
    try:
        size = path.stat().st_size if path.is_file() else None
    except (OSError, ValueError):  # a name too long or holding a NUL byte: not a path at all
        size = None
    if size is None:
        hint = "check the path"
        if isinstance(source, str) and ("\n" in source or len(source) > 1024):
            hint = "this looks like the contract's text: pass it as bytes (text.encode()) with filename='x.txt'"
        raise MissingResourceError(ErrorCode.FILE_NOT_FOUND, "contract file not found", value=str(path), hint=hint)
    name = filename or path.name
    if limits is not None and EXTENSIONS.get(path.suffix.lower()) == "txt":
        limits.check_characters(size // 4, name, exact=False)
    return path.read_bytes(), name


def read_document(
    source: str | Path | bytes,
    *,
    filename: str = "",
    limits: ReadLimits | None = None,
    ocr: str = "auto",
    ocr_lang: str = "eng",
    ocr_workers: int = 2,
) -> Document:
    """Read a PDF, DOCX, TXT or image (path or bytes) into a ``Document``.

    Args:
        source: a path, or the file's bytes (then ``filename`` helps to tell its type).
        filename: name used for type detection by extension and in error messages.
        limits: page / pixel / zip / character limits (``ReadLimits()`` by default).
        ocr: "auto" (OCR PDF pages without a text layer, and images), "always" or "never".
        ocr_lang: Tesseract language(s), e.g. "eng" or "eng+chi_sim".
        ocr_workers: pages OCR-ed in parallel (each a single-threaded Tesseract process).

    Raises:
        InvalidInputError: unsupported type, encrypted/corrupt PDF, zero pages, bad .docx,
            zip bomb, invalid image (a decompression bomb too), page, pixel or character
            limit exceeded, a source that is neither a path nor bytes (codes 1301-1313).
        MissingResourceError: the file or the OCR engine / language is missing (2301-2302).
    """
    if ocr not in ("auto", "always", "never"):
        raise InvalidInputError(
            ErrorCode.CONTRACT_BAD_OPTION, "unknown ocr mode", value=ocr, hint="use 'auto', 'always' or 'never'"
        )
    limits = limits or ReadLimits()
    data, name = load_source(source, filename, limits)
    if not data:
        raise InvalidInputError(ErrorCode.CONTRACT_EMPTY_INPUT, "the file is empty", value=name, hint="pass a document")
    kind = detect_kind(data, name)
    ocr_opts = {"mode": ocr, "lang": ocr_lang, "workers": ocr_workers}
    if kind == "pdf":
        from .pdf import read_pdf

        document = read_pdf(data, name=name, limits=limits, ocr=ocr_opts)
    elif kind == "docx":
        from .office import read_docx

        document = read_docx(data, name=name, limits=limits)
    elif kind == "image":
        from .office import read_image

        document = read_image(data, name=name, limits=limits, ocr=ocr_opts)
    else:
        from .office import read_txt

        document = read_txt(data, name=name, limits=limits)
    limits.check_characters(len(document.text), name)  # OCR text too, before any extraction
    return document
