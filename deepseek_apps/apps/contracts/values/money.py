"""Money: amount (or range) + ISO 4217 currency, in figures ("EUR 1.250.000,00", "$2.4 million",
"Rs. 12,50,000", "INR 5 crore") or words ("Two Million Four Hundred Thousand Dollars (US$2,400,000)").

Example:
    >>> read_money("EUR 1.250.000,00").value.amount, read_money("CHF 1'250'000.00").value.amount
    (1250000.0, 1250000.0)
    >>> read_money("between $1 million and $2.5 million").value.amount_high
    2500000.0
"""

from __future__ import annotations

import functools
import re

from ..results import Money
from .numbers import NUMBER_WORD, NUMBER_WORDS, SCALES, Reading, parse_number, words_to_number
from .scan import Scanner, fold, words_regex

DEFAULT_CURRENCIES = {
    "US$": "USD", "U.S.$": "USD", "US $": "USD", "$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR",
    "C$": "CAD", "CA$": "CAD", "CDN$": "CAD", "A$": "AUD", "AU$": "AUD", "HK$": "HKD", "S$": "SGD", "NZ$": "NZD",
    "R$": "BRL", "Rs.": "INR", "Rs": "INR", "RMB": "CNY", "SFr.": "CHF", "Fr.": "CHF", "USD": "USD", "EUR": "EUR",
    "GBP": "GBP", "CAD": "CAD", "JPY": "JPY", "CNY": "CNY", "CHF": "CHF", "AUD": "AUD", "INR": "INR",
    "HKD": "HKD", "SGD": "SGD", "SEK": "SEK", "NOK": "NOK", "DKK": "DKK", "NZD": "NZD", "BRL": "BRL",
    "dollars": "USD", "US dollars": "USD", "U.S. dollars": "USD", "United States dollars": "USD",
    "Canadian dollars": "CAD", "Australian dollars": "AUD", "euros": "EUR", "euro": "EUR",
    "pounds sterling": "GBP", "pounds": "GBP", "Swiss francs": "CHF", "rupees": "INR", "Indian rupees": "INR",
    "yuan": "CNY", "renminbi": "CNY", "yen": "JPY",
}  # fmt: skip
# currencies whose home locales write a decimal comma ("EUR 1.250" is 1250 there)
DECIMAL_COMMA_CURRENCIES = {"EUR", "BRL", "SEK", "NOK", "DKK"}
_AMOUNT = r"\d{1,3}(?:[.,'’]\d{2,3})+(?:[.,]\d{1,2})?|\d{1,3}(?:[ \u00a0\u202f]\d{3}(?!\d))+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
_SCALE = r"(?:\s*(?:thousand|million|billion|trillion|lakhs?|lacs?|crores?|mn|bn|mm)\b|[mk]\b)"
_RANGE = r"\s*(?:-|–|—|\bto\b|(?(between)\band\b|(?!)))\s*"
SCALE_WORDS = {**SCALES, "mn": 10**6, "mm": 10**6, "m": 10**6, "bn": 10**9, "k": 10**3}


@functools.lru_cache(maxsize=16)
def money_pattern(currencies: tuple[tuple[str, str], ...]) -> re.Pattern:
    """Amounts (or ranges) with a currency before or after, or in words before a currency word."""
    codes = [c for c, _ in currencies]
    pre = "|".join(re.escape(c) for c in sorted((c for c in codes if not c.islower()), key=len, reverse=True))
    post = "|".join(re.escape(c) for c in sorted(codes, key=len, reverse=True))
    words = "|".join(re.escape(c) for c in sorted((c for c in codes if c[:1].isalpha()), key=len, reverse=True))
    return re.compile(
        rf"(?P<between>\bbetween\s+)?"
        rf"(?:(?<![A-Za-z])(?P<pre>{pre})\s?(?P<a1>{_AMOUNT})(?P<s1>{_SCALE})?"
        rf"(?:{_RANGE}(?:{pre})?\s?(?P<b1>{_AMOUNT})(?P<t1>{_SCALE})?)?"
        rf"|(?<![\w.,])(?P<a2>{_AMOUNT})(?P<s2>{_SCALE})?(?:{_RANGE}(?P<b2>{_AMOUNT})(?P<t2>{_SCALE})?)?"
        rf"\s*(?P<post>{post})(?!\w)"
        rf"|\b(?P<words>{NUMBER_WORDS})\s+(?P<wcur>{words})\b"
        rf"(?:\s*\(\s*(?:{pre})?\s?(?P<fig>{_AMOUNT})(?P<fs>{_SCALE})?\s*(?:{post})?\s*\))?)",
        re.IGNORECASE,
    )


@functools.lru_cache(maxsize=16)
def money_scanner(currencies: tuple[tuple[str, str], ...]) -> Scanner:
    """``money_pattern`` with its anchor: "between", a figure, a number word or a currency before the amount."""
    pre = words_regex(fold(c) for c, _ in currencies if not c.islower())
    anchor = rf"\b(?=between\b|{NUMBER_WORD}(?![a-z]))|(?=\d)(?<![\w.,])|(?<![a-z])(?=[^\s\d])(?={pre})"
    return Scanner(money_pattern(currencies), re.compile(anchor))


def _currency(token: str, currencies: dict[str, str]) -> str:
    lookup = {" ".join(k.lower().split()): v for k, v in currencies.items()}
    return lookup.get(" ".join(token.lower().split()), token.upper())


def _amount(raw: str, scale: str | None, decimal: str | None) -> Reading:
    if scale and decimal is None:
        decimal = "." if "." in raw and "," not in raw else None  # "$1.250 million" is 1.25 million
    reading = parse_number(raw, decimal)
    if reading.value is None or not scale:
        return reading
    factor = SCALE_WORDS[scale.strip().lower()]
    return Reading(reading.value * factor, reading.uncertain)


def read_money(text: str, currencies: dict[str, str] | None = None, decimal: str | None = None) -> Reading | None:
    """The first amount of ``text`` as a ``Reading`` of ``results.Money``, or None.

    Args:
        currencies: symbol / code / word -> ISO 4217 (default ``DEFAULT_CURRENCIES``).
        decimal: the document's decimal separator ("." or ","); None: decided from the
            number's shape, then from the currency's home convention (flagged uncertain).
    """
    currencies = currencies or DEFAULT_CURRENCIES
    match = money_pattern(tuple(currencies.items())).search(text)
    return None if match is None else money_of(match, currencies, decimal)


def money_of(match: re.Match, currencies: dict[str, str], decimal: str | None = None) -> Reading | None:
    """The ``Reading`` of one ``money_pattern`` match."""
    if match["words"]:
        return _money_in_words(match, currencies, decimal)
    index = "1" if match["a1"] else "2"
    currency = _currency(match["pre"] or match["post"], currencies)
    guessed = None
    if decimal is None and currency in DECIMAL_COMMA_CURRENCIES:
        decimal = _home_decimal(match[f"a{index}"], match[f"b{index}"])
        if decimal:
            guessed = f"{match.group(0).strip()!r} read with the decimal comma usual for {currency}; the document does not say"
    low_scale, high_scale = match[f"s{index}"], match[f"t{index}"]
    low_raw = match[f"a{index}"]
    high = _amount(match[f"b{index}"], high_scale, decimal) if match[f"b{index}"] else None
    if high is not None and high_scale and not low_scale and (parse_number(low_raw, decimal).value or 0) < 1000:
        low_scale = high_scale  # "$1-2 million": the scale belongs to both ends
    low = _amount(low_raw, low_scale, decimal)
    if low.value is None:
        return None
    uncertain = low.uncertain or (high.uncertain if high else None) or guessed
    if high is not None and high.value is not None and high.value < low.value:
        uncertain = uncertain or f"range {match.group(0)!r} ends below where it starts"
    money = Money(amount=low.value, currency=currency, amount_high=high.value if high else None)
    return Reading(money, uncertain)


def _home_decimal(*raws: str | None) -> str | None:
    """For a decimal-comma currency: ',' when a figure reads "1.250" (dot + three digits)."""
    for raw in raws:
        if raw and re.fullmatch(r"\d{1,3}\.\d{3}", raw):  # "EUR 1.250"; "EUR 50,000" stays grouping
            return ","
    return None


def _money_in_words(match: re.Match, currencies: dict[str, str], decimal: str | None) -> Reading | None:
    value = words_to_number(match["words"])
    if value is None:
        return None
    currency = _currency(match["wcur"], currencies)
    if not match["fig"]:
        return Reading(Money(amount=float(value), currency=currency))
    figure = _amount(match["fig"], match["fs"], decimal)
    if figure.value is not None and abs(figure.value - value) > 0.005:
        reason = f"words say {value:g}, figures say {figure.value:g} (words usually prevail)"
        return Reading(Money(amount=float(value), currency=currency), reason)
    return Reading(Money(amount=float(value), currency=currency))  # figures that agree settle any doubt


_DECIMAL_COMMA = re.compile(r"\.\d{3},\d")
_DECIMAL_POINT = re.compile(r",\d{3}\.\d")
_DECIMAL_COMMA_FIGURE = re.compile(r"(?<![\d.,])\d{1,3}(?:\.\d{3})+,\d{1,2}(?![\d.,])")
_DECIMAL_POINT_FIGURE = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+\.\d{1,2}(?![\d.,])")


def decimal_separator(text: str) -> tuple[str | None, str]:
    """(the decimal separator a document writes, the evidence): "," for "1.250.000,00", "." for
    "1,250,000.00"; None when its figures do not say or say both."""
    # each figure holds ".ddd,d" (or ",ddd.d"): a literal-led search rules most documents out fast
    comma = _DECIMAL_COMMA.search(text) and len(_DECIMAL_COMMA_FIGURE.findall(text))
    point = _DECIMAL_POINT.search(text) and len(_DECIMAL_POINT_FIGURE.findall(text))
    if comma and not point:
        return ",", f"{comma} figure(s) with a decimal comma"
    if point and not comma:
        return ".", f"{point} figure(s) with a decimal point"
    return None, "figures do not settle the decimal separator"


def parse_money(text: str, currencies: dict[str, str] | None = None, decimal: str | None = None) -> Money | None:
    """The first amount of ``text`` as ``results.Money`` (amount, currency, amount_high), or None.

    Example:
        >>> parse_money("EUR 1 250 000").amount
        1250000.0
    """
    reading = read_money(text, currencies, decimal)
    return None if reading is None else reading.value


PERCENT_PATTERN = re.compile(
    rf"(?:\b(?P<words>{NUMBER_WORDS})(?:\s+and\s+one[\s-]+half)?\s+(?:percent|per\s+cent)\b"
    r"(?:\s*\(\s*(?P<fig>\d{1,3}(?:[.,]\d+)?)\s*%\s*\))?"
    r"|(?<![\w.,])(?P<num>\d{1,3}(?:[.,]\d+)?)\s?(?:%|percent\b|per\s+cent\b))",
    re.IGNORECASE,
)
# number words are followed by a space or a hyphen in every branch, never by a letter
PERCENTS = Scanner(PERCENT_PATTERN, re.compile(rf"\b(?={NUMBER_WORD}(?![a-z]))|(?=\d)(?<![\w.,])"))


def read_percent(text: str, decimal: str | None = None) -> Reading | None:
    """The first percentage in ``text`` ("12.5%", "7,5 %", "five percent (5%)"), as a number of percent."""
    match = PERCENT_PATTERN.search(text)
    return None if match is None else percent_of(match, decimal)


def percent_of(match: re.Match, decimal: str | None = None) -> Reading | None:
    if match["num"]:
        raw = match["num"]
        return parse_number(raw, decimal or ("," if re.fullmatch(r"\d+,\d{1,2}", raw) else "."))
    value = words_to_number(match["words"])
    if value is None:
        return None
    value = value + (0.5 if re.search(r"one[\s-]+half", match.group(0), re.IGNORECASE) else 0)
    if match["fig"]:
        figure = parse_number(match["fig"], "," if "," in match["fig"] else ".").value
        if figure is not None and abs(figure - value) > 1e-9:
            return Reading(float(value), f"words say {value:g}%, figures say {figure:g}%")
    return Reading(float(value))
