"""Durations: "seventeen (17) days", "one (1) year", "eighteen months", "90 calendar days",
"ninety (90) business days", "a twelve-month period".

Words and figures are both read; when they disagree the words are kept (the usual drafting
rule) and the reading says so.

Example:
    >>> read_duration("seventeen (17) days").value.value, read_duration("90 business days").value.days
    (17, 'business')
"""

from __future__ import annotations

import re

from ..results import Duration
from .numbers import NUMBER_WORD, NUMBER_WORDS, Reading, words_to_number
from .scan import Scanner

DURATION_PATTERN = re.compile(
    rf"\b(?P<num>{NUMBER_WORDS}|\d{{1,4}}(?:\.5)?)(?:\s*\(\s*(?P<fig>\d{{1,4}})\s*\))?[\s-]+"
    r"(?:(?P<kind>calendar|business|working|banking|trading)[\s-]+)?"
    r"(?P<unit>day|week|month|year)s?(?:'s|’s|s'|s’)?\b",
    re.IGNORECASE,
)
# after its first number word a duration goes on with a space, a hyphen or "(", never a letter
DURATIONS = Scanner(DURATION_PATTERN, re.compile(rf"\b(?=\d|{NUMBER_WORD}(?![a-z]))"))
_BUSINESS = {"business", "working", "banking", "trading"}


def duration_of(match: re.Match) -> Reading | None:
    """The ``Reading`` of ``results.Duration`` of one ``DURATION_PATTERN`` match."""
    raw = match["num"]
    if raw[0].isdigit():
        if "." in raw:
            return None  # "1.5 years": not a whole number of units
        words = None
        value = int(raw)
    else:
        words = words_to_number(raw)
        if words is None:
            return None
        value = words
    uncertain = None
    if match["fig"]:
        figure = int(match["fig"])
        if words is not None and figure != words:
            uncertain = f"words say {words}, figures say {figure} (words usually prevail)"
        elif words is None:
            value = figure
    kind = (match["kind"] or "").lower()
    days = None if not kind else ("business" if kind in _BUSINESS else "calendar")
    unit = match["unit"].lower()
    return Reading(Duration(value=value, unit=unit, days=days if unit == "day" else None), uncertain)


def read_duration(text: str) -> Reading | None:
    """The first duration of ``text`` as a ``Reading`` of ``results.Duration``, or None."""
    match = DURATION_PATTERN.search(text)
    return None if match is None else duration_of(match)


def parse_duration(text: str) -> Duration | None:
    """The first duration of ``text`` ("three (3) years" -> value 3, unit "year"), or None."""
    reading = read_duration(text)
    return None if reading is None else reading.value
