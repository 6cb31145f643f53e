"""Typed results of the contract parser (pydantic: the JSON schema is published).

``ContractAnalysis.model_json_schema()`` is the schema of what ``ContractParser.analyze``
returns; ``deepseek_apps/assets/contracts/contract_analysis.schema.json`` is the same
schema written to a file (a test keeps the two identical).

Example:
    >>> from deepseek_apps.apps.contracts.results import ContractAnalysis
    >>> ContractAnalysis.model_json_schema()["title"]
    'ContractAnalysis'
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from dataclasses import field as dc_field
from typing import Any, Literal

from pydantic import BaseModel, Field

FactLabel = Literal[
    "PARTY", "DATE", "MONEY", "PERCENT", "DURATION", "GOVERNING_LAW", "DEFINITION", "LEGAL_TERM"
]  # fmt: skip


class Evidence(BaseModel):
    """Where a fact was read: 1-based page, character span in the document body, the text."""

    page: int
    start: int
    end: int
    text: str


class Money(BaseModel):
    """An amount in ``currency``; a range ("$1-2 million") has its upper end in ``amount_high``."""

    amount: float
    currency: str = Field(description="ISO 4217 code")
    amount_high: float | None = Field(None, description="upper end of a range; None for one amount")


class Duration(BaseModel):
    """A whole number of units; ``days`` says "business" or "calendar" when the contract does."""

    value: int
    unit: Literal["day", "week", "month", "year"]
    days: Literal["calendar", "business"] | None = None


class Fact(BaseModel):
    """One extracted fact with its normalised value and evidence.

    ``kind`` refines the label: agreement / effective / expiration / other for DATE; term /
    renewal_term / notice_period / other for DURATION; the category for LEGAL_TERM.
    """

    label: FactLabel
    kind: str | None = None
    value: Money | Duration | float | str | None = None
    evidence: Evidence
    derived: bool = Field(False, description="computed from other facts (e.g. expiration = effective + term)")
    uncertain: str | None = Field(
        None,
        description="why the value is doubtful (e.g. a date that reads day-first and month-first, words and "
        "figures that disagree); None when the text settles it. An ambiguous date has value None.",
    )
    source: Literal["rules"] = "rules"


class Party(BaseModel):
    """A contracting party with the role aliases the contract gives it ("the Company")."""

    name: str
    roles: list[str] = Field(default_factory=list)
    evidence: Evidence


class Relation(BaseModel):
    """A link between facts: party_role (party -> alias), pays (payer -> payee, value = Money),
    governed_by (contract -> jurisdiction), term_renewal_notice (value = the three durations)."""

    kind: Literal["party_role", "pays", "governed_by", "term_renewal_notice"]
    subject: str
    object: str | None = None
    value: Money | dict[str, Any] | None = None
    evidence: Evidence


class Definition(BaseModel):
    """A defined term: '"Confidential Information" means ...'."""

    term: str
    definition: str
    evidence: Evidence


class Clause(BaseModel):
    """A clause of one of the 41 CUAD categories found by the learned tagger, with evidence."""

    category: str = Field(description="CUAD category, e.g. 'Cap On Liability'")
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: Evidence


class DocumentInfo(BaseModel):
    """The document read: its name, reader kind (None when it could not be read) and size."""

    name: str
    kind: Literal["pdf", "docx", "txt", "image"] | None = None
    n_pages: int = 0
    ocr_pages: int = 0
    n_tables: int = 0
    characters: int = 0


class KeyDates(BaseModel):
    """ISO dates of the agreement, when it takes effect and when it expires (None when absent)."""

    agreement: str | None = None
    effective: str | None = None
    expiration: str | None = None


class ContractAnalysis(BaseModel):
    """Everything the parser found in one contract.

    ``stage`` is "rules+model" when the learned clause tagger ran (``clauses`` filled) and
    "rules" when it was switched off (``ContractParser(clauses=False)``). ``error`` is None,
    or, for a document ``predict(..., errors="record")`` could not analyse, the error's
    ``to_dict()`` (code, family, message, value, hint); everything else is then empty.
    """

    document: DocumentInfo
    parties: list[Party] = Field(default_factory=list)
    dates: KeyDates = Field(default_factory=KeyDates)
    governing_law: list[str] = Field(default_factory=list)
    facts: list[Fact] = Field(default_factory=list)
    relations: list[Relation] = Field(default_factory=list)
    definitions: list[Definition] = Field(default_factory=list)
    clauses: list[Clause] = Field(default_factory=list)
    stage: Literal["rules", "rules+model"] = "rules"
    elapsed_ms: float = 0.0
    error: dict[str, Any] | None = None

    @classmethod
    def failed(cls, name: str, error: dict[str, Any]) -> ContractAnalysis:
        """The result of a document that could not be analysed: its name and the error."""
        return cls(document=DocumentInfo(name=name), error=error)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_json(self, indent: int | None = None) -> str:
        return self.model_dump_json(indent=indent)

    def facts_of(self, label: str, kind: str | None = None) -> list[Fact]:
        return [f for f in self.facts if f.label == label and (kind is None or f.kind == kind)]

    def to_markdown(self) -> str:
        doc = self.document
        lines = [f"# {doc.name or 'contract'}", "", f"{doc.kind}, {doc.n_pages} page(s), {doc.ocr_pages} by OCR", ""]
        lines += ["## Parties", ""] + [f"- **{p.name}** ({', '.join(p.roles) or 'no alias'})" for p in self.parties]
        lines += ["", "## Key dates", ""]
        lines += [f"- {k}: {v or 'not found'}" for k, v in self.dates.model_dump().items()]
        lines += ["", f"Governing law: {'; '.join(self.governing_law) or 'not found'}", "", "## Facts", ""]
        lines += ["| label | kind | value | page | evidence |", "|---|---|---|---|---|"]
        for fact in self.facts:
            value = fact.value.model_dump(exclude_none=True) if isinstance(fact.value, BaseModel) else fact.value
            value = f"{value} (uncertain: {fact.uncertain})" if fact.uncertain else value
            text = " ".join(fact.evidence.text.split()).replace("|", "\\|")
            lines.append(f"| {fact.label} | {fact.kind or ''} | {value} | {fact.evidence.page} | {text} |")
        if self.clauses:
            lines += ["", "## Clauses", "", "| category | confidence | page | evidence |", "|---|---|---|---|"]
            for clause in self.clauses:
                text = " ".join(clause.evidence.text.split()).replace("|", "\\|")
                lines.append(f"| {clause.category} | {clause.confidence:.2f} | {clause.evidence.page} | {text} |")
        return "\n".join(lines) + "\n"


def schema_json() -> str:
    """The published JSON schema of ``ContractAnalysis``."""
    return json.dumps(ContractAnalysis.model_json_schema(), indent=2, sort_keys=True) + "\n"


@dataclass
class ContractMetrics:
    """What ``ContractParser.evaluate`` measures on labelled contracts (CUAD layout).

    Attributes:
        split: "all", or "val" for the seeded held-out part.
        contracts: how many contracts were scored.
        fields: per field (dates, durations, governing law, parties) precision / recall / F1.
        window: clause window metrics per scorer (tagger, lexical, shipped: AUPR, P@80R, ...).
        span: CUAD span AUPR / P@80R / P@90R of the tagger's spans (in %).
        span_with_rules: the same with the rules' parties and dates added.
        report: everything else of the clause report (windows, stride, baseline).
    """

    split: str
    contracts: int
    fields: dict[str, dict]
    window: dict[str, dict]
    span: dict[str, float]
    span_with_rules: dict[str, float] | None = None
    report: dict[str, Any] = dc_field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
