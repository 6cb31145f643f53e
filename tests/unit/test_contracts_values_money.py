"""Money and percentages as contracts write them: each string with its meaning, written by hand."""

from __future__ import annotations

import pytest

from deepseek_apps.apps.contracts.normalize import read_money, read_percent

# (text, document decimal separator or None, amount, currency, upper end of a range, flagged uncertain)
MONEY = [
    ("$1,250,000.00", None, 1250000.0, "USD", None, False),
    ("EUR 1.250.000,00", None, 1250000.0, "EUR", None, False),
    ("EUR 1 250 000", None, 1250000.0, "EUR", None, False),
    ("CHF 1'250'000.00", None, 1250000.0, "CHF", None, False),
    ("CHF 1’250’000.00", None, 1250000.0, "CHF", None, False),
    ("CHF 12'500", None, 12500.0, "CHF", None, False),
    ("1.250.000,00 €", None, 1250000.0, "EUR", None, False),
    ("1.250.000,00 EUR", None, 1250000.0, "EUR", None, False),
    ("€ 1.250,50", None, 1250.5, "EUR", None, False),
    ("€1,250.50", None, 1250.5, "EUR", None, False),
    ("EUR 2.500", ",", 2500.0, "EUR", None, False),
    ("EUR 2.500", None, 2500.0, "EUR", None, True),
    ("USD 2.500", ".", 2.5, "USD", None, False),
    ("USD 2.500", None, 2500.0, "USD", None, True),
    ("EUR 50,000", None, 50000.0, "EUR", None, False),
    ("EUR 1\u00a0250\u00a0000,00", None, 1250000.0, "EUR", None, False),
    ("EUR 1\u202f250\u202f000", None, 1250000.0, "EUR", None, False),
    ("USD 2.4 million", None, 2400000.0, "USD", None, False),
    ("$2.4 million", None, 2400000.0, "USD", None, False),
    ("$2.5 million", None, 2500000.0, "USD", None, False),
    ("£2.5 million", None, 2500000.0, "GBP", None, False),
    ("$3 billion", None, 3000000000.0, "USD", None, False),
    ("$750 thousand", None, 750000.0, "USD", None, False),
    ("$5m", None, 5000000.0, "USD", None, False),
    ("$250k", None, 250000.0, "USD", None, False),
    ("$1.5bn", None, 1500000000.0, "USD", None, False),
    ("US$10,000", None, 10000.0, "USD", None, False),
    ("U.S.$10,000", None, 10000.0, "USD", None, False),
    ("USD 10,000", None, 10000.0, "USD", None, False),
    ("10,000 USD", None, 10000.0, "USD", None, False),
    ("10,000 US dollars", None, 10000.0, "USD", None, False),
    ("10,000 dollars", None, 10000.0, "USD", None, False),
    ("$10", None, 10.0, "USD", None, False),
    ("$0.50", None, 0.5, "USD", None, False),
    ("$99.99", None, 99.99, "USD", None, False),
    ("$1,000", None, 1000.0, "USD", None, False),
    ("$100,000.00", None, 100000.0, "USD", None, False),
    ("£500", None, 500.0, "GBP", None, False),
    ("GBP 75,000", None, 75000.0, "GBP", None, False),
    ("75,000 pounds sterling", None, 75000.0, "GBP", None, False),
    ("¥1,000,000", None, 1000000.0, "JPY", None, False),
    ("JPY 1,000,000", None, 1000000.0, "JPY", None, False),
    ("C$5,000", None, 5000.0, "CAD", None, False),
    ("CAD 5,000", None, 5000.0, "CAD", None, False),
    ("5,000 Canadian dollars", None, 5000.0, "CAD", None, False),
    ("A$20,000", None, 20000.0, "AUD", None, False),
    ("HK$8,000", None, 8000.0, "HKD", None, False),
    ("S$3,000", None, 3000.0, "SGD", None, False),
    ("RMB 500,000", None, 500000.0, "CNY", None, False),
    ("CNY 500,000", None, 500000.0, "CNY", None, False),
    ("SEK 1.000.000,00", None, 1000000.0, "SEK", None, False),
    ("R$ 1.000,00", None, 1000.0, "BRL", None, False),
    ("Rs. 12,50,000", None, 1250000.0, "INR", None, False),
    ("Rs 1,00,00,000", None, 10000000.0, "INR", None, False),
    ("INR 10,00,000", None, 1000000.0, "INR", None, False),
    ("₹ 2,50,000", None, 250000.0, "INR", None, False),
    ("₹1,25,000.50", None, 125000.5, "INR", None, False),
    ("INR 5 crore", None, 50000000.0, "INR", None, False),
    ("INR 2.5 crores", None, 25000000.0, "INR", None, False),
    ("Rs. 15 lakhs", None, 1500000.0, "INR", None, False),
    ("Rs. 1.5 lakh", None, 150000.0, "INR", None, False),
    ("five crore rupees", None, 50000000.0, "INR", None, False),
    ("twelve lakh fifty thousand rupees", None, 1250000.0, "INR", None, False),
    ("ten crore fifty lakh rupees", None, 105000000.0, "INR", None, False),
    ("two million four hundred thousand dollars", None, 2400000.0, "USD", None, False),
    ("Two Million Four Hundred Thousand Dollars (US$2,400,000)", None, 2400000.0, "USD", None, False),
    ("Fifty Thousand Dollars ($50,000)", None, 50000.0, "USD", None, False),
    ("fifty thousand dollars ($5,000)", None, 50000.0, "USD", None, True),
    ("one hundred dollars", None, 100.0, "USD", None, False),
    ("one hundred and twenty-five thousand dollars", None, 125000.0, "USD", None, False),
    ("Ten Thousand Euros (EUR 10.000)", None, 10000.0, "EUR", None, False),
    ("three thousand euros", None, 3000.0, "EUR", None, False),
    ("five hundred pounds", None, 500.0, "GBP", None, False),
    ("twenty thousand Swiss francs", None, 20000.0, "CHF", None, False),
    ("one million yen", None, 1000000.0, "JPY", None, False),
    ("$1,000 - $5,000", None, 1000.0, "USD", 5000.0, False),
    ("$1,000-$5,000", None, 1000.0, "USD", 5000.0, False),
    ("$1,000 to $5,000", None, 1000.0, "USD", 5000.0, False),
    ("$1,000 – 5,000", None, 1000.0, "USD", 5000.0, False),
    ("between $1 million and $2.5 million", None, 1000000.0, "USD", 2500000.0, False),
    ("between $10,000 and $20,000", None, 10000.0, "USD", 20000.0, False),
    ("$1-2 million", None, 1000000.0, "USD", 2000000.0, False),
    ("$500,000 to $1 million", None, 500000.0, "USD", 1000000.0, False),
    ("EUR 1.000 - 2.000", ",", 1000.0, "EUR", 2000.0, False),
    ("10,000 - 20,000 USD", None, 10000.0, "USD", 20000.0, False),
    ("$5,000 to $1,000", None, 5000.0, "USD", 1000.0, True),
    ("a fee of $1,250,000 payable", None, 1250000.0, "USD", None, False),
    ("the Company shall pay EUR 1.250.000,00 within", None, 1250000.0, "EUR", None, False),
    ("not more than USD 250,000.00 in aggregate", None, 250000.0, "USD", None, False),
    ("$1.234.567", None, 1234567.0, "USD", None, False),
]


@pytest.mark.parametrize("text, decimal, amount, currency, high, uncertain", MONEY)
def test_money(text, decimal, amount, currency, high, uncertain):
    reading = read_money(text, decimal=decimal)
    assert reading is not None, text
    money = reading.value
    assert (money.amount, money.currency, money.amount_high) == pytest.approx((amount, currency, high)), text
    assert (reading.uncertain is not None) == uncertain, (text, reading.uncertain)


@pytest.mark.parametrize(
    "text", ["no money here", "Section 5.1", "within 30 days", "hours 5", "1,250 units", "the year 2020"]
)
def test_no_money(text):
    assert read_money(text) is None


# (text, document decimal separator, percent, flagged uncertain)
PERCENT = [
    ("5%", None, 5.0, False),
    ("12.5%", None, 12.5, False),
    ("12.5 %", None, 12.5, False),
    ("7,5 %", None, 7.5, False),
    ("100%", None, 100.0, False),
    ("0.25%", None, 0.25, False),
    ("ten percent", None, 10.0, False),
    ("ten per cent", None, 10.0, False),
    ("five percent (5%)", None, 5.0, False),
    ("twenty-five percent (25%)", None, 25.0, False),
    ("twelve and one-half percent", None, 12.5, False),
    ("fifteen percent (50%)", None, 15.0, True),
    ("35 percent", None, 35.0, False),
    ("2.75 per cent", None, 2.75, False),
]


@pytest.mark.parametrize("text, decimal, value, uncertain", PERCENT)
def test_percent(text, decimal, value, uncertain):
    reading = read_percent(text, decimal)
    assert reading is not None and reading.value == pytest.approx(value), text
    assert (reading.uncertain is not None) == uncertain, (text, reading.uncertain)
