"""Dates to ISO 8601, with day-first / month-first decided per document from evidence.

"5/8/14" is 8 May in New York and 5 August in London. ``date_order`` looks at the
document: numeric dates that only read one way ("25/08/2014"), the governing law, dates
written in another language; ``read_date`` then reads "5/8/14" that way, and without
evidence marks it ambiguous (value None, both readings in ``uncertain``) instead of guessing.
A date without a year ("March 3rd") reads as ISO's "--03-03" and is flagged.

Example:
    >>> read_date("the 3rd day of March, 2025").value, read_date("5/8/14").value
    ('2025-03-03', None)
    >>> read_date("5/8/14", day_first=True).value
    '2014-08-05'
"""

from __future__ import annotations

import datetime as dt
import re

from .numbers import ORDINAL_WORDS, ORDINALS, Reading, ordinal_to_number
from .scan import Scanner, words_regex

_ENGLISH = [
    ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
    ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
    ("december", "dec"),
]  # fmt: skip
FOREIGN_LOCALES = ("de", "fr", "es", "it", "nl", "pt")


def _month_names() -> tuple[dict[str, int], set[str]]:
    """English month names and abbreviations, plus the wide names of ``FOREIGN_LOCALES`` (Babel CLDR)."""
    from babel.dates import get_month_names

    names = {name: i for i, group in enumerate(_ENGLISH, start=1) for name in group}
    foreign = set()
    for locale in FOREIGN_LOCALES:
        for i, name in get_month_names("wide", locale=locale).items():
            if name.lower() not in names:
                names[name.lower()] = i
                foreign.add(name.lower())
    return names, foreign


MONTHS, FOREIGN_MONTHS = _month_names()
_MONTH = "(?:" + "|".join(re.escape(m) for m in sorted(MONTHS, key=len, reverse=True)) + r")\b\.?"
_DAY = rf"(?:[0-3]?\d(?:st|nd|rd|th|er)?\.?|{ORDINAL_WORDS})"
_YEAR = r"(?:19|20)\d\d"
_DAY_ORDINAL = rf"(?:[0-3]?\d(?:st|nd|rd|th)|{ORDINAL_WORDS})"
DATE_PATTERN = re.compile(
    rf"(?:\b(?:the\s+)?{_DAY}(?:\s+day)?(?:\s+of)?\s+{_MONTH},?\s+(?:in\s+the\s+year\s+)?{_YEAR}\b"
    rf"|\b(?:the\s+)?{_DAY_ORDINAL}(?:\s+day)?\s+of\s+{_MONTH}"
    rf"|\b[0-3]?\d(?:st|nd|rd|th)\s+{_MONTH}"
    rf"|\b{_MONTH}\s+(?:{_DAY},?\s+{_YEAR}\b|[0-3]?\d(?:st|nd|rd|th)\b)"
    rf"|\b[0-3]?\d-(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)-(?:{_YEAR}|\d\d)\b"
    rf"|\b{_YEAR}([-/.])[01]?\d\1[0-3]?\d\b"
    rf"|\b[0-3]?\d/[0-3]?\d/(?:{_YEAR}|\d\d)\b"
    rf"|\b[0-3]?\d([.-])[0-3]?\d\2{_YEAR}\b)",
    re.IGNORECASE,
)
# every branch starts at a word: a digit, "the", an ordinal word or a month name
_DATE_WORDS = words_regex(["the", "twenty", "thirty", *ORDINALS, *MONTHS])
DATES = Scanner(DATE_PATTERN, re.compile(rf"\b(?=\d|{_DATE_WORDS})"))
# day-first unless the law is American (or Filipino / Micronesian, which write month first too)
MONTH_FIRST_PLACES = {
    "united states", "usa", "u.s.", "america", "philippines", "alabama", "alaska", "arizona", "arkansas",
    "california", "colorado", "connecticut", "delaware", "district of columbia", "florida", "georgia", "hawaii",
    "idaho", "illinois", "indiana", "iowa", "kansas", "kentucky", "louisiana", "maine", "maryland",
    "massachusetts", "michigan", "minnesota", "mississippi", "missouri", "montana", "nebraska", "nevada",
    "new hampshire", "new jersey", "new mexico", "new york", "north carolina", "north dakota", "ohio", "oklahoma",
    "oregon", "pennsylvania", "rhode island", "south carolina", "south dakota", "tennessee", "texas", "utah",
    "vermont", "virginia", "washington", "west virginia", "wisconsin", "wyoming", "puerto rico",
}  # fmt: skip


def _iso(year: int, month: int, day: int) -> str | None:
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def _year(text: str) -> int:
    year = int(text)
    return year if year >= 100 else year + (2000 if year < 50 else 1900)


def read_date(text: str, day_first: bool | None = None) -> Reading | None:
    """The ISO date of a date phrase as a ``Reading``; None when it is not a date.

    Args:
        day_first: how the document writes numeric dates (``date_order``); None: unknown, so
            a date that reads both ways ("5/8/14") gets value None and both readings.
    """
    text = " ".join(text.lower().replace(",", " ").split())
    ymd = re.fullmatch(r"((?:19|20)\d\d)([-/.])(\d{1,2})\2(\d{1,2})", text)
    if ymd:
        iso = _iso(int(ymd[1]), int(ymd[3]), int(ymd[4]))
        return Reading(iso) if iso else None
    numeric = re.fullmatch(r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})", text)
    if numeric:
        return _numeric(int(numeric[1]), int(numeric[3]), _year(numeric[4]), day_first)
    return _written(text)


def _numeric(first: int, second: int, year: int, day_first: bool | None) -> Reading | None:
    month_first, day_first_iso = _iso(year, first, second), _iso(year, second, first)
    if month_first is None or day_first_iso is None or first == second:
        iso = month_first or day_first_iso
        return Reading(iso) if iso else None
    if day_first is None:
        return Reading(None, f"ambiguous: {month_first} if month first, {day_first_iso} if day first")
    return Reading(day_first_iso if day_first else month_first)


def _written(text: str) -> Reading | None:
    words = [w.rstrip(".") for w in re.split(r"[\s-]+", text)]
    words = [w for w in words if w not in ("the", "day", "of", "in", "year", "")]
    month = next((MONTHS[w] for w in words if w in MONTHS), None)
    if month is None:
        return None
    rest = [w for w in words if w not in MONTHS]
    years = [_year(w) for w in rest if re.fullmatch(r"1[5-9]\d\d|2\d\d\d", w)]
    if not years and len(rest) == 2 and re.fullmatch(r"\d\d", rest[-1]):  # "03-mar-25"
        years = [_year(rest.pop())]
    days = [d for d in (ordinal_to_number(w) for w in _day_words(rest)) if d and 1 <= d <= 31]
    if not days:
        return None
    if not years:
        if _iso(2000, month, days[0]) is None:  # 2000 is a leap year: Feb 29 stays possible
            return None
        return Reading(f"--{month:02d}-{days[0]:02d}", "no year given")
    iso = _iso(years[0], month, days[0])
    return Reading(iso) if iso else None


def _day_words(words: list[str]) -> list[str]:
    """Words that may state the day; "twenty first" joined back into one ordinal."""
    out, skip = [], False
    for i, word in enumerate(words):
        if skip:
            skip = False
            continue
        if word in ("twenty", "thirty") and i + 1 < len(words):
            out.append(f"{word}-{words[i + 1]}")
            skip = True
        elif not re.fullmatch(r"\d{4}", word):
            out.append(word)
    return out


def parse_date(text: str, day_first: bool | None = None) -> str | None:
    """The ISO date of a date phrase, or None (not a date, or ambiguous without ``day_first``)."""
    reading = read_date(text, day_first)
    return None if reading is None else reading.value


def date_order(text: str, governing_law: list[str] = ()) -> tuple[bool | None, str]:
    """(day_first, the evidence) for the numeric dates of one document; day_first None: no evidence.

    Evidence, strongest first: numeric dates that read only one way ("25/08/2014" is
    day-first), the governing law (American: month-first; elsewhere day-first), months
    written in another language (day-first).

    Example:
        >>> date_order("Signed 25/08/2014. Paid 5/8/14.")
        (True, '1 numeric date(s) only read day-first')
    """
    day_first = month_first = 0
    for match in re.finditer(r"(?<![\d/.-])(\d{1,2})([/.-])(\d{1,2})\2(?:\d{4}|\d{2})(?![\d/-]|\.\d)", text):
        a, b = int(match[1]), int(match[3])
        day_first += a > 12 >= b
        month_first += b > 12 >= a
    if day_first and not month_first:
        return True, f"{day_first} numeric date(s) only read day-first"
    if month_first and not day_first:
        return False, f"{month_first} numeric date(s) only read month-first"
    if day_first and month_first:
        return None, "numeric dates read both ways in this document"
    places = {" ".join(law.lower().split()) for law in governing_law}
    if places:
        american = {p in MONTH_FIRST_PLACES for p in places}
        if american == {True}:
            return False, f"governed by American law ({', '.join(sorted(places))})"
        if american == {False}:
            return True, f"governed by non-American law ({', '.join(sorted(places))})"
    names = "|".join(map(re.escape, sorted(FOREIGN_MONTHS)))
    foreign = re.search(rf"\b\d{{1,2}}\.?\s+(?:{names})\s+(?:19|20)\d\d\b", text, re.IGNORECASE)
    if foreign:
        return True, f"months written in another language ({foreign.group(0)})"
    return None, "no evidence for day-first or month-first"
