"""Field precision / recall / F1 of extracted facts against CUAD-style labels.

Labels are a ``labels.csv`` in the CUAD layout: one row per contract, ``Text File`` names its
text in ``contracts/``, and normalised answers in ``Agreement Date-Answer`` (``5/8/14``),
``Effective Date-Answer``, ``Expiration Date-Answer``, ``Governing Law-Answer`` (``Nevada``;
several separated by ";") and ``Parties-Answer`` (``Acme Inc. ("Company"); Bob ("Consultant")``).

Scoring per contract, summed over contracts (micro):
- renewal term and notice period to terminate renewal (``Renewal Term-Answer`` "successive 1
  year", ``Notice Period To Terminate Renewal- Answer`` "60 days"): the first DURATION fact of
  that kind, equal when the lengths agree within 3% whatever the unit (12 months = 1 year);
  answers that are not durations ("perpetual") are skipped.
- dates: a prediction equal to the answer is a true positive; a different or unwanted
  prediction is a false positive (and a false negative when an answer exists); a missing one
  with an answer is a false negative. Answers that are not dates ("Perpetual") are skipped.
- governing law: the same, a prediction counting as correct when it names one of the answers.
- parties: party names matched one-to-one by word overlap (Jaccard >= 0.5 after dropping
  entity suffixes and punctuation); role aliases matched exactly (case-insensitive).

Example:
    >>> from deepseek_apps.apps.contracts.evaluate import prf
    >>> prf(8, 2, 2)["f1"]
    0.8
"""

from __future__ import annotations

import ast
import random
import re
from collections.abc import Callable
from pathlib import Path

from deepseek_apps.errors import ErrorCode, MissingResourceError

from .normalize import parse_date, parse_duration
from .results import ContractAnalysis

DATE_FIELDS = {"Agreement Date": "agreement", "Effective Date": "effective", "Expiration Date": "expiration"}
DURATION_FIELDS = {
    "Renewal Term": ("renewal_term", "Renewal Term-Answer"),
    "Notice Period To Terminate Renewal": ("notice_period", "Notice Period To Terminate Renewal- Answer"),
}  # CUAD's notice column name has the space before "Answer"
_DAYS = {"day": 1, "week": 7, "month": 30.4375, "year": 365.25}
_SUFFIX_WORDS = {
    "inc",
    "corp",
    "corporation",
    "llc",
    "ltd",
    "limited",
    "co",
    "company",
    "lp",
    "llp",
    "plc",
    "sa",
    "the",
}


def prf(tp: int, fp: int, fn: int) -> dict[str, float | int]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def load_labels(data: str | Path):
    """The labels table and the contracts folder of a CUAD-layout directory."""
    import pandas as pd

    data = Path(data)
    if not (data / "labels.csv").is_file() or not (data / "contracts").is_dir():
        raise MissingResourceError(
            ErrorCode.CONTRACT_DATA_NOT_FOUND,
            "no CUAD-layout data here (labels.csv and contracts/ expected)",
            value=str(data),
            hint="see ../shared/data/README.md (cuad/)",
        )
    return pd.read_csv(data / "labels.csv"), data / "contracts"


def split_contracts(names: list[str], fraction: float = 0.2, seed: int = 0) -> tuple[list[str], list[str]]:
    """(train, validation) names: a fixed seeded shuffle of the sorted names, by contract."""
    ordered = sorted(names)
    random.Random(seed).shuffle(ordered)
    n_val = round(len(ordered) * fraction)
    return sorted(ordered[n_val:]), sorted(ordered[:n_val])


def _answer(value) -> str | None:
    return None if value is None or (isinstance(value, float) and value != value) else str(value).strip() or None


def _norm_words(name: str) -> set[str]:
    words = re.sub(r"[^\w\s]", " ", name.lower()).split()
    return {w for w in words if w not in _SUFFIX_WORDS}


def gold_parties(answer: str | None) -> tuple[list[str], list[str]]:
    """(names, role aliases) of a ``Parties-Answer`` cell."""
    if not answer:
        return [], []
    names, roles = [], []
    for part in answer.split(";"):
        name = part.split("(")[0].strip(" .,")
        if name:
            names.append(name)
        roles += [r.strip(" .,") for r in re.findall(r"[\"“”]([^\"“”]+)[\"“”]", part)]
    return names, [r for r in roles if r]


def _match_names(predicted: list[str], gold: list[str]) -> int:
    free = [_norm_words(g) for g in gold]
    hits = 0
    for name in predicted:
        words = _norm_words(name)
        for i, target in enumerate(free):
            if target is not None and words and len(words & target) / len(words | target) >= 0.5:
                free[i] = None
                hits += 1
                break
    return hits


def _law_match(predicted: str, gold: list[str]) -> bool:
    p = predicted.lower()
    return any(g and (g in p or p in g) for g in gold)


def score_fields(pairs: list[tuple[ContractAnalysis, dict]]) -> dict[str, dict]:
    """Field P/R/F1 over (analysis, label row) pairs."""
    fields = [*DATE_FIELDS, *DURATION_FIELDS, "Governing Law", "Parties (names)", "Parties (role aliases)"]
    counts = {f: [0, 0, 0] for f in fields}
    for analysis, row in pairs:
        for field, kind in DATE_FIELDS.items():
            raw = _answer(row.get(f"{field}-Answer"))
            gold = parse_date(raw, day_first=False) if raw else None  # EDGAR filings: numeric dates month-first
            if raw and gold is None:
                continue  # "Perpetual" and the like: not a date to extract
            _count(counts[field], getattr(analysis.dates, kind), gold, lambda p, g: p == g)
        for field, (kind, column) in DURATION_FIELDS.items():
            raw = _answer(row.get(column, row.get(f"{field}-Answer")))
            gold = parse_duration(raw) if raw else None
            gold = gold.model_dump() if gold is not None else None
            if raw and gold is None:
                continue  # "perpetual" and the like
            found = analysis.facts_of("DURATION", kind)
            value = found[0].value if found else None
            predicted = value.model_dump() if hasattr(value, "model_dump") else value
            _count(counts[field], predicted, gold, _same_duration)
        raw_law = _answer(row.get("Governing Law-Answer"))
        gold_law = [g.split(",")[0].strip().lower() for g in raw_law.split(";")] if raw_law else None
        predicted_law = analysis.governing_law[0] if analysis.governing_law else None
        _count(counts["Governing Law"], predicted_law, gold_law, _law_match)
        names, roles = gold_parties(_answer(row.get("Parties-Answer")))
        hits = _match_names([p.name for p in analysis.parties], names)
        _add(counts["Parties (names)"], hits, len(analysis.parties) - hits, len(names) - hits)
        predicted_roles = {r.lower() for p in analysis.parties for r in p.roles}
        gold_roles = {r.lower() for r in roles}
        hits = len(predicted_roles & gold_roles)
        _add(counts["Parties (role aliases)"], hits, len(predicted_roles) - hits, len(gold_roles) - hits)
    return {field: prf(*c) for field, c in counts.items()}


def _same_duration(predicted: dict, gold: dict) -> bool:
    """Equal lengths, whatever the unit ("12 months" == "1 year"), within 3%."""
    a = predicted["value"] * _DAYS[predicted["unit"]]
    b = gold["value"] * _DAYS[gold["unit"]]
    return abs(a - b) <= 0.03 * max(a, b)


def _count(cell: list[int], predicted, gold, same: Callable) -> None:
    if predicted is not None and gold is not None and same(predicted, gold):
        _add(cell, 1, 0, 0)
    else:
        _add(cell, 0, int(predicted is not None), int(gold is not None))


def _add(cell: list[int], tp: int, fp: int, fn: int) -> None:
    cell[0] += tp
    cell[1] += fp
    cell[2] += fn


def parse_list(cell) -> list[str]:
    """A CUAD list cell ("['a', 'b']") as a list of strings (literal parsing only)."""
    text = _answer(cell)
    if not text:
        return []
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return [text]
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]
