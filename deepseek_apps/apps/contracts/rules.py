"""Rule-based extraction: dates typed by context, money, percents, durations, governing law.

Rules are where rules are better than a model: finding and normalising values with a fixed
shape. Context cues (which words type a date as effective or a duration as a notice period)
come from the legal terms database, so a user glossary extends them.

Example:
    >>> from deepseek_apps.apps.contracts.reading.documents import read_document
    >>> from deepseek_apps.apps.contracts.glossary import load_legal_terms
    >>> from deepseek_apps.apps.contracts.rules import extract
    >>> doc = read_document(b"This Agreement expires on June 30, 2021.", filename="a.txt")
    >>> [(f.kind, f.value) for f in extract(doc, load_legal_terms()).facts]
    [('expiration', '2021-06-30')]
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from .glossary import LegalTerms
from .normalize import (
    DATES,
    DEFAULT_CURRENCIES,
    DURATIONS,
    PERCENTS,
    add_duration,
    date_order,
    decimal_separator,
    duration_of,
    money_of,
    money_scanner,
    normalize_jurisdiction,
    percent_of,
    read_date,
)
from .parties import find_definitions, find_parties, preamble
from .reading.pages import Document
from .results import Definition, Evidence, Fact, KeyDates, Party
from .values.scan import Scanner, fold, words_regex

_LAW_PREFIX = (
    r"(?:the\s+)?(?:(?:state|commonwealth|province|republic|kingdom|people's\s+republic|federal\s+republic)\s+of\s+)?"
)
_ENTITY_LAW = re.compile(r"\b(?:organi[sz]ed|incorporated|existing|formed|registered|chartered)\b", re.IGNORECASE)
_GOVERN_CUE = re.compile(r"govern|constru|interpret|enforce|applicable\s+law|choice\s+of\s+law", re.IGNORECASE)


def law_pattern(jurisdictions: list[str]) -> re.Pattern:
    """'laws of [the State of] <known jurisdiction>' in any letter case."""
    names = sorted({j for j in jurisdictions if j}, key=len, reverse=True)
    alternatives = "|".join(r"\s+".join(map(re.escape, name.split())) for name in names)
    return re.compile(rf"\blaws?\s+(?:of|in)\s+(?P<j>{_LAW_PREFIX}(?:{alternatives}))\b", re.IGNORECASE)


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
    if _has(cues.get("expiration", []), before[-90:]) and re.search(r"\b(?:term|agreement)\b", before):
        return "expiration"  # "the term ... expires on", "this Agreement continues until"
    if _has(cues.get("effective", []), before[-80:]) or "effective date" in after:
        return "effective"
    if in_preamble and (_has(cues.get("agreement", []), before[-60:]) or "/" not in text[start:end]):
        return "agreement"  # a bare numeric date in the preamble is more often a filing stamp
    return "other"


def find_dates(doc: Document, terms: LegalTerms, governing_law: list[str] = ()) -> list[Fact]:
    """Dates with their kind; numeric ones read day-first or month-first as the document shows
    (``date_order``), and an ambiguous one kept with value None and ``uncertain`` saying why."""
    head_end = len(preamble(doc.text))
    day_first, evidence = date_order(doc.text, governing_law)
    facts = []
    for match in DATES.finditer(doc.text):
        reading = read_date(match.group(0), day_first)
        if reading is None:
            continue
        uncertain = reading.uncertain
        if reading.value is None:
            uncertain = f"{uncertain}; {evidence}"
        kind = date_kind(doc.text, match.start(), match.end(), terms.date_cues, match.start() < head_end)
        facts.append(
            Fact(
                label="DATE", kind=kind, value=reading.value, uncertain=uncertain,
                evidence=_evidence(doc, match.start(), match.end()),
            )
        )  # fmt: skip
    return facts


def _last_cue(cues: list[str], context: str) -> int:
    ends = [m.end() for cue in cues for m in re.finditer(rf"\b{re.escape(cue)}", context)]
    return max(ends, default=-1)


def duration_kind(text: str, start: int, cues: dict[str, list[str]]) -> str:
    """term / renewal_term / notice_period / other: the cue nearest before the duration wins."""
    before = _sentence_before(text, start, 200)[-120:]
    nearest = {kind: _last_cue(cues.get(kind, []), before) for kind in ("renewal_term", "notice_period", "term")}
    kind, position = max(nearest.items(), key=lambda kv: kv[1])
    if kind == "notice_period" and not _mentions_renewal(text, start, cues.get("renewal_term", [])):
        return "other"  # a notice for something else (termination, audits): not the renewal notice
    return kind if position >= 0 else "other"


def _mentions_renewal(text: str, start: int, cues: list[str], reach: int = 300) -> bool:
    """Whether the sentence around ``start`` speaks of renewal (the notice is to stop a renewal)."""
    before = text[max(0, start - reach) : start]
    after = text[start : start + reach]
    cut = after.find(". ")
    sentence = before[max(before.rfind(". "), before.rfind("\n\n")) + 1 :] + (after[:cut] if cut >= 0 else after)
    return any(re.search(rf"\b{re.escape(cue)}", sentence, re.IGNORECASE) for cue in [*cues, "non-renew"])


def find_durations(doc: Document, terms: LegalTerms) -> list[Fact]:
    facts = []
    for match in DURATIONS.finditer(doc.text):
        reading = duration_of(match)
        if reading is None:
            continue
        kind = duration_kind(doc.text, match.start(), terms.duration_cues)
        evidence = _evidence(doc, match.start(), match.end())
        facts.append(
            Fact(label="DURATION", kind=kind, value=reading.value, uncertain=reading.uncertain, evidence=evidence)
        )
    return facts


def find_money_and_percents(doc: Document, terms: LegalTerms) -> list[Fact]:
    """Amounts (ranges, words) and percentages; figures read with the document's decimal separator."""
    currencies = {**DEFAULT_CURRENCIES, **terms.currencies}
    decimal, _ = decimal_separator(doc.text)
    facts = []
    for match in money_scanner(tuple(currencies.items())).finditer(doc.text):
        reading = money_of(match, currencies, decimal)
        if reading is not None:
            evidence = _evidence(doc, match.start(), match.end())
            facts.append(Fact(label="MONEY", value=reading.value, uncertain=reading.uncertain, evidence=evidence))
    for match in PERCENTS.finditer(doc.text):
        reading = percent_of(match, decimal)
        if reading is not None and reading.value is not None:
            evidence = _evidence(doc, match.start(), match.end())
            facts.append(Fact(label="PERCENT", value=reading.value, uncertain=reading.uncertain, evidence=evidence))
    return facts


def find_governing_law(doc: Document, terms: LegalTerms) -> list[Fact]:
    """Jurisdictions named as governing law ("governed by the laws of the State of New York")."""
    canonical = {" ".join(j.lower().split()): j for j in terms.jurisdictions}
    facts, seen = [], set()
    for match in law_pattern(terms.jurisdictions).finditer(doc.text):
        before = _sentence_before(doc.text, match.start(), 200)
        after = doc.text[match.end() : match.end() + 250].split(". ")[0]
        if _ENTITY_LAW.search(before[-60:]) or not _GOVERN_CUE.search(before + after):
            continue  # "a corporation organized under the laws of Delaware" is not a choice of law
        key = " ".join(normalize_jurisdiction(match["j"]).lower().split())
        name = canonical.get(key, normalize_jurisdiction(match["j"]))
        if name.lower() in seen:
            continue
        seen.add(name.lower())
        facts.append(Fact(label="GOVERNING_LAW", value=name, evidence=_evidence(doc, match.start("j"), match.end("j"))))
    return facts


@functools.lru_cache(maxsize=8)
def _terms_scanner(phrases: tuple[str, ...]) -> Scanner:
    """The glossary phrases (lower case, any run of spaces between words), tried where a first word starts."""
    alternatives = "|".join(r"\s+".join(map(re.escape, phrase.split())) for phrase in phrases)
    first_words = words_regex(phrase.split()[0] for phrase in phrases if phrase.split())
    return Scanner(re.compile(rf"\b(?:{alternatives})\b"), re.compile(rf"\b(?={first_words})"))


def find_legal_terms(doc: Document, terms: LegalTerms) -> list[Fact]:
    """Glossary terms and synonyms (longest first, not overlapping), with their category."""
    pairs = terms.synonyms()
    if not pairs:
        return []
    category = {" ".join(phrase.split()): cat for phrase, cat in pairs}
    facts = []
    for match in _terms_scanner(tuple(p for p, _ in pairs)).finditer(fold(doc.text)):
        phrase = " ".join(match.group(0).split())
        evidence = _evidence(doc, match.start(), match.end())
        facts.append(Fact(label="LEGAL_TERM", kind=category[phrase], value=phrase, evidence=evidence))
    return facts


_TERM_SENTENCE = re.compile(
    r"initial\s+term|term\s+of\s+this\s+agreement|this\s+agreement\s+shall\s+(?:continue|remain)|"
    r"remain\s+in\s+(?:full\s+force\s+and\s+)?effect|shall\s+be\s+for\s+a\s+period",
    re.IGNORECASE,
)


def contract_term(text: str, durations: list[Fact]) -> Fact | None:
    """The duration stating how long the contract runs, when a sentence says so plainly."""
    for fact in durations:
        if fact.kind != "term" or fact.value.unit not in ("month", "year"):
            continue
        start = fact.evidence.start
        if _TERM_SENTENCE.search(_sentence_before(text, start, 240)):
            return fact
    return None


_EFFECTIVE_AS_SIGNED = re.compile(
    r"(?:effective|commenc\w*|enter\w*\s+into\s+force)\W+(?:\w+\W+){0,8}?(?:the\s+)?"
    r"(?:day\s+and\s+year|date)\s+(?:first\s+)?(?:above\s+|hereinabove\s+)?(?:written|set\s+forth|stated)",
    re.IGNORECASE,
)


def key_dates(dates: list[Fact], term: Fact | None, head_end: int = 0, text: str = "") -> tuple[KeyDates, list[Fact]]:
    """The agreement / effective / expiration dates, deriving expiration = start + term if needed."""
    complete = [f for f in dates if f.value and f.value[0].isdigit()]  # not ambiguous, not "--03-03"
    first = {
        kind: next((f for f in complete if f.kind == kind), None) for kind in ("agreement", "effective", "expiration")
    }
    if first["agreement"] is None and first["effective"] is not None and first["effective"].evidence.start < head_end:
        first["agreement"] = first["effective"]  # "entered into effective as of <date>": also the agreement date
    agreement = first["agreement"].value if first["agreement"] else None
    effective = first["effective"].value if first["effective"] else None
    if effective is None and agreement and _EFFECTIVE_AS_SIGNED.search(text):
        effective = agreement  # "effective as of the date first written above"
    expiration = first["expiration"].value if first["expiration"] else None
    derived = []
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
    laws = find_governing_law(doc, terms)
    dates = find_dates(doc, terms, [f.value for f in laws])
    durations = find_durations(doc, terms)
    term = contract_term(doc.text, durations)
    dates_summary, derived = key_dates(dates, term, len(preamble(doc.text)), doc.text)
    parties = [
        Party(name=p.name, roles=p.roles, evidence=_evidence(doc, p.start, p.end))
        for p in find_parties(doc.text, terms.entity_suffixes, terms.jurisdictions)
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
