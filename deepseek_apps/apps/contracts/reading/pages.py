"""The typed ``Document`` every reader produces: pages, body text with offsets, tables.

Every reader (PDF text layer, OCR, DOCX, TXT, images) produces the same ``Document``: the body
text of all pages joined with a blank line, each ``Page`` knowing where its body starts and ends
in that text, so any character span maps back to a page number. Lines repeated at the top or
bottom of most pages (running headers, footers, page numbers) are detected across pages and
kept out of the body (they stay available in ``Page.header`` / ``Page.footer``).

Example:
    >>> doc = assemble([("THIS AGREEMENT is made on May 8, 2014.", "text")], kind="txt")
    >>> doc.pages[0].number, doc.page_at(5)
    (1, 1)
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from deepseek_apps.errors import ErrorCode, InvalidInputError

PAGE_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class ReadLimits:
    """Limits enforced while reading (all configurable).

    Attributes:
        max_pages: more pages than this raises ``CONTRACT_TOO_MANY_PAGES``.
        max_pixels: an image (or OCR render) larger than this raises ``CONTRACT_TOO_MANY_PIXELS``.
        max_uncompressed_bytes: a .docx whose members together inflate beyond this is a zip bomb.
        max_compression_ratio: a .docx member inflating more than this many times is a zip bomb.
        ocr_dpi: resolution at which PDF pages without a text layer are rendered for OCR.
        max_characters: a document whose text is longer than this raises
            ``CONTRACT_TEXT_TOO_LONG`` (1312), checked while reading (a .txt file larger than
            4 bytes per character is refused before it is read; PDF and DOCX text is counted
            page by page), before any extraction. 2 million characters is about 600 dense
            pages, six times the longest contract in CUAD (335,000); the rules take about
            3 s on it, the clause tagger about 10 minutes (2 threads).
    """

    max_pages: int = 1000
    max_pixels: int = 60_000_000
    max_uncompressed_bytes: int = 200_000_000
    max_compression_ratio: float = 200.0
    ocr_dpi: int = 200
    max_characters: int = 2_000_000

    def check_characters(self, count: int, name: str, exact: bool = True) -> None:
        """Raise ``CONTRACT_TEXT_TOO_LONG`` when ``count`` characters are over ``max_characters``.

        ``exact=False``: ``count`` is a lower bound known before reading (bytes / 4).
        """
        if count > self.max_characters:
            raise InvalidInputError(
                ErrorCode.CONTRACT_TEXT_TOO_LONG,
                f"the document's text is longer than the limit of {self.max_characters:,} characters",
                value=f"{name}: {'' if exact else 'at least '}{count:,} characters",
                hint="split the document, or raise ReadLimits(max_characters=...) if it is trusted",
            )


@dataclass(frozen=True)
class Table:
    """A table found on a page: rows of cell strings (``None`` cells become "")."""

    page: int
    rows: list[list[str]]

    def to_dict(self) -> dict[str, Any]:
        return {"page": self.page, "rows": self.rows}


@dataclass
class Page:
    """One page: its body text, where that body sits in ``Document.text``, and how it was read."""

    number: int
    text: str
    start: int = 0
    source: str = "text"  # "text" (text layer / docx / txt) or "ocr"
    header: list[str] = field(default_factory=list)
    footer: list[str] = field(default_factory=list)

    @property
    def end(self) -> int:
        return self.start + len(self.text)

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "start": self.start,
            "end": self.end,
            "source": self.source,
            "header": self.header,
            "footer": self.footer,
        }


@dataclass
class Document:
    """A read document: body ``text`` (pages joined by a blank line), pages, tables."""

    text: str
    pages: list[Page]
    tables: list[Table] = field(default_factory=list)
    kind: str = "txt"  # pdf | docx | txt | image
    name: str = ""

    def page_at(self, offset: int) -> int:
        """The 1-based page number holding character ``offset`` of ``text``."""
        if not self.pages:
            return 1
        starts = self.__dict__.get("_starts")
        if starts is None or len(starts) != len(self.pages):  # built once: O(log pages) per fact, not O(pages)
            starts = self.__dict__["_starts"] = [page.start for page in self.pages]
        index = bisect.bisect_right(starts, offset) - 1
        return self.pages[max(index, 0)].number

    @property
    def ocr_pages(self) -> int:
        return sum(p.source == "ocr" for p in self.pages)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "n_pages": len(self.pages),
            "pages": [p.to_dict() for p in self.pages],
            "tables": [t.to_dict() for t in self.tables],
        }


def assemble(raw_pages: list[tuple[str, str]], *, kind: str, name: str = "", tables=None) -> Document:
    """Build a ``Document`` from ``(text, source)`` per page, removing repeated headers/footers."""
    if not raw_pages:
        raise InvalidInputError(
            ErrorCode.CONTRACT_ZERO_PAGES, "the document has no pages", value=name, hint="pass a document with content"
        )
    split = strip_running_lines([_clean(t) for t, _ in raw_pages])
    pages, parts, offset = [], [], 0
    for number, ((header, body, footer), (_, source)) in enumerate(zip(split, raw_pages), start=1):
        pages.append(Page(number=number, text=body, start=offset, source=source, header=header, footer=footer))
        parts.append(body)
        offset += len(body) + len(PAGE_SEPARATOR)
    return Document(text=PAGE_SEPARATOR.join(parts), pages=pages, tables=list(tables or []), kind=kind, name=name)


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").replace("\ufffe", "")
    text = text.replace("\x02", "-")  # pdfium marks soft hyphens at line ends with STX
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


_DIGITS = re.compile(r"\d+")
_PAGE_NUMBER = re.compile(r"^\s*(?:page\s+)?[-–]?\s*\d{1,4}\s*[-–]?\s*(?:of\s+\d{1,4})?\s*$", re.IGNORECASE)


def _pattern(line: str) -> str:
    return _DIGITS.sub("#", " ".join(line.split()).lower())


def strip_running_lines(pages: list[str], edge: int = 3) -> list[tuple[list[str], str, list[str]]]:
    """Split each page into (header lines, body, footer lines).

    A line among the first/last ``edge`` non-empty lines of a page is a running header/footer
    when the same line (digits ignored, so "Page 3 of 9" matches "Page 4 of 9") sits at that
    edge on at least half of the pages (and on at least two); bare page numbers ("- 3 -", "3")
    at an edge count as footers/headers on any multi-page document.
    """
    if len(pages) < 2:  # one page: only bare page numbers ("Page 1 of 1") can be told apart
        return [_split_page(text.split("\n"), set(), set(), edge) for text in pages]
    lines = [text.split("\n") for text in pages]
    need = max(2, (len(pages) + 1) // 2)
    tops, bottoms = Counter(), Counter()
    for page_lines in lines:
        content = [ln for ln in page_lines if ln.strip()]
        tops.update({_pattern(ln) for ln in content[:edge]})
        bottoms.update({_pattern(ln) for ln in content[-edge:]})
    running_top = {p for p, n in tops.items() if n >= need}
    running_bottom = {p for p, n in bottoms.items() if n >= need}
    return [_split_page(page_lines, running_top, running_bottom, edge) for page_lines in lines]


def _split_page(page_lines: list[str], top: set[str], bottom: set[str], edge: int):
    header, footer = [], []
    start, end = 0, len(page_lines)
    seen = 0
    while start < end and seen < edge:
        line = page_lines[start]
        if not line.strip():
            start += 1
            continue
        if _pattern(line) in top or _PAGE_NUMBER.match(line):
            header.append(line.strip())
            start += 1
            seen += 1
            continue
        break
    seen = 0
    while end > start and seen < edge:
        line = page_lines[end - 1]
        if not line.strip():
            end -= 1
            continue
        if _pattern(line) in bottom or _PAGE_NUMBER.match(line):
            footer.insert(0, line.strip())
            end -= 1
            seen += 1
            continue
        break
    return header, "\n".join(page_lines[start:end]).strip("\n"), footer
