"""Seeded synthetic contracts with exact ground truth, rendered to TXT, PDF, DOCX and scans.

Each ``SyntheticContract`` holds its plain text and the facts in it as character spans
(``GroundTruth``): parties with role aliases, agreement / effective / expiration dates, money
with currency, term / renewal / notice durations, governing law, a percent and a few CUAD
clause types. Several templates and phrasings vary with the seed.

Example:
    >>> from deepseek_apps.apps.contracts.synthetic import generate_contract
    >>> contract = generate_contract(seed=1)
    >>> fact = contract.facts_of("GOVERNING_LAW")[0]
    >>> contract.text[fact.start:fact.end] == fact.text
    True
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

from .phrases import (
    AGREEMENT_KINDS,
    BOILERPLATE,
    CLAUSES,
    COMPANIES,
    CURRENCIES,
    JURISDICTIONS,
    NUMBER_WORDS,
    ROLE_PAIRS,
)


@dataclass(frozen=True)
class GroundTruth:
    """One true fact: label, exact span in ``SyntheticContract.text``, normalised value."""

    label: str
    start: int
    end: int
    text: str
    value: Any = None


@dataclass
class SyntheticContract:
    """A generated contract: title, body text and its true facts."""

    title: str
    text: str
    facts: list[GroundTruth] = field(default_factory=list)
    seed: int = 0

    def facts_of(self, label: str) -> list[GroundTruth]:
        return [f for f in self.facts if f.label == label]


class _Writer:
    """Appends text and records the span of each fact as it is written."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.facts: list[GroundTruth] = []

    def add(self, text: str, label: str | None = None, value: Any = None) -> None:
        if label:
            self.facts.append(GroundTruth(label, self.length, self.length + len(text), text, value))
        self.parts.append(text)
        self.length += len(text)

    @property
    def text(self) -> str:
        return "".join(self.parts)


def _date_text(day: dt.date, rng: random.Random) -> str:
    style = rng.randrange(3)
    month = day.strftime("%B")
    if style == 0:
        return f"{month} {day.day}, {day.year}"
    if style == 1:
        suffix = "th" if 10 <= day.day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day.day % 10, "th")
        return f"the {day.day}{suffix} day of {month}, {day.year}"
    return f"{day.day} {month} {day.year}"


def _duration_text(value: int, unit: str, rng: random.Random) -> str:
    plural = unit + ("s" if value != 1 else "")
    if value <= 12 and rng.random() < 0.6:
        return f"{NUMBER_WORDS[value]} ({value}) {plural}"
    return f"{value} {plural}"


def _money_text(amount: int, currency: str, rng: random.Random) -> str:
    symbol, code = CURRENCIES[currency]
    number = f"{amount:,}" + (".00" if rng.random() < 0.5 else "")
    if symbol and rng.random() < 0.6:
        return f"{symbol}{number}"
    return f"{code} {number}"


def _add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, 28))


def generate_contract(seed: int = 0) -> SyntheticContract:
    """One contract; the same seed always gives the same text and facts."""
    rng = random.Random(seed)
    kind = rng.choice(AGREEMENT_KINDS)
    roles = rng.choice(ROLE_PAIRS)
    names = rng.sample(COMPANIES, 2)
    law = rng.choice(JURISDICTIONS)
    signed = dt.date(rng.randrange(1998, 2024), rng.randrange(1, 13), rng.randrange(1, 29))
    effective = signed + dt.timedelta(days=rng.choice([0, 0, 1, 14, 30]))
    term_years = rng.randrange(1, 6)
    expires = _add_months(effective, 12 * term_years)
    w = _Writer()
    title = f"{kind.upper()} AGREEMENT"
    w.add(f"{title}\n\n")
    _preamble(w, rng, kind, names, roles, signed, effective)
    _payment(w, rng, roles)
    _term(w, rng, effective, expires, term_years)
    sections = [(c, rng.choice(CLAUSES[c]).format(a=roles[0], b=roles[1])) for c in rng.sample(sorted(CLAUSES), 3)]
    sections += [(None, text) for text in rng.sample(BOILERPLATE, rng.randrange(4, len(BOILERPLATE) + 1))]
    rng.shuffle(sections)
    for number, (category, text) in enumerate(sections, start=3):
        w.add(f"\n\n{number}. ")
        w.add(text, "CLAUSE" if category else None, category)
    w.add(
        f"\n\n{len(sections) + 3}. Governing Law. This Agreement shall be governed by and construed in accordance with the laws of "
    )
    w.add(law[0], "GOVERNING_LAW", law[1])
    w.add(", without regard to its conflict of laws principles.\n\n")
    w.add("IN WITNESS WHEREOF, the parties have executed this Agreement as of the date first written above.\n\n")
    w.add(f"{names[0]}\nBy: ____________________\n\n{names[1]}\nBy: ____________________\n")
    return SyntheticContract(title=title, text=w.text, facts=w.facts, seed=seed)


def _preamble(w, rng, kind, names, roles, signed, effective) -> None:
    states = rng.sample(["Delaware", "New York", "California", "Nevada", "Texas"], 2)
    entity = [rng.choice(["corporation", "limited liability company"]) for _ in names]
    opener = rng.choice(
        [
            f'This {kind} Agreement (this "Agreement") is entered into as of ',
            f"THIS {kind.upper()} AGREEMENT is made on ",
        ]
    )
    w.add(opener)
    w.add(_date_text(signed, rng), "AGREEMENT_DATE", signed.isoformat())
    w.add(" by and between ")
    for i, (name, role) in enumerate(zip(names, roles)):
        w.add(name, "PARTY", {"name": name, "role": role})
        w.add(f', a {states[i]} {entity[i]} (the "')
        w.add(role, "ROLE", {"name": name, "role": role})
        w.add('")' + (", and " if i == 0 else ".\n\n"))
    if effective != signed:
        w.add("This Agreement shall become effective on ")
        w.add(_date_text(effective, rng), "EFFECTIVE_DATE", effective.isoformat())
        w.add(' (the "Effective Date").\n\n')
    w.add('"Confidential Information" means any non-public information disclosed by one party to the other.\n\n')


def _payment(w, rng, roles) -> None:
    currency = rng.choice(sorted(CURRENCIES))
    amount = rng.randrange(5, 2000) * 1000
    w.add(f"1. Fees. {roles[1]} shall pay {roles[0]} a fee of ")
    w.add(_money_text(amount, currency, rng), "MONEY", {"amount": float(amount), "currency": CURRENCIES[currency][1]})
    w.add(rng.choice([" per year", " upon signature", " in four equal instalments"]))
    rate = rng.choice([1, 1.5, 2, 5, 10])
    w.add(". Late payments bear interest at ")
    w.add(f"{rate:g}%", "PERCENT", float(rate))
    w.add(" per month.\n\n")


def _term(w, rng, effective, expires, years) -> None:
    w.add("2. Term. ")
    if rng.random() < 0.5:
        w.add("The term of this Agreement begins on the Effective Date and expires on ")
        w.add(_date_text(expires, rng), "EXPIRATION_DATE", expires.isoformat())
        w.add(".")
    else:
        w.add("This Agreement shall remain in force for an initial term of ")
        w.add(_duration_text(years, "year", rng), "TERM", {"value": years, "unit": "year"})
        w.add(" from the Effective Date.")
    renewal = rng.choice([1, 1, 2])
    notice = rng.choice([30, 60, 90])
    w.add(" It renews automatically for successive periods of ")
    w.add(_duration_text(renewal, "year", rng), "RENEWAL_TERM", {"value": renewal, "unit": "year"})
    w.add(" unless either party gives written notice at least ")
    w.add(_duration_text(notice, "day", rng), "NOTICE_PERIOD", {"value": notice, "unit": "day"})
    w.add(" before the end of the then-current term.")


def generate_contracts(n: int, seed: int = 0) -> list[SyntheticContract]:
    """``n`` contracts with seeds ``seed, seed+1, ...``."""
    return [generate_contract(seed + i) for i in range(n)]
