"""Reading contract files (PDF, scans, DOCX, TXT, images) into a typed ``Document``."""

from .documents import detect_kind, load_source, read_document
from .pages import Document, Page, ReadLimits, Table

__all__ = ["Document", "Page", "ReadLimits", "Table", "detect_kind", "load_source", "read_document"]
