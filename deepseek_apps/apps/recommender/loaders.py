"""Readers for the behaviour logs users have, all returning an ``InteractionLog``.

- ``csv`` / ``parquet``: columns ``user_id, item_id, timestamp`` and optional ``label``
  (rows with label 0 are not clicks and are dropped), ``category`` and any ``user_columns``.
- ``movielens``: a folder with ``u.data`` (100K) or ``ratings.dat`` (1M), plus ``u.item`` /
  ``movies.dat`` (first genre = category) and ``u.user`` / ``users.dat`` (gender, age, occupation).
- ``amazon``: reviews as JSON lines (``reviewerID, asin, unixReviewTime``) and optional
  product metadata JSON lines (``asin, categories`` or ``category``), plain or ``.gz``.

Ids follow ``ids.py``: a column whose values are all decimal integers (up to 18 digits) is
read as ints, else as strings. A missing user id, item id or timestamp (``None``, NaN, or an
empty / ``nan`` / ``null`` / ``na`` cell) is refused with ``LOG_MISSING_VALUES`` (1106) naming
its rows: data rows counted from 1 (the first row after a CSV header), lines of a JSON file.

Example:
    >>> from deepseek_apps.apps.recommender.loaders import load_log
    >>> log = load_log("../shared/data/movielens_100k", format="movielens")  # doctest: +SKIP
    >>> len(log)  # doctest: +SKIP
    100000
"""

from __future__ import annotations

import ast
import csv
import gzip
import json
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ...errors import ErrorCode, InvalidInputError, MissingResourceError, require
from .data import InteractionLog
from .ids import missing_text_rows, parse_int_id, refuse_missing

FORMATS = ("csv", "parquet", "movielens", "amazon")
REQUIRED = ("user_id", "item_id", "timestamp")
ML_GENRES = (
    "unknown Action Adventure Animation Children's Comedy Crime Documentary Drama Fantasy "
    "Film-Noir Horror Musical Mystery Romance Sci-Fi Thriller War Western"
).split()


def detect_format(path: Path) -> str:
    if path.is_dir():
        return "movielens"
    name = path.name.lower()
    for suffix, fmt in ((".parquet", "parquet"), (".csv", "csv"), (".tsv", "csv"), (".json", "amazon")):
        if suffix in name:
            return fmt
    raise InvalidInputError(
        ErrorCode.UNKNOWN_FORMAT,
        "cannot tell the log format from the file name",
        value=str(path),
        hint=f"pass format= one of {', '.join(FORMATS)}",
    )


def load_log(
    path: str | Path,
    format: str | None = None,
    user_columns: Sequence[str] = (),
    meta: str | Path | None = None,
) -> InteractionLog:
    """Read a behaviour log in one of ``FORMATS`` (detected from the path when ``format`` is None)."""
    path = Path(path)
    if not path.exists():
        raise MissingResourceError(ErrorCode.FILE_NOT_FOUND, "behaviour log not found", value=str(path))
    fmt = format or detect_format(path)
    if fmt == "csv":
        return _from_columns(_read_csv(path), user_columns, str(path))
    if fmt == "parquet":
        pq = require("pyarrow.parquet", "recommender")
        try:
            table = pq.read_table(path)
        except (ValueError, OSError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise InvalidInputError(
                ErrorCode.LOG_VALUES, f"the log is not a readable Parquet file ({exc})", value=str(path)
            ) from exc
        return _from_columns(table.to_pydict(), user_columns, str(path))
    if fmt == "movielens":
        return load_movielens(path)
    if fmt == "amazon":
        return load_amazon(path, meta)
    raise InvalidInputError(
        ErrorCode.UNKNOWN_FORMAT, f"unknown log format '{fmt}'", value=fmt, hint=f"use one of {', '.join(FORMATS)}"
    )


def _read_csv(path: Path) -> dict[str, list]:
    """Columns of a CSV / TSV log (delimiter sniffed); a short row's missing cells are ``None``."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            sample = fh.read(4096)
            fh.seek(0)
            try:
                dialect = csv.Sniffer().sniff(sample, delimiters=",\t;|") if sample else csv.excel
            except csv.Error:  # one column, or nothing to tell the delimiter by
                dialect = csv.excel
            rows = list(csv.DictReader(fh, dialect=dialect))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InvalidInputError(
            ErrorCode.LOG_VALUES, f"the log is not a readable UTF-8 CSV file ({exc})", value=str(path)
        ) from exc
    if not rows:
        raise InvalidInputError(ErrorCode.DATASET_EMPTY, "the CSV log has no rows", value=str(path))
    return {k.strip(): [r[k] for r in rows] for k in rows[0] if k is not None}


def _number(values: list, column: str, source: str) -> np.ndarray:
    out = np.zeros(len(values), np.float64)
    for row, v in enumerate(values):
        try:
            out[row] = float(v)
        except (TypeError, ValueError, OverflowError) as exc:
            raise InvalidInputError(
                ErrorCode.LOG_VALUES,
                f"column '{column}' must be numeric; data row {row + 1} holds {str(v)[:40]!r} ({exc})",
                value=source,
                hint="timestamps as Unix seconds (or any number that orders events); labels as 0/1",
            ) from exc
    return out


def _ids(values: list) -> np.ndarray:
    """Ids as ints when every value is a decimal integer (``ids.parse_int_id``), else as strings."""
    text = [str(v).strip() for v in values]
    ints = [parse_int_id(t) for t in text]
    if all(i is not None for i in ints):
        return np.asarray(ints, np.int64)
    return np.asarray(text, dtype=object)


def _from_columns(cols: dict[str, list], user_columns: Sequence[str], source: str) -> InteractionLog:
    missing = [c for c in (*REQUIRED, *user_columns) if c not in cols]
    if missing:
        raise InvalidInputError(
            ErrorCode.LOG_COLUMNS,
            f"the log lacks columns {missing}",
            value=sorted(cols),
            hint="name the columns user_id, item_id, timestamp (label, category optional)",
        )
    for column, name in zip(REQUIRED, ("user id", "item id", "timestamp")):
        refuse_missing(missing_text_rows(cols[column]), name, source, first_row=1)
    keep = np.ones(len(cols["user_id"]), bool)
    if "label" in cols:
        keep = _number(cols["label"], "label", source) > 0
    users, items = _ids(cols["user_id"])[keep], _ids(cols["item_id"])[keep]
    ts = _number(cols["timestamp"], "timestamp", source)[keep]
    cats = {}
    if "category" in cols:
        cats = {i: str(c) for i, c in zip(items.tolist(), np.asarray(cols["category"], object)[keep].tolist())}
    feats = {
        c: {u: str(v) for u, v in zip(users.tolist(), np.asarray(cols[c], object)[keep].tolist())} for c in user_columns
    }
    return InteractionLog(users, items, ts, cats, feats)


def _age_bucket(age: str) -> str:
    a = int(age)
    for edge in (18, 25, 35, 45, 50, 56):
        if a < edge:
            return f"<{edge}"
    return "56+"


def load_movielens(folder: str | Path) -> InteractionLog:
    """MovieLens 100K (``u.data``) or 1M (``ratings.dat``): every rating is a click."""
    folder = Path(folder)
    if (folder / "u.data").exists():
        raw = _movielens_ratings(folder / "u.data", None)
        items_file, users_file, sep = folder / "u.item", folder / "u.user", "|"
    elif (folder / "ratings.dat").exists():
        raw = _movielens_ratings(folder / "ratings.dat", "::")
        items_file, users_file, sep = folder / "movies.dat", folder / "users.dat", "::"
    else:
        raise MissingResourceError(
            ErrorCode.FILE_NOT_FOUND,
            "no MovieLens ratings file (u.data or ratings.dat) in the folder",
            value=str(folder),
            hint="pass the unpacked ml-100k or ml-1m folder",
        )
    cats, titles = _movielens_items(items_file, sep)
    return InteractionLog(raw[:, 0], raw[:, 1], raw[:, 3], cats, _movielens_users(users_file, sep), titles)


def _movielens_ratings(path: Path, sep: str | None) -> np.ndarray:
    """(N, 4) user, item, rating, timestamp; a line that is not four integers is refused (1101) by number."""
    if sep is None:  # fast path; the loop below only runs to say which line is bad
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # an empty file: refused below
                raw = np.loadtxt(path, dtype=np.int64, ndmin=2)
            if raw.shape[1] == 4 and len(raw):
                return raw
        except (ValueError, OverflowError):
            pass
    rows = []
    for n, line in enumerate(path.read_text(encoding="latin-1").splitlines(), 1):
        if not line.strip():
            continue
        parts = [parse_int_id(x.strip()) for x in line.split(sep)]
        if len(parts) != 4 or any(p is None for p in parts):
            raise InvalidInputError(
                ErrorCode.LOG_VALUES,
                f"line {n} of {path.name} is not four integers (user, item, rating, timestamp)",
                value=line[:80],
                hint="pass an unmodified MovieLens 100K / 1M folder",
            )
        rows.append(parts)
    if not rows:
        raise InvalidInputError(ErrorCode.DATASET_EMPTY, "the MovieLens ratings file is empty", value=str(path))
    return np.asarray(rows, np.int64)


def _movielens_items(path: Path, sep: str) -> tuple[dict, dict]:
    cats, titles = {}, {}
    if not path.exists():
        return cats, titles
    for line in path.read_text(encoding="latin-1").splitlines():
        parts = line.split(sep)
        if len(parts) < 3:
            continue
        item = int(parts[0])
        titles[item] = parts[1]
        if sep == "|":  # 100K: 19 genre flags at the end, first set flag = category
            flags = parts[-19:]
            cats[item] = next((g for g, f in zip(ML_GENRES, flags) if f == "1"), "unknown")
        else:  # 1M: "Action|Comedy"
            cats[item] = parts[2].split("|")[0]
    return cats, titles


def _movielens_users(path: Path, sep: str) -> dict[str, dict]:
    feats: dict[str, dict] = {"gender": {}, "age": {}, "occupation": {}}
    if not path.exists():
        return {}
    for line in path.read_text(encoding="latin-1").splitlines():
        parts = line.split(sep)
        if len(parts) < 4:
            continue
        user = int(parts[0])
        if sep == "|":
            age, gender, occupation = parts[1], parts[2], parts[3]
        else:
            gender, age, occupation = parts[1], parts[2], parts[3]
        feats["gender"][user] = gender
        feats["age"][user] = _age_bucket(age)
        feats["occupation"][user] = occupation
    return feats


def _json_lines(path: Path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                try:  # the 2014 dumps are Python literals, not JSON
                    rec = ast.literal_eval(line)
                except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
                    raise InvalidInputError(
                        ErrorCode.LOG_VALUES, f"line {n} is neither JSON nor a literal", value=str(path)
                    ) from exc
            if not isinstance(rec, dict):
                raise InvalidInputError(
                    ErrorCode.LOG_VALUES, f"line {n} is not a JSON object", value=str(path), hint="one object a line"
                )
            yield n, rec


def load_amazon(reviews: str | Path, meta: str | Path | None = None) -> InteractionLog:
    """Amazon reviews (JSON lines) as clicks; the product's last listed category is its category."""
    users, items, ts, lines = [], [], [], []
    for n, rec in _json_lines(Path(reviews)):
        try:
            users.append(rec["reviewerID"])
            items.append(rec["asin"])
            ts.append(rec["unixReviewTime"])
            lines.append(n)
        except KeyError as exc:
            raise InvalidInputError(
                ErrorCode.LOG_COLUMNS,
                f"review record on line {n} lacks {exc}",
                value=str(reviews),
                hint="expected reviewerID, asin and unixReviewTime",
            ) from exc
    if not users:
        raise InvalidInputError(ErrorCode.DATASET_EMPTY, "the review file has no records", value=str(reviews))
    line_of = np.asarray(lines)
    for values, name in ((users, "user id (reviewerID)"), (items, "item id (asin)"), (ts, "timestamp")):
        refuse_missing(line_of[missing_text_rows(values)], name, f"{reviews} (line numbers)")
    times = _number(ts, "unixReviewTime", str(reviews))
    cats, titles = {}, {}
    for _, rec in _json_lines(Path(meta)) if meta else ():
        asin = str(rec.get("asin", ""))
        value = rec.get("categories") or rec.get("category") or []
        if value and isinstance(value[0], list):
            value = value[0]
        if value:
            cats[asin] = str(value[-1])
        if rec.get("title"):
            titles[asin] = str(rec["title"])
    users, items = [str(u) for u in users], [str(i) for i in items]
    return InteractionLog(np.asarray(users, object), np.asarray(items, object), times, cats, {}, titles)
