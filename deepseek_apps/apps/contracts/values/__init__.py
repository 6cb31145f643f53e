"""Reading the values contracts state: numbers (figures and words), money, dates, durations.

Each reader returns a ``Reading``: the normalised value and, when the text does not settle
it, ``uncertain`` with the reason (a date that reads both day-first and month-first, a
figure whose separator could be decimal or grouping, words and figures that disagree).
"""

from .numbers import Reading, parse_number, words_to_number

__all__ = ["Reading", "parse_number", "words_to_number"]
