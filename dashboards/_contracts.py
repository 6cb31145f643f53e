"""Helpers of the Contract Parser page: highlighted text and tables from a ``ContractAnalysis``.

No Streamlit here, so the helpers can be tested on their own. Every span comes from the
analysis' evidence (character offsets into the document body text); a span whose offsets do
not match the text is left out rather than drawn in the wrong place.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass

import pandas as pd

from deepseek_apps import ContractAnalysis

# Okabe-Ito based, light enough to read black text on.
ENTITY_COLOURS = {
    "PARTY": "#F5C46B",
    "DATE": "#9AD0F5",
    "MONEY": "#7FD6B4",
    "PERCENT": "#F3EE8F",
    "DURATION": "#E3A9CF",
    "GOVERNING_LAW": "#F2A77A",
}
CLAUSE_COLOUR = "#0072B2"


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    label: str
    title: str


def entity_spans(analysis: ContractAnalysis, text: str) -> list[Span]:
    """Highlightable facts (parties, dates, money, percents, durations, law) read from ``text``."""
    spans = []
    for fact in analysis.facts:
        ev = fact.evidence
        if fact.label in ENTITY_COLOURS and not fact.derived and text[ev.start : ev.end] == ev.text:
            spans.append(Span(ev.start, ev.end, fact.label, _title(fact)))
    return spans


def _title(fact) -> str:
    kind = f" ({fact.kind})" if fact.kind else ""
    return f"{fact.label.replace('_', ' ').lower()}{kind}: {value_text(fact.value)}"


def clause_spans(analysis: ContractAnalysis, text: str) -> list[Span]:
    """The clauses found by the clause model (none in the rules stage)."""
    return [
        Span(c.evidence.start, c.evidence.end, "CLAUSE", f"{c.category} ({c.confidence:.2f})")
        for c in analysis.clauses
        if text[c.evidence.start : c.evidence.end] == c.evidence.text
    ]


def _covering(spans: list[Span], start: int, end: int) -> Span | None:
    """The shortest span covering [start, end), or None."""
    covering = [s for s in spans if s.start <= start and end <= s.end]
    return min(covering, key=lambda s: s.end - s.start) if covering else None


def highlight_html(text: str, analysis: ContractAnalysis) -> str:
    """``text`` as HTML with entities marked in colour and clauses underlined (tooltips name them).

    The text is cut at every span boundary; each piece gets the innermost entity and clause
    covering it, so overlapping spans never produce broken nesting.
    """
    entities, clauses = entity_spans(analysis, text), clause_spans(analysis, text)
    cuts = sorted({0, len(text), *(b for s in entities + clauses for b in (s.start, s.end))})
    parts = []
    for start, end in zip(cuts, cuts[1:]):
        piece = html.escape(text[start:end])
        entity = _covering(entities, start, end)
        if entity:
            colour = ENTITY_COLOURS[entity.label]
            piece = (
                f'<mark style="background:{colour};padding:0 1px;border-radius:3px" '
                f'title="{html.escape(entity.title)}">{piece}</mark>'
            )
        clause = _covering(clauses, start, end)
        if clause:
            piece = (
                f'<span style="border-bottom:2px solid {CLAUSE_COLOUR}" '
                f'title="Clause: {html.escape(clause.title)}">{piece}</span>'
            )
        parts.append(piece)
    body = "".join(parts)
    return f'<div style="white-space:pre-wrap;font-family:serif;line-height:1.6">{body}</div>'


def legend_html(with_clauses: bool) -> str:
    chips = [
        f'<mark style="background:{c};padding:0 4px;border-radius:3px">{label.replace("_", " ").lower()}</mark>'
        for label, c in ENTITY_COLOURS.items()
    ]
    if with_clauses:
        chips.append(f'<span style="border-bottom:2px solid {CLAUSE_COLOUR}">clause</span>')
    return '<div style="display:flex;gap:8px;flex-wrap:wrap">' + "".join(chips) + "</div>"


def value_text(value) -> str:
    """A fact value for a table cell: "USD 1,200.00", "30 day(s)", or the plain value."""
    if value is None:
        return ""
    if hasattr(value, "currency"):
        high = f" - {value.amount_high:,.2f}" if getattr(value, "amount_high", None) is not None else ""
        return f"{value.currency} {value.amount:,.2f}{high}"
    if hasattr(value, "unit"):
        days = f" ({value.days})" if getattr(value, "days", None) else ""
        return f"{value.value} {value.unit}(s){days}"
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def _evidence(ev) -> str:
    return " ".join(ev.text.split())


def facts_frame(analysis: ContractAnalysis) -> pd.DataFrame:
    rows = [
        {
            "label": f.label,
            "kind": f.kind or "",
            "value": value_text(f.value),
            "page": f.evidence.page,
            "evidence": _evidence(f.evidence),
            "derived": f.derived,
            "uncertain": f.uncertain or "",
        }
        for f in analysis.facts
    ]
    return pd.DataFrame(rows, columns=["label", "kind", "value", "page", "evidence", "derived"])


def relations_frame(analysis: ContractAnalysis) -> pd.DataFrame:
    rows = [
        {
            "kind": r.kind,
            "subject": r.subject,
            "object": r.object or "",
            "value": value_text(r.value),
            "page": r.evidence.page,
            "evidence": _evidence(r.evidence),
        }
        for r in analysis.relations
    ]
    return pd.DataFrame(rows, columns=["kind", "subject", "object", "value", "page", "evidence"])


def clauses_frame(analysis: ContractAnalysis) -> pd.DataFrame:
    rows = [
        {
            "category": c.category,
            "confidence": round(c.confidence, 3),
            "page": c.evidence.page,
            "evidence": _evidence(c.evidence),
        }
        for c in analysis.clauses
    ]
    return pd.DataFrame(rows, columns=["category", "confidence", "page", "evidence"])
