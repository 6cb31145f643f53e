"""The anchored scanners find exactly what the full patterns find, on generated text that
mixes the words the anchors key on, their look-alikes and the letters case folding treats apart."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from deepseek_apps.apps.contracts.glossary import load_legal_terms
from deepseek_apps.apps.contracts.rules import _terms_scanner
from deepseek_apps.apps.contracts.values.dates import DATES
from deepseek_apps.apps.contracts.values.durations import DURATIONS
from deepseek_apps.apps.contracts.values.money import (
    DEFAULT_CURRENCIES,
    PERCENTS,
    decimal_separator,
    money_scanner,
)
from deepseek_apps.apps.contracts.values.scan import Scanner, fold, words_regex

TOKENS = [
    # dates
    "March", "MARCH", "mar.", "Marchand", "the", "The", "third", "3rd", "day", "of", "2025", "14", "5/8/14",
    "25.08.2014", "2014-08-25", "1-Jan-2020", "décembre", "MÄRZ", "twenty-first", "Sept.", "31st",
    # amounts and percents
    "$", "US$", "U.S.$", "€", "EUR", "eur", "CHF", "Rs.", "Rs", "rupees", "dollars", "Fr.", "fr.", "1.250.000,00",
    "1'250'000.00", "12,50,000", "2.4", "million", "mn", "k", "between", "and", "to", "-", "%", "percent",
    "per cent", "one", "One", "onerous", "ten", "tenant", "sixty", "hundred", "thousand", "(", ")", "(17)",
    # durations and terms
    "days", "business", "calendar", "months", "year", "years'", "seventeen", "notice", "term", "renewal",
    "governing law", "indemnification", "confidential information",
    # letters that fold differently, punctuation, spaces
    "İ", "ı", "ſ", "K", "K", "x", "1", "0", ".", ",", ";", "\n", "  ", "\u00a0",
]  # fmt: skip
texts = st.lists(st.sampled_from(TOKENS), max_size=40).flatmap(
    lambda tokens: st.lists(
        st.sampled_from(["", " ", "  ", "-", "\n"]), min_size=len(tokens), max_size=len(tokens)
    ).map(lambda gaps: "".join(g + t for g, t in zip(gaps, tokens, strict=True)))
)
CUSTOM = tuple({**DEFAULT_CURRENCIES, "Kr.": "SEK", "zł": "PLN", "BTC": "BTC"}.items())


def spans(matches) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group(0)) for m in matches]


@settings(max_examples=400, deadline=None)
@given(texts)
def test_value_scanners_match_the_full_patterns(text):
    for scanner in (
        DATES,
        DURATIONS,
        PERCENTS,
        money_scanner(tuple(DEFAULT_CURRENCIES.items())),
        money_scanner(CUSTOM),
    ):
        assert spans(scanner.finditer(text)) == spans(scanner.pattern.finditer(text)), scanner.pattern.pattern[:60]


@settings(max_examples=200, deadline=None)
@given(texts)
def test_glossary_scanner_matches_the_full_pattern(text):
    scanner = _terms_scanner(tuple(phrase for phrase, _ in load_legal_terms().synonyms()))
    folded = fold(text)
    assert spans(scanner.finditer(folded)) == spans(scanner.pattern.finditer(folded))


def test_scanners_find_the_values_of_a_clause():
    text = (
        "On the 3rd day of March, 2025 Buyer pays EUR 1.250.000,00 plus ten percent (10%) within seventeen (17) days."
    )
    assert [m.group(0) for m in DATES.finditer(text)] == ["the 3rd day of March, 2025"]
    assert [m.group(0) for m in money_scanner(tuple(DEFAULT_CURRENCIES.items())).finditer(text)] == ["EUR 1.250.000,00"]
    assert [m.group(0) for m in PERCENTS.finditer(text)] == ["ten percent (10%)"]
    assert [m.group(0) for m in DURATIONS.finditer(text)] == ["seventeen (17) days"]


def test_fold_keeps_positions_and_folds_what_ignorecase_folds():
    text = "İSTANBUL ſale K ıt"
    assert len(fold(text)) == len(text)
    assert fold(text) == "istanbul sale k it"
    assert fold("ſeven ıtems") == "seven items"
    found = 0
    for text in ("within ſeventeen (17) dayſ", "ſixty percent", "ſeptember 3, 2025", "Kr. 5 and ſwiſs francs"):
        for scanner in (DATES, DURATIONS, PERCENTS, money_scanner(CUSTOM)):
            expected = spans(scanner.pattern.finditer(text))
            assert spans(scanner.finditer(text)) == expected
            found += len(expected)
    assert found >= 4  # the long s is read as an s: each text has a value to find


@given(st.sets(st.text(alphabet="abcjnuy.$", min_size=1, max_size=5), min_size=1, max_size=12), st.text("abcjnuy.$"))
def test_words_regex_matches_exactly_the_words(words, other):
    pattern = re.compile(words_regex(words))
    assert all(pattern.fullmatch(word) for word in words)
    assert bool(pattern.fullmatch(other)) == (other in words)


def test_scanner_skips_candidates_inside_a_match():
    scanner = Scanner(re.compile(r"a+b", re.IGNORECASE), re.compile(r"(?=a)"))
    assert spans(scanner.finditer("xAAb aab ab")) == [(1, 4, "AAb"), (5, 8, "aab"), (9, 11, "ab")]


def test_decimal_separator_reads_the_figures():
    assert decimal_separator("EUR 1.250.000,00 and 3.000,5")[0] == ","
    assert decimal_separator("USD 1,250,000.00")[0] == "."
    assert decimal_separator("1.250.000,00 and 1,250,000.00")[0] is None
    assert decimal_separator("section 1.250, page 3")[0] is None
