"""``ContractParser``: contracts in (PDF, DOCX, TXT, scans), structured facts with evidence out.

Documents are read (text layer, OCR, Word, text); parties with roles, typed dates, money,
percents, durations, governing law, definitions and glossary terms are extracted by rules
and normalised (rules are better than a model at normalising); clauses of the 41 CUAD
categories are found by the learned tagger (MiniLM + LoRA, ``clause_runtime``), each with its
evidence span, page and confidence (``ContractAnalysis.stage == "rules+model"``).

Example:
    >>> from deepseek_apps.apps.contracts.app import ContractParser
    >>> from deepseek_apps.apps.contracts.synthetic import generate_contract
    >>> contract = generate_contract(seed=2)
    >>> result = ContractParser().analyze(contract.text.encode(), filename="msa.txt")
    >>> result.governing_law == [contract.facts_of("GOVERNING_LAW")[0].value]
    True
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from deepseek_apps.errors import DeepSeekAppsError, ErrorCode, InvalidInputError

from .clause_data import CATEGORIES, words
from .clause_eval import decode_spans, sentence_ends
from .documents import Document, ReadLimits, read_document
from .glossary import LegalTerms, load_legal_terms
from .relations import relations
from .results import Clause, ContractAnalysis, DocumentInfo, Evidence
from .rules import extract

OUTPUT_FORMATS = ("model", "dict", "json", "markdown")


class FailedDocument(BaseModel):
    """A document ``analyze_many(..., on_error="record")`` could not analyse, with the error."""

    name: str
    error: dict[str, Any]


class ContractParser:
    """Read contracts and extract facts and clauses with evidence.

    Args:
        legal_terms_db: path of a JSON glossary extending the default shipped one.
        output_format: "model" (a ``ContractAnalysis``), "dict", "json" or "markdown".
        ocr_lang: Tesseract language(s) for scans and images, e.g. "eng" or "eng+chi_sim".
        ocr: "auto" (OCR only pages without a text layer), "always" or "never".
        ocr_workers: pages OCR-ed in parallel.
        limits: page / pixel / zip-bomb limits (``ReadLimits``).
        clauses: run the learned clause tagger (False: rules only, faster).
        clause_model: folder of trained tagger weights (default: the shipped model).
        clause_backend: "onnx-int8" (default), "onnx" or "torch".
        min_confidence: clauses below this confidence are not reported (0 keeps every candidate).
        threads: intra-op threads of the clause model.

    Example:
        >>> parser = ContractParser(output_format="dict", clauses=False)
        >>> parser.analyze(b"This Agreement is governed by the laws of the State of Ohio.", filename="a.txt")["governing_law"]
        ['Ohio']
    """

    def __init__(
        self,
        legal_terms_db: str | Path | None = None,
        output_format: str = "model",
        ocr_lang: str = "eng",
        ocr: str = "auto",
        ocr_workers: int = 2,
        limits: ReadLimits | None = None,
        clauses: bool = True,
        clause_model: str | Path | None = None,
        clause_backend: str = "onnx-int8",
        min_confidence: float = 0.5,
        threads: int = 2,
    ):
        self.legal_terms_db = legal_terms_db
        self.output_format = output_format
        self.ocr_lang = ocr_lang
        self.ocr = ocr
        self.ocr_workers = ocr_workers
        self.limits = limits
        self.clauses = clauses
        self.clause_model = clause_model
        self.clause_backend = clause_backend
        self.min_confidence = min_confidence
        self.threads = threads
        self._terms: LegalTerms | None = None
        self._tagger = None

    def legal_terms(self) -> LegalTerms:
        """The merged glossary (default + ``legal_terms_db``), loaded once."""
        if self._terms is None:
            self._terms = load_legal_terms(self.legal_terms_db)
        return self._terms

    def tagger(self):
        """The clause model (``ClauseModel``), loaded once."""
        if self._tagger is None:
            from .clause_runtime import ClauseModel

            self._tagger = ClauseModel(self.clause_model, backend=self.clause_backend, threads=self.threads)
        return self._tagger

    def find_clauses(self, document: Document) -> list[Clause]:
        """Clauses of the 41 CUAD categories in ``document``, most confident first."""
        tokens, offsets = words(document.text)
        if not tokens:
            return []
        _, _, word_probs = self.tagger().predict_words(tokens)
        found = []
        for category, spans in zip(CATEGORIES, decode_spans(word_probs, ends=sentence_ends(tokens))):
            for first, end, confidence in spans:
                if confidence < self.min_confidence:
                    continue
                start, stop = int(offsets[first, 0]), int(offsets[end - 1, 1])
                evidence = Evidence(page=document.page_at(start), start=start, end=stop, text=document.text[start:stop])
                found.append(Clause(category=category, confidence=round(confidence, 4), evidence=evidence))
        return sorted(found, key=lambda c: -c.confidence)

    def read(self, source: str | Path | bytes, filename: str = "") -> Document:
        """Only read ``source`` into a ``Document`` (pages, body text, tables)."""
        return read_document(
            source,
            filename=filename,
            limits=self.limits,
            ocr=self.ocr,
            ocr_lang=self.ocr_lang,
            ocr_workers=self.ocr_workers,
        )

    def analyze(self, source: str | Path | bytes, filename: str = "") -> ContractAnalysis | dict | str:
        """Read one contract (path or bytes) and extract its facts, in ``output_format``."""
        if self.output_format not in OUTPUT_FORMATS:
            raise InvalidInputError(
                ErrorCode.CONTRACT_BAD_OPTION,
                "unknown output_format",
                value=self.output_format,
                hint=f"use one of {OUTPUT_FORMATS}",
            )
        started = time.perf_counter()
        document = self.read(source, filename)
        analysis = self.analyze_document(document)
        analysis.elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
        return self._render(analysis)

    def analyze_document(self, document: Document) -> ContractAnalysis:
        """Extract the facts of an already read ``Document``."""
        found = extract(document, self.legal_terms())
        info = DocumentInfo(
            name=document.name,
            kind=document.kind,
            n_pages=len(document.pages),
            ocr_pages=document.ocr_pages,
            n_tables=len(document.tables),
            characters=len(document.text),
        )
        return ContractAnalysis(
            document=info,
            parties=found.parties,
            dates=found.dates,
            governing_law=found.governing_law,
            facts=found.facts,
            relations=relations(document.text, found.parties, found.facts),
            definitions=found.definitions,
            clauses=self.find_clauses(document) if self.clauses else [],
            stage="rules+model" if self.clauses else "rules",
        )

    def analyze_many(self, sources: Iterable[str | Path | bytes], on_error: str = "raise") -> list:
        """Analyse several contracts; ``on_error="record"`` returns a ``FailedDocument`` per failure."""
        if on_error not in ("raise", "record"):
            raise InvalidInputError(
                ErrorCode.CONTRACT_BAD_OPTION, "unknown on_error", value=on_error, hint="use 'raise' or 'record'"
            )
        results = []
        for index, source in enumerate(sources):
            try:
                results.append(self.analyze(source))
            except DeepSeekAppsError as exc:
                if on_error == "raise":
                    raise
                name = str(source) if isinstance(source, str | Path) else f"<bytes #{index}>"
                results.append(FailedDocument(name=name, error=exc.to_dict()))
        return results

    def _render(self, analysis: ContractAnalysis):
        if self.output_format == "dict":
            return analysis.to_dict()
        if self.output_format == "json":
            return analysis.to_json()
        if self.output_format == "markdown":
            return analysis.to_markdown()
        return analysis
