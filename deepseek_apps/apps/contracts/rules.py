"""Rule-based extraction: dates typed by context, money, percents, durations, governing law.

Rules are where rules are better than a model: finding and normalising values with a fixed
shape. Context cues (which words type a date as effective or a duration as a notice period)
come from the legal terms database, so a user glossary extends them.

Example:
    >>> from deepseek_apps.apps.contracts.documents import read_document
    >>> from deepseek_apps.apps.contracts.glossary import load_legal_terms
    >>> from deepseek_apps.apps.contracts.rules import extract
    >>> doc = read_document(b"This Agreement expires on June 30, 2021.", filename="a.txt")
    >>> [(f.kind, f.value) for f in extract(doc, load_legal_terms()).facts]
    [('expiration', '2021-06-30')]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .documents import Document
from .glossary import LegalTerms
from .normalize import (
    DATE_PATTERN,
    DEFAULT_CURRENCIES,
    DURATION_PATTERN,
    add_duration,
    duration_value,
    money_pattern,
    normalize_jurisdiction,
    parse_date,
    parse_money,
)
from .parties import find_definitions, find_parties, preamble
from .results import Definition, Duration, Evidence, Fact, KeyDates, Money, Party

PERCENT_PATTERN = re.compile(r"\b\d{1,3}(?:\.\d+)?\s?(?:%|percent\b|per\s+cent\b)", re.IGNORECASE)
LAW_PATTERN = re.compile(
    r"(?:governed\s+by|construed|interpreted|enforced|subject\s+to)[^.;]{0,120}?\blaws?\s+(?:of|in)\s+"
    r"(?P<j>(?:the\s+)?(?:(?:State|Commonwealth|Province|Republic|Kingdom|People's\s+Republic)\s+of\s+)?"
    r"[A-Z][A-Za-z\.]*(?:[ \t\n]+(?:(?:and|of|the)[ \t\n]+)?[A-Z][A-Za-z\.]*){0,3})",
)
LAW_REVERSED = re.compile(
    r"\blaws\s+of\s+(?P<j>(?:the\s+)?(?:(?:State|Commonwealth|Province)\s+of\s+)?[A-Z][A-Za-z]*(?:\s+[A-Z][A-Za-z]*){0,2})"
    r"[^.;]{0,60}?\b(?:shall\s+govern|govern(?:s)?\s+this)",
)
_NOT_JURISDICTION = {"United States", "America", "United States of America"}


@dataclass
class RuleResult:
    parties: list[Party] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)
    definitions: list[Definition] = field(default_factory=list)
    dates: KeyDates = field(default_factory=KeyDates)
    governing_law: list[str] = field(default_factory=list)


def _evidence(doc: Document, start: int, end: int) -> Evidence:
    return Evidence(page=doc.page_at(start), start=start, end=end, text=doc.text[start:end])


def _sentence_before(text: str, start: int, reach: int = 160) -> str:
    window = text[max(0, start - reach) : start]
    cut = max(window.rfind(". "), window.rfind(";"), window.rfind("\n\n"))
    return window[cut + 1 :].lower() if cut >= 0 else window.lower()


def _has(cues: list[str], context: str) -> bool:
    return any(re.search(rf"\b{re.escape(cue)}", context) for cue in cues)


def date_kind(text: str, start: int, end: int, cues: dict[str, list[str]], in_preamble: bool) -> str:
    """agreement / effective / expiration / other, from the words around the date."""
    before = _sentence_before(text, start)
    after = text[end : end + 40].lower()
    if _has(cues.get("expiration", []), before[-90:]):
        return "expiration"
    if _has(cues.get("effective", []), before[-80:]) or "effective date" in after:
        return "effective"
    if in_preamble or _has(cues.get("agreement", []), before[-60:]):
        return "agreement" if in_preamble else "other"
    return "other"


def find_dates(doc: Document, terms: LegalTerms) -> list[Fact]:
    head_end = len(preamble(doc.text))
    facts = []
    for match in DATE_PATTERN.finditer(doc.text):
        iso = parse_date(match.group(0))
        if iso is None:
            continue
        kind = date_kind(doc.text, match.start(), match.end(), terms.date_cues, match.start() < head_end)
        facts.append(Fact(label="DATE", kind=kind, value=iso, evidence=_evidence(doc, match.start(), match.end())))
    return facts


def _last_cue(cues: list[str], context: str) -> int:
    ends = [m.end() for cue in cues for m in re.finditer(rf"\b{re.escape(cue)}", context)]
    return max(ends, default=-1)


def duration_kind(text: str, start: int, cues: dict[str, list[str]]) -> str:
    """term / renewal_term / notice_period / other: the cue nearest before the duration wins."""
    before = _sentence_before(text, start, 200)[-120:]
    nearest = {kind: _last_cue(cues.get(kind, []), before) for kind in ("renewal_term", "notice_period", "term")}
    kind, position = max(nearest.items(), key=lambda kv: kv[1])
    return kind if position >= 0 else "other"


def find_durations(doc: Document, terms: LegalTerms) -> list[Fact]:
    facts = []
    for match in DURATION_PATTERN.finditer(doc.text):
        value = duration_value(match)
        if value is None or value["unit"] not in ("day", "week", "month", "year"):
            continue
        kind = duration_kind(doc.text, match.start(), terms.duration_cues)
        evidence = _evidence(doc, match.start(), match.end())
        facts.append(Fact(label="DURATION", kind=kind, value=Duration(**value), evidence=evidence))
    return facts


def find_money_and_percents(doc: Document, terms: LegalTerms) -> list[Fact]:
    currencies = {**DEFAULT_CURRENCIES, **terms.currencies}
    facts = []
    for match in money_pattern(currencies).finditer(doc.text):
        parsed = parse_money(match.group(0), currencies)
        if parsed:
            money = Money(amount=parsed[0], currency=parsed[1])
            facts.append(Fact(label="MONEY", value=money, evidence=_evidence(doc, match.start(), match.end())))
    for match in PERCENT_PATTERN.finditer(doc.text):
        value = float(re.match(r"\d+(?:\.\d+)?", match.group(0))[0])
        facts.append(Fact(label="PERCENT", value=value, evidence=_evidence(doc, match.start(), match.end())))
    return facts


def find_governing_law(doc: Document) -> list[Fact]:
    facts, seen = [], set()
    for pattern in (LAW_PATTERN, LAW_REVERSED):
        for match in pattern.finditer(doc.text):
            name = normalize_jurisdiction(match["j"])
            name = re.sub(r"\s+(?:and|of|the)$", "", name)
            if not name or name in _NOT_JURISDICTION or name.lower() in seen:
                continue
            seen.add(name.lower())
            start, end = match.start("j"), match.end("j")
            facts.append(Fact(label="GOVERNING_LAW", value=name, evidence=_evidence(doc, start, end)))
    return facts


def find_legal_terms(doc: Document, terms: LegalTerms) -> list[Fact]:
    lowered, facts, taken = doc.text.lower(), [], []
    for phrase, category in terms.synonyms():
        pattern = r"\s+".join(re.escape(word) for word in phrase.split())
        for match in re.finditer(rf"\b{pattern}\b", lowered):
            if any(s < match.end() and match.start() < e for s, e in taken):
                continue
            taken.append((match.start(), match.end()))
            evidence = _evidence(doc, match.start(), match.end())
            facts.append(Fact(label="LEGAL_TERM", kind=category, value=phrase, evidence=evidence))
    return facts


def key_dates(dates: list[Fact], durations: list[Fact]) -> tuple[KeyDates, list[Fact]]:
    """The agreement / effective / expiration dates, deriving expiration = start + term if needed."""
    first = {
        kind: next((f for f in dates if f.kind == kind), None) for kind in ("agreement", "effective", "expiration")
    }
    agreement = first["agreement"].value if first["agreement"] else None
    effective = first["effective"].value if first["effective"] else None
    expiration = first["expiration"].value if first["expiration"] else None
    derived = []
    term = next((d for d in durations if d.kind == "term" and d.value.unit in ("month", "year")), None)
    start = effective or agreement
    if expiration is None and term is not None and start:
        expiration = add_duration(start, term.value.model_dump())
        if expiration:
            derived.append(
                Fact(label="DATE", kind="expiration", value=expiration, evidence=term.evidence, derived=True)
            )
    return KeyDates(agreement=agreement, effective=effective, expiration=expiration), derived


def extract(doc: Document, terms: LegalTerms) -> RuleResult:
    """Every rule-based fact of ``doc`` with its evidence."""
    dates = find_dates(doc, terms)
    durations = find_durations(doc, terms)
    laws = find_governing_law(doc)
    dates_summary, derived = key_dates(dates, durations)
    parties = [
        Party(name=p.name, roles=p.roles, evidence=_evidence(doc, p.start, p.end))
        for p in find_parties(doc.text, terms.entity_suffixes)
    ]
    definitions = [
        Definition(term=d.term, definition=d.definition, evidence=_evidence(doc, d.start, d.end))
        for d in find_definitions(doc.text)
    ]
    facts = dates + derived + durations + find_money_and_percents(doc, terms) + laws + find_legal_terms(doc, terms)
    facts += [Fact(label="PARTY", kind="party", value=p.name, evidence=p.evidence) for p in parties]
    facts.sort(key=lambda f: (f.evidence.start, f.label))
    return RuleResult(
        parties=parties,
        facts=facts,
        definitions=definitions,
        dates=dates_summary,
        governing_law=[f.value for f in laws],
    )
