"""Numbers in figures and in words, with the decimal separator read from the number's shape.

A separator that appears once and is followed by exactly three digits ("1.250", "1,250") can
be either a decimal point or a thousands separator; the document's convention (``decimal``)
settles it, and without one the reading says it is uncertain.

Example:
    >>> parse_number("1.250.000,00").value, parse_number("1'250'000.00").value, parse_number("12,50,000").value
    (1250000.0, 1250000.0, 1250000.0)
    >>> words_to_number("two million four hundred thousand")
    2400000
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .scan import words_regex

UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
    "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
SCALES = {
    "hundred": 100, "thousand": 10**3, "lakh": 10**5, "lakhs": 10**5, "lac": 10**5, "lacs": 10**5,
    "million": 10**6, "crore": 10**7, "crores": 10**7, "billion": 10**9, "trillion": 10**12,
}  # fmt: skip
ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
    "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19, "twentieth": 20,
    "thirtieth": 30,
}  # fmt: skip
_WORD = "|".join(sorted([*UNITS, *SCALES], key=len, reverse=True))
# one to many number words ("one hundred and twenty", "twenty-four"); each step consumes a word: no blow-up
NUMBER_WORDS = rf"(?:{_WORD})(?:(?:[\s-]+|\s+and\s+)(?:{_WORD}))*"
NUMBER_WORD = words_regex([*UNITS, *SCALES])  # one number word (a trie): what scanner anchors look for
_ORDINAL_WORD = "|".join(sorted(ORDINALS, key=len, reverse=True))
ORDINAL_WORDS = rf"(?:(?:twenty|thirty)[\s-]+(?:{_ORDINAL_WORD})|{_ORDINAL_WORD})"
SPACES = "\u00a0\u202f\u2009 "
_GROUPING = re.compile(r"^\d{1,3}(?:X\d{3})*$")
_INDIAN = re.compile(r"^\d{1,2}(?:X\d{2})*X\d{3}$")


@dataclass(frozen=True)
class Reading:
    """A normalised value and, when the text leaves doubt, why (``uncertain``)."""

    value: Any
    uncertain: str | None = None


def words_to_number(text: str) -> int | None:
    """The integer that number words state ("one hundred twenty", "twelve lakh fifty thousand")."""
    tokens = [t for t in re.split(r"[\s-]+", text.lower().strip()) if t and t != "and"]
    if not tokens or any(t not in UNITS and t not in SCALES for t in tokens):
        return None
    total, current = 0, 0
    for token in tokens:
        if token in UNITS:
            current += UNITS[token]
        elif token == "hundred":
            current = max(current, 1) * 100
        else:
            total += max(current, 1) * SCALES[token]
            current = 0
    return total + current


def ordinal_to_number(text: str) -> int | None:
    """1-31 of an ordinal day: "3rd", "first", "twenty-first"."""
    text = text.lower().strip().rstrip(".")
    digits = re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th|er)?", text)
    if digits:
        return int(digits[1])
    parts = re.split(r"[\s-]+", text)
    if len(parts) == 2 and parts[0] in ("twenty", "thirty") and parts[1] in ORDINALS:
        return UNITS[parts[0]] + ORDINALS[parts[1]]
    return ORDINALS.get(text)


def parse_number(raw: str, decimal: str | None = None) -> Reading:
    """The value of a figure with any grouping ("1 250 000", "1'250'000.00", "12,50,000", "1.250,5").

    Args:
        raw: the digits and separators (spaces, ``.``, ``,``, ``'``).
        decimal: the document's decimal separator ("." or ","), used only when the shape of
            the number does not say; None: undecided (a doubtful reading says so).
    """
    text = raw.strip().replace("’", "'")
    for space in SPACES:
        text = text.replace(space, " ")
    if not re.fullmatch(r"\d[\d.,' ]*", text) or not text[-1].isdigit():
        return Reading(None, f"not a number: {raw!r}")
    marks = [c for c in text if not c.isdigit()]
    if not marks:
        return Reading(float(text))
    last = max(text.rfind("."), text.rfind(","))
    separator, after = (text[last], len(text) - last - 1) if last >= 0 else (None, 0)
    kinds = set(marks)
    if separator is None:  # only spaces / apostrophes: grouping
        return _grouped(text, None, raw)
    if len(kinds) > 1 or marks.count(separator) == 1 and (after != 3 or decimal == separator):
        if marks.count(separator) == 1:
            return _grouped(text, separator, raw)
        return _grouped(text, None, raw)
    if marks.count(separator) > 1 or decimal is not None:
        return _grouped(text, None, raw)
    # one "." or "," followed by exactly three digits, no convention known
    grouped = _grouped(text, None, raw)
    if text.startswith("0"):
        return Reading(float(text.replace(",", ".")))
    if separator == ",":
        return grouped  # "1,250": the English thousands separator is by far the common reading
    other = float(text)
    return Reading(grouped.value, f"{raw!r} may be {grouped.value:g} or {other:g} (is '.' a thousands separator?)")


def _grouped(text: str, decimal: str | None, raw: str) -> Reading:
    whole, fraction = text.rsplit(decimal, 1) if decimal else (text, "")
    shape = re.sub(r"[.,' ]", "X", whole)
    value = float(re.sub(r"\D", "", whole) + ("." + fraction if fraction else ""))
    if "X" in shape and not (_GROUPING.match(shape) or _INDIAN.match(shape)):
        return Reading(value, f"irregular digit grouping in {raw!r}")
    return Reading(value)
