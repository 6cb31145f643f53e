"""Dates and durations as contracts write them, each with its meaning (written by hand), plus
property tests: figures formatted by Babel in a locale read back to the same number."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepseek_apps.apps.contracts.normalize import add_duration, date_order, read_date, read_duration
from deepseek_apps.apps.contracts.values.numbers import parse_number, words_to_number

# (text, day_first of the document (None: unknown), ISO value (None: ambiguous), flagged uncertain)
DATES = [
    ("2025-03-03", None, "2025-03-03", False),
    ("2019-09-30", None, "2019-09-30", False),
    ("2025/03/04", None, "2025-03-04", False),
    ("2025.03.04", None, "2025-03-04", False),
    ("the 3rd day of March, 2025", None, "2025-03-03", False),
    ("this 1st day of July 2019", None, "2019-07-01", False),
    ("the 22nd day of August, 2005", None, "2005-08-22", False),
    ("10th day of January 2000", None, "2000-01-10", False),
    ("the twenty-first day of June, 2019", None, "2019-06-21", False),
    ("the first day of January, 2020", None, "2020-01-01", False),
    ("the thirtieth day of April, 2018", None, "2018-04-30", False),
    ("the thirty-first day of December, 2021", None, "2021-12-31", False),
    ("the 15th day of May in the year 2017", None, "2017-05-15", False),
    ("March 3, 2025", None, "2025-03-03", False),
    ("March 3rd, 2025", None, "2025-03-03", False),
    ("March 3rd 2025", None, "2025-03-03", False),
    ("May 8, 2014", None, "2014-05-08", False),
    ("Sept. 1, 2010", None, "2010-09-01", False),
    ("Sep 1, 2010", None, "2010-09-01", False),
    ("Dec. 31, 1999", None, "1999-12-31", False),
    ("February 29, 2020", None, "2020-02-29", False),
    ("3 March 2025", None, "2025-03-03", False),
    ("3rd March 2025", None, "2025-03-03", False),
    ("3rd of March, 2025", None, "2025-03-03", False),
    ("1 January 2001", None, "2001-01-01", False),
    ("03-MAR-25", None, "2025-03-03", False),
    ("3-Mar-2025", None, "2025-03-03", False),
    ("3. März 2025", None, "2025-03-03", False),
    ("1er mars 2025", None, "2025-03-01", False),
    ("12 juin 2019", None, "2019-06-12", False),
    ("5 de mayo de 2020", None, "2020-05-05", False),
    ("25/08/2014", None, "2014-08-25", False),
    ("08/25/2014", None, "2014-08-25", False),
    ("31.12.2020", None, "2020-12-31", False),
    ("31-12-2020", None, "2020-12-31", False),
    ("12/31/99", None, "1999-12-31", False),
    ("1/1/2020", None, "2020-01-01", False),
    ("7/7/07", None, "2007-07-07", False),
    ("5/8/14", None, None, True),
    ("5/8/14", False, "2014-05-08", False),
    ("5/8/14", True, "2014-08-05", False),
    ("03/04/2025", None, None, True),
    ("03/04/2025", False, "2025-03-04", False),
    ("03/04/2025", True, "2025-04-03", False),
    ("04.03.2025", True, "2025-03-04", False),
    ("11/12/2013", None, None, True),
    ("March 3rd", None, "--03-03", True),
    ("the 3rd day of March", None, "--03-03", True),
    ("July 4th", None, "--07-04", True),
]


@pytest.mark.parametrize("text, day_first, iso, uncertain", DATES)
def test_dates(text, day_first, iso, uncertain):
    reading = read_date(text, day_first)
    assert reading is not None, text
    assert reading.value == iso, text
    assert (reading.uncertain is not None) == uncertain, (text, reading.uncertain)


@pytest.mark.parametrize("text", ["February 30, 2020", "13/13/2020", "2021-02-29", "April 31, 2019", "hello"])
def test_not_dates(text):
    reading = read_date(text)
    assert reading is None or reading.value is None and reading.uncertain is None


# (document text, governing law, day_first expected)
ORDERS = [
    ("Signed on 25/08/2014 and amended on 5/8/15.", [], True),
    ("Signed on 08/25/2014 and amended on 5/8/15.", [], False),
    ("Dated 5/8/14.", ["New York"], False),
    ("Dated 5/8/14.", ["Delaware"], False),
    ("Dated 5/8/14.", ["England and Wales"], True),
    ("Dated 5/8/14.", ["India"], True),
    ("Dated 5/8/14.", ["Delaware", "England and Wales"], None),
    ("Dated 5/8/14, signed 3. März 2014.", [], True),
    ("Dated 5/8/14.", [], None),
    ("Dated 25/08/2014 and 08/25/2014.", [], None),
]


@pytest.mark.parametrize("text, laws, day_first", ORDERS)
def test_date_order_from_document_evidence(text, laws, day_first):
    assert date_order(text, laws)[0] is day_first


# (text, value, unit, business/calendar days, flagged uncertain)
DURATIONS = [
    ("seventeen (17) days", 17, "day", None, False),
    ("one (1) year", 1, "year", None, False),
    ("eighteen months", 18, "month", None, False),
    ("90 calendar days", 90, "day", "calendar", False),
    ("90 business days", 90, "day", "business", False),
    ("ninety (90) business days", 90, "day", "business", False),
    ("thirty (30) calendar days", 30, "day", "calendar", False),
    ("five (5) working days", 5, "day", "business", False),
    ("ten (10) Business Days", 10, "day", "business", False),
    ("three (3) years", 3, "year", None, False),
    ("sixty (60) days", 60, "day", None, False),
    ("twelve months", 12, "month", None, False),
    ("twelve (12) months", 12, "month", None, False),
    ("thirteen (13) months", 13, "month", None, False),
    ("fourteen days", 14, "day", None, False),
    ("nineteen (19) weeks", 19, "week", None, False),
    ("twenty-four (24) months", 24, "month", None, False),
    ("twenty four months", 24, "month", None, False),
    ("thirty-six months", 36, "month", None, False),
    ("forty-five (45) days", 45, "day", None, False),
    ("seventy-five (75) days", 75, "day", None, False),
    ("one hundred twenty (120) days", 120, "day", None, False),
    ("one hundred and eighty (180) days", 180, "day", None, False),
    ("three hundred sixty-five (365) days", 365, "day", None, False),
    ("two (2) weeks", 2, "week", None, False),
    ("6 months", 6, "month", None, False),
    ("36 months", 36, "month", None, False),
    ("5 years", 5, "year", None, False),
    ("10 days", 10, "day", None, False),
    ("a twelve-month period", 12, "month", None, False),
    ("a ninety-day period", 90, "day", None, False),
    ("a 30-day notice", 30, "day", None, False),
    ("a five-year term", 5, "year", None, False),
    ("two years' notice", 2, "year", None, False),
    ("thirty (30) days’ written notice", 30, "day", None, False),
    ("thirty\n(30)\ndays", 30, "day", None, False),
    ("thirty (31) days", 30, "day", None, True),
    ("six (9) months", 6, "month", None, True),
    ("sixty days", 60, "day", None, False),
    ("for a period of seven (7) years", 7, "year", None, False),
    ("within fifteen (15) days after", 15, "day", None, False),
    ("1 year", 1, "year", None, False),
    ("one year", 1, "year", None, False),
]


@pytest.mark.parametrize("text, value, unit, days, uncertain", DURATIONS)
def test_durations(text, value, unit, days, uncertain):
    reading = read_duration(text)
    assert reading is not None, text
    assert reading.value.model_dump() == {"value": value, "unit": unit, "days": days}, text
    assert (reading.uncertain is not None) == uncertain, (text, reading.uncertain)


@pytest.mark.parametrize("text", ["no duration", "Section 12", "1.5 years", "days of the week"])
def test_no_duration(text):
    reading = read_duration(text)
    assert reading is None or reading.value is None


def test_add_duration_counts_business_days_and_month_ends():
    assert add_duration("2016-02-29", {"value": 1, "unit": "year"}) == "2017-02-28"
    assert add_duration("2025-01-31", {"value": 1, "unit": "month"}) == "2025-02-28"
    assert add_duration("2025-03-07", {"value": 1, "unit": "day", "days": "business"}) == "2025-03-10"  # Fri -> Mon
    assert add_duration("2025-03-03", {"value": 10, "unit": "day", "days": "business"}) == "2025-03-17"


@pytest.mark.parametrize(
    "words, value",
    [
        ("seventeen", 17), ("one hundred twenty", 120), ("two million four hundred thousand", 2400000),
        ("twelve lakh fifty thousand", 1250000), ("one crore", 10000000), ("nine hundred ninety-nine", 999),
        ("one thousand and one", 1001), ("a dozen", None),
    ],
)  # fmt: skip
def test_words_to_number(words, value):
    assert words_to_number(words) == value


@settings(max_examples=60, deadline=None)
@given(
    value=st.decimals(min_value=1000, max_value=10**9, places=2, allow_nan=False, allow_infinity=False),
    locale=st.sampled_from(["en_US", "de_DE", "de_CH", "fr_FR", "en_IN", "it_IT", "es_ES", "nl_NL"]),
)
def test_babel_formatted_numbers_read_back(value, locale):
    """A figure Babel writes in a locale (with cents) reads back to the same value."""
    from babel.numbers import format_decimal, get_decimal_symbol

    text = format_decimal(value, format="#,##0.00", locale=locale)
    decimal = get_decimal_symbol(locale)
    assert parse_number(text).value == pytest.approx(float(value)), (text, locale)
    assert parse_number(text, decimal).value == pytest.approx(float(value)), (text, locale)
