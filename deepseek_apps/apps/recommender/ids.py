"""The recommender's id rule and missing-value rule, written down once.

Ids are ints or strings. Wherever an id enters (a log file, a request, an HTTP query string
or JSON body) it is converted once, by ``canonical_id``, to the type the model's catalog uses:

- an id the catalog knows, as given or as its int / string twin (``"5"`` and ``5``), becomes
  the catalog's own id;
- an unknown id that is a decimal integer string (``"-12"``, at most 18 ASCII digits) becomes
  an int, unless every id of the catalog is a string; an unknown int becomes a string when
  every id of the catalog is a string; any other unknown id stays as given. Unknown users
  are cold-start users; unknown items are flagged ``known_item=False``.

So ``"5"`` from a query string and ``5`` from JSON are the same user and are stored under one
key. The log loaders follow the same rule: a column whose values are all such integers is
read as ints, else as strings.

A missing value is ``None``, a float NaN or pandas' ``NA`` / ``NaT``; in text files also the
cells ``""``, ``nan``, ``none``, ``null``, ``na`` and ``n/a`` (any case). A log with a missing
user id, item id or timestamp is refused (``LOG_MISSING_VALUES``, 1106) with its row numbers.

Example:
    >>> canonical_id({5: 1, 6: 2}, False, "5"), canonical_id({"a": 1}, True, 7), canonical_id({5: 1}, False, "x")
    (5, '7', 'x')
    >>> missing_rows([3, None, float("nan"), 4]).tolist()
    [1, 2]
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from ...errors import ErrorCode, InvalidInputError

MAX_ID_CHARS = 256  # default id length limit of the service (ID_INVALID, 1105 beyond it)
MISSING_TEXT = frozenset({"", "nan", "none", "null", "na", "n/a"})
_INT = re.compile(r"-?[0-9]{1,18}")
_INT64 = 2**63
_PLAIN = frozenset({int, str})


def parse_int_id(text: str) -> int | None:
    """``int(text)`` when ``text`` is a decimal integer of at most 18 ASCII digits, else ``None``."""
    return int(text) if _INT.fullmatch(text) else None


def twin(raw: Any) -> Any:
    """The same id as int or string (``"7"`` <-> ``7``); ``raw`` itself when it has no twin."""
    if isinstance(raw, str):
        value = parse_int_id(raw)
        return raw if value is None else value
    if isinstance(raw, (int, np.integer)) and not isinstance(raw, bool):
        return str(int(raw))
    return raw


def canonical_id(index: Mapping, all_strings: bool, raw: Any) -> Any:
    """``raw`` converted to the catalog's id type (see the module docstring); ``index`` maps known ids."""
    if type(raw) in _PLAIN and raw in index:  # the common case, first
        return raw
    if isinstance(raw, np.integer):
        raw = int(raw)
    elif isinstance(raw, np.str_):
        raw = str(raw)
    if not isinstance(raw, (int, str)) or isinstance(raw, bool):
        return raw
    if raw in index:
        return raw
    other = twin(raw)
    if other in index:
        return other
    if all_strings:
        return raw if isinstance(raw, str) else other
    return other if isinstance(raw, str) else raw


def check_id(raw: Any, what: str, max_chars: int = MAX_ID_CHARS, allow_none: bool = False) -> None:
    """Refuse an id that is not an int or a string, an empty one, or one longer than ``max_chars`` (1105)."""
    kind = type(raw)
    if (kind is int and -_INT64 <= raw < _INT64) or (kind is str and 0 < len(raw) <= max_chars):
        return  # the common case, first
    if raw is None and allow_none:
        return
    if isinstance(raw, np.integer):
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        problem = f"{what} must be an int or a string, not {type(raw).__name__}"
    elif isinstance(raw, int) and not -_INT64 <= raw < _INT64:
        problem = f"{what} must fit in 64 bits"
    elif isinstance(raw, str) and not raw:
        problem = f"{what} must not be empty"
    elif isinstance(raw, str) and len(raw) > max_chars:
        problem = f"{what} is {len(raw)} characters long; the limit is {max_chars}"
        raw = raw[:40] + "..."
    else:
        return
    raise InvalidInputError(
        ErrorCode.ID_INVALID, problem, value=raw, hint=f"ids are ints or strings of 1 to {max_chars} characters"
    )


def is_missing(value: Any) -> bool:
    """``None``, a float NaN, or pandas' ``NA`` / ``NaT``."""
    if value is None:
        return True
    if isinstance(value, (float, np.floating)):
        return bool(value != value)
    return type(value).__name__ in ("NAType", "NaTType")


def missing_positions(values: list) -> list[int]:
    """Positions of the missing values (``is_missing``) of a list; ints and strings are skipped fast."""
    return [j for j, v in enumerate(values) if type(v) not in _PLAIN and is_missing(v)]


def missing_rows(values: Any) -> np.ndarray:
    """0-based positions of the missing values (see ``is_missing``) of a column, vectorised where it can be."""
    arr = np.asarray(values)
    if arr.dtype.kind == "f":
        return np.flatnonzero(np.isnan(arr))
    if arr.dtype.kind == "M":
        return np.flatnonzero(np.isnat(arr))
    if arr.dtype.kind != "O":
        return np.zeros(0, np.int64)
    return np.fromiter((i for i, v in enumerate(arr.ravel().tolist()) if is_missing(v)), np.int64)


def missing_text_rows(values: list) -> np.ndarray:
    """Positions of the missing cells of a column read from a text file (``MISSING_TEXT`` or ``None`` / NaN)."""
    return np.fromiter(
        (
            i
            for i, v in enumerate(values)
            if is_missing(v) or (isinstance(v, str) and v.strip().lower() in MISSING_TEXT)
        ),
        np.int64,
    )


def refuse_missing(rows: np.ndarray, column: str, where: str, first_row: int = 0) -> None:
    """Raise ``LOG_MISSING_VALUES`` (1106) naming up to 20 row numbers when ``rows`` is not empty."""
    if len(rows) == 0:
        return
    shown = (np.asarray(rows[:20]) + first_row).tolist()
    more = f" and {len(rows) - 20} more" if len(rows) > 20 else ""
    raise InvalidInputError(
        ErrorCode.LOG_MISSING_VALUES,
        f"{len(rows)} row(s) of {where} have no {column} (None, NaN or an empty cell): rows {shown}{more}",
        value=shown,
        hint="drop or fill those rows; every click needs a user id, an item id and a timestamp",
    )
