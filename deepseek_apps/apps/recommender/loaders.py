"""Readers for the behaviour logs users have, all returning an ``InteractionLog``.

- ``csv`` / ``parquet``: columns ``user_id, item_id, timestamp`` and optional ``label``
  (rows with label 0 are not clicks and are dropped), ``category`` and any ``user_columns``.
- ``movielens``: a folder with ``u.data`` (100K) or ``ratings.dat`` (1M), plus ``u.item`` /
  ``movies.dat`` (first genre = category) and ``u.user`` / ``users.dat`` (gender, age, occupation).
- ``amazon``: reviews as JSON lines (``reviewerID, asin, unixReviewTime``) and optional
  product metadata JSON lines (``asin, categories`` or ``category``), plain or ``.gz``.

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
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ...errors import ErrorCode, InvalidInputError, MissingResourceError, require
from .data import InteractionLog

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
        return _from_columns(pq.read_table(path).to_pydict(), user_columns, str(path))
    if fmt == "movielens":
        return load_movielens(path)
    if fmt == "amazon":
        return load_amazon(path, meta)
    raise InvalidInputError(
        ErrorCode.UNKNOWN_FORMAT, f"unknown log format '{fmt}'", value=fmt, hint=f"use one of {', '.join(FORMATS)}"
    )


def _read_csv(path: Path) -> dict[str, list]:
    with open(path, newline="", encoding="utf-8") as fh:
        sample = fh.read(4096)
        fh.seek(0)
        dialect = csv.Sniffer().sniff(sample, delimiters=",\t;|") if sample else csv.excel
        rows = list(csv.DictReader(fh, dialect=dialect))
    if not rows:
        raise InvalidInputError(ErrorCode.DATASET_EMPTY, "the CSV log has no rows", value=str(path))
    return {k.strip(): [r[k] for r in rows] for k in rows[0]}


def _number(values: list, column: str, source: str) -> np.ndarray:
    try:
        return np.asarray([float(v) for v in values], np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            ErrorCode.LOG_VALUES,
            f"column '{column}' must be numeric ({exc})",
            value=source,
            hint="timestamps as Unix seconds (or any number that orders events); labels as 0/1",
        ) from exc


def _ids(values: list) -> np.ndarray:
    """Ids as ints when every value is an integer string, else as strings."""
    text = [str(v).strip() for v in values]
    if all(t.lstrip("-").isdigit() for t in text):
        return np.asarray([int(t) for t in text], np.int64)
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
        raw = np.loadtxt(folder / "u.data", dtype=np.int64, ndmin=2)
        items_file, users_file, sep = folder / "u.item", folder / "u.user", "|"
    elif (folder / "ratings.dat").exists():
        lines = (folder / "ratings.dat").read_text(encoding="latin-1").split()
        raw = np.asarray([[int(x) for x in ln.split("::")] for ln in lines], np.int64)
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
                yield json.loads(line)
            except json.JSONDecodeError:
                try:  # the 2014 dumps are Python literals, not JSON
                    yield ast.literal_eval(line)
                except (ValueError, SyntaxError) as exc:
                    raise InvalidInputError(
                        ErrorCode.LOG_VALUES, f"line {n} is neither JSON nor a literal", value=str(path)
                    ) from exc


def load_amazon(reviews: str | Path, meta: str | Path | None = None) -> InteractionLog:
    """Amazon reviews (JSON lines) as clicks; the product's last listed category is its category."""
    users, items, ts = [], [], []
    for rec in _json_lines(Path(reviews)):
        try:
            users.append(str(rec["reviewerID"]))
            items.append(str(rec["asin"]))
            ts.append(float(rec["unixReviewTime"]))
        except KeyError as exc:
            raise InvalidInputError(
                ErrorCode.LOG_COLUMNS,
                f"review record lacks {exc}",
                value=str(reviews),
                hint="expected reviewerID, asin and unixReviewTime",
            ) from exc
    cats, titles = {}, {}
    for rec in _json_lines(Path(meta)) if meta else ():
        asin = str(rec.get("asin", ""))
        value = rec.get("categories") or rec.get("category") or []
        if value and isinstance(value[0], list):
            value = value[0]
        if value:
            cats[asin] = str(value[-1])
        if rec.get("title"):
            titles[asin] = str(rec["title"])
    return InteractionLog(np.asarray(users, object), np.asarray(items, object), np.asarray(ts), cats, {}, titles)
