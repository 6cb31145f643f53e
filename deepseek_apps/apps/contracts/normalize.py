"""Normalising the values rules find: dates to ISO, money to amount + ISO 4217, durations.

The readers live in ``values`` (numbers, money, dates, durations); this module gathers them
with the date arithmetic and jurisdiction names the rules need. Each ``read_*`` returns a
``values.Reading`` (value + ``uncertain`` reason); each ``parse_*`` only the value.

Example:
    >>> from deepseek_apps.apps.contracts.normalize import parse_date, parse_money, parse_duration
    >>> parse_date("the 8th day of May, 2014"), parse_date("5/8/14"), parse_date("5/8/14", day_first=False)
    ('2014-05-08', None, '2014-05-08')
    >>> parse_money("EUR 1.250.000,00").amount, parse_money("$2.5 million").amount
    (1250000.0, 2500000.0)
    >>> parse_duration("seventeen (17) days").value
    17
"""

from __future__ import annotations

import datetime as dt
import re

from .values.dates import DATE_PATTERN, DATES, date_order, parse_date, read_date
from .values.durations import DURATION_PATTERN, DURATIONS, duration_of, parse_duration, read_duration
from .values.money import (
    DEFAULT_CURRENCIES,
    PERCENT_PATTERN,
    PERCENTS,
    decimal_separator,
    money_of,
    money_pattern,
    money_scanner,
    parse_money,
    percent_of,
    read_money,
    read_percent,
)
from .values.numbers import Reading

__all__ = [
    "DATES", "DATE_PATTERN", "DEFAULT_CURRENCIES", "DURATIONS", "DURATION_PATTERN", "PERCENTS", "PERCENT_PATTERN",
    "Reading", "add_duration", "date_order", "decimal_separator", "duration_of", "money_of", "money_pattern",
    "money_scanner", "normalize_jurisdiction", "parse_date",
    "parse_duration", "parse_money", "percent_of", "read_date", "read_duration", "read_money", "read_percent",
]  # fmt: skip


def add_duration(iso_date: str, duration: dict) -> str | None:
    """The date ``duration`` after ``iso_date`` (months/years calendar-aware), as ISO.

    Business days are counted Monday to Friday (public holidays are not known here).
    """
    start = dt.date.fromisoformat(iso_date)
    value, unit = int(duration["value"]), duration["unit"]
    if unit == "day" and duration.get("days") == "business":
        day, left = start, value
        while left > 0:
            day += dt.timedelta(days=1)
            left -= day.weekday() < 5
        return day.isoformat()
    if unit in ("day", "week"):
        return (start + dt.timedelta(days=value * (7 if unit == "week" else 1))).isoformat()
    months = value * (12 if unit == "year" else 1)
    month = start.month - 1 + months
    year, month = start.year + month // 12, month % 12 + 1
    for day in (start.day, 30, 29, 28):
        try:
            return dt.date(year, month, min(day, start.day)).isoformat()
        except ValueError:
            continue
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
