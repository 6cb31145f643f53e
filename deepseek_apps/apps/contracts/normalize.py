"""Normalising the values rules find: dates to ISO, money to amount + ISO 4217, durations.

Example:
    >>> from deepseek_apps.apps.contracts.normalize import parse_date, parse_money, parse_duration
    >>> parse_date("the 8th day of May, 2014"), parse_date("5/8/14")
    ('2014-05-08', '2014-05-08')
    >>> parse_money("EUR 1,250,000.00"), parse_money("$2.5 million")
    ((1250000.0, 'EUR'), (2500000.0, 'USD'))
    >>> parse_duration("three (3) years")
    {'value': 3, 'unit': 'year'}
"""

from __future__ import annotations

import datetime as dt
import re

MONTHS = {
    name: index
    for index, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sept?(?:ember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
_DAY = r"(?:[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d\d"
DATE_PATTERN = re.compile(
    rf"(?:(?:the\s+)?{_DAY}\s+(?:day\s+of\s+)?{_MONTH},?\s+(?:in\s+the\s+year\s+)?{_YEAR}"
    rf"|{_MONTH}\s+{_DAY},?\s+{_YEAR}"
    rf"|{_YEAR}-[01]\d-[0-3]\d"
    rf"|[01]?\d/[0-3]?\d/(?:{_YEAR}|\d\d)\b)",
    re.IGNORECASE,
)

NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "eighteen": 18, "twenty": 20, "thirty": 30, "forty": 40, "forty-five": 45, "fifty": 50, "sixty": 60,
    "seventy": 70, "seventy-five": 75, "eighty": 80, "ninety": 90, "one hundred": 100, "one hundred twenty": 120,
    "one hundred eighty": 180,
}  # fmt: skip
UNITS = {"day": "day", "business day": "day", "week": "week", "month": "month", "year": "year", "calendar day": "day"}
_NUMBER = r"(?:\d{1,4}|" + "|".join(sorted(map(re.escape, NUMBER_WORDS), key=len, reverse=True)) + ")"
DURATION_PATTERN = re.compile(
    rf"\b({_NUMBER})(?:\s*\(\s*(\d{{1,4}})\s*\))?[\s-]+((?:business\s+|calendar\s+)?(?:day|week|month|year))s?\b",
    re.IGNORECASE,
)

DEFAULT_CURRENCIES = {
    "US$": "USD", "U.S.$": "USD", "$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "C$": "CAD", "CA$": "CAD",
    "A$": "AUD", "RMB": "CNY", "USD": "USD", "EUR": "EUR", "GBP": "GBP", "CAD": "CAD", "JPY": "JPY",
    "CNY": "CNY", "CHF": "CHF", "AUD": "AUD", "INR": "INR", "dollars": "USD", "euros": "EUR",
    "pounds sterling": "GBP", "yuan": "CNY",
}  # fmt: skip
_SCALE = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "k": 1e3, "m": 1e6, "bn": 1e9}


def money_pattern(currencies: dict[str, str]) -> re.Pattern:
    """Amounts with a currency symbol/code before, or a currency word/code after."""
    prefixes = sorted((c for c in currencies if not c.isalpha() or c.isupper()), key=len, reverse=True)
    suffixes = sorted(currencies, key=len, reverse=True)
    pre = "|".join(re.escape(p) for p in prefixes)
    post = "|".join(re.escape(s) for s in suffixes)
    amount = r"\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?"
    scale = r"(?:\s*(?:thousand|million|billion|bn)\b)?"
    return re.compile(
        rf"(?:(?P<pre>{pre})\s?(?P<a1>{amount}){scale}"
        rf"|\b(?P<a2>{amount}){scale}\s*(?P<post>{post})\b)",
        re.IGNORECASE,
    )


def parse_date(text: str) -> str | None:
    """ISO date (YYYY-MM-DD) of a date phrase, or None. Numeric dates are read month first (US)."""
    text = text.strip().lower().replace(",", " ").replace(".", " ")
    iso = re.fullmatch(r"((?:19|20)\d\d)-(\d\d)-(\d\d)", text.strip())
    if iso:
        return _iso(int(iso[1]), int(iso[2]), int(iso[3]))
    numeric = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})", text.strip())
    if numeric:
        year = int(numeric[3])
        year += 0 if year >= 100 else (2000 if year < 50 else 1900)
        return _iso(year, int(numeric[1]), int(numeric[2]))
    words = [w for w in text.split() if w not in ("the", "day", "of", "in", "year")]
    month = next((MONTHS[w] for w in words if w in MONTHS), None)
    numbers = [int(re.sub(r"(st|nd|rd|th)$", "", w)) for w in words if re.fullmatch(r"\d+(st|nd|rd|th)?", w)]
    years = [n for n in numbers if n >= 1900]
    days = [n for n in numbers if 1 <= n <= 31]
    if month is None or not years or not days:
        return None
    return _iso(years[0], month, days[0])


def _iso(year: int, month: int, day: int) -> str | None:
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def parse_money(text: str, currencies: dict[str, str] | None = None) -> tuple[float, str] | None:
    """(amount, ISO currency) of a money phrase, or None."""
    currencies = currencies or DEFAULT_CURRENCIES
    match = money_pattern(currencies).search(text)
    if not match:
        return None
    raw = match["a1"] or match["a2"]
    amount = float(raw.replace(",", ""))
    scale = re.search(r"\b(thousand|million|billion|bn)\b", match.group(0), re.IGNORECASE)
    if scale:
        amount *= _SCALE[scale[1].lower()]
    token = match["pre"] or match["post"]
    lookup = {k.lower(): v for k, v in currencies.items()}
    return amount, lookup.get(token.lower(), token.upper())


def parse_duration(text: str) -> dict[str, int | str] | None:
    """{"value": 3, "unit": "year"} for "three (3) years", "36 months", "sixty (60) days"."""
    match = DURATION_PATTERN.search(text)
    if not match:
        return None
    return duration_value(match)


def duration_value(match: re.Match) -> dict[str, int | str] | None:
    number = match[2] or match[1]
    value = int(number) if number.isdigit() else NUMBER_WORDS.get(number.lower())
    if value is None:
        return None
    unit = UNITS.get(" ".join(match[3].lower().split()), match[3].lower().split()[-1])
    return {"value": value, "unit": unit}


def add_duration(iso_date: str, duration: dict) -> str | None:
    """The date ``duration`` after ``iso_date`` (months/years calendar-aware), as ISO."""
    start = dt.date.fromisoformat(iso_date)
    value, unit = int(duration["value"]), duration["unit"]
    if unit in ("day", "week"):
        return (start + dt.timedelta(days=value * (7 if unit == "week" else 1))).isoformat()
    months = value * (12 if unit == "year" else 1)
    month = start.month - 1 + months
    year, month = start.year + month // 12, month % 12 + 1
    for day in (start.day, 30, 29, 28):
        iso = _iso(year, month, min(day, start.day))
        if iso:
            return iso
    return None


_JURISDICTION_PREFIX = re.compile(
    r"^(?:the\s+)?(?:laws\s+of\s+)?(?:the\s+)?(?:state|commonwealth|province|republic|people's republic|kingdom)\s+of\s+",
    re.IGNORECASE,
)


def normalize_jurisdiction(text: str) -> str:
    """'the State of New York' -> 'New York'; 'England and Wales' stays."""
    text = " ".join(text.split()).strip(" ,.;")
    text = _JURISDICTION_PREFIX.sub("", text)
    text = re.sub(r"^the\s+", "", text, flags=re.IGNORECASE)
    return text.strip(" ,.;")
