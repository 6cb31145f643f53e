"""Transaction files and in-memory rows as a pandas DataFrame, or a coded error: never a pandas traceback.

Documented handling:

- a path that does not exist: ``MissingResourceError`` 2201;
- a file that is empty, holds only whitespace or only a header: 1210 (``FRAUD_EMPTY_INPUT``);
- a binary file, a file pandas cannot parse (bad CSV quoting, bad JSON, not Parquet, not
  UTF-8), a folder or an extension we do not read: 1211 (``FRAUD_UNREADABLE_FILE``) with a hint;
- anything else that is not a path, DataFrame, dict or list: 3201;
- a file over ``MAX_FILE_BYTES`` (2 GiB, checked before reading) or an input over ``MAX_ROWS``
  (5 million rows) in one call: 1014 (``INPUT_TOO_LARGE``): split it (``fraud score`` resumes,
  so parts can be scored one after another into the same output). An entity graph's node and
  edge tables may hold up to ``GRAPH_MAX_ROWS`` (10^8) rows each: fitting needs the whole graph.

Id columns (``transaction_id``, ``source``, ``destination``, ``channel`` under the caller's
names) are read from CSV as the text in the file, so one bad row never changes how the other
rows' ids read; a float id column that is float only because of missing values (``1.0, NaN,
3.0``) is given back its integers (``"1", NaN, "3"``).

Example:
    >>> read_frame({"source": ["a"], "destination": ["m"]}).shape
    (1, 2)
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ErrorCode, InvalidInputError, MissingResourceError, ModelFormatError, require

ID_COLUMNS = ("transaction_id", "source", "destination", "channel")
SUFFIXES = {
    ".csv": "csv",
    ".csv.gz": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
MAX_FILE_BYTES = 2 * 1024**3  # a transactions file read in one call
MAX_ROWS = 5_000_000  # rows read or handed over in one call
GRAPH_MAX_ROWS = 100_000_000  # an entity graph's node or edge table (fit needs the whole graph at once)
TOO_MANY_ROWS_HINT = "split the transactions into parts and score them one after another"
FORMATS_HINT = "write the transactions as UTF-8 .csv / .csv.gz, .parquet or .jsonl (one JSON object per line)"


def read_frame(
    source: Any, text_columns: Iterable[str] = ID_COLUMNS, max_rows: int | None = None, hint: str = TOO_MANY_ROWS_HINT
):
    """A pandas DataFrame from a path (.csv, .csv.gz, .parquet, .jsonl), DataFrame, dict or list of dicts.

    ``text_columns``: columns read from CSV as text (the id columns, under your names).
    ``max_rows``: more rows than this (``None``: ``MAX_ROWS``) are refused (1014) with ``hint``.
    """
    max_rows = MAX_ROWS if max_rows is None else max_rows
    pd = require("pandas", "fraud")
    text_columns = tuple(text_columns)
    if isinstance(source, pd.DataFrame):
        frame = source.reset_index(drop=True)
    elif isinstance(source, dict):
        frame = pd.DataFrame(source)
    elif isinstance(source, list):
        frame = pd.DataFrame.from_records(source)
    elif isinstance(source, (str, Path)):
        frame = read_file(Path(source), text_columns)
    else:
        raise ModelFormatError(
            ErrorCode.FRAUD_UNSUPPORTED_INPUT,
            "cannot read transactions from this input",
            value=type(source).__name__,
            hint="pass a .csv/.csv.gz/.parquet/.jsonl path, a pandas DataFrame, a dict of columns or a list of dicts",
        )
    if len(frame) > max_rows:
        raise InvalidInputError(
            ErrorCode.INPUT_TOO_LARGE,
            f"{len(frame):,} rows in one call, over the {max_rows:,}-row limit",
            value=len(frame),
            hint=hint,
        )
    return integral_ids(frame, text_columns)


def file_format(path: Path) -> str | None:
    """``"csv"``, ``"parquet"``, ``"jsonl"`` from the file name, or ``None`` for one we do not read."""
    name = path.name.lower()
    return next((kind for suffix, kind in SUFFIXES.items() if name.endswith(suffix)), None)


def read_file(path: Path, text_columns: Iterable[str] = ID_COLUMNS):
    """One transactions file as a DataFrame with at least one row; coded errors for every way it can fail."""
    pd = require("pandas", "fraud")
    if not path.exists():
        raise MissingResourceError(
            ErrorCode.FRAUD_DATA_NOT_FOUND, "transactions file not found", value=str(path), hint="check the path"
        )
    kind = file_format(path)
    if path.is_dir() or kind is None:
        raise ModelFormatError(
            ErrorCode.FRAUD_UNREADABLE_FILE,
            "a folder, not a file" if path.is_dir() else "not a transactions file type we read",
            value=str(path),
            hint=FORMATS_HINT,
        )
    size = path.stat().st_size
    if size == 0:
        raise InvalidInputError(ErrorCode.FRAUD_EMPTY_INPUT, "the transactions file is empty", value=str(path))
    if size > MAX_FILE_BYTES:
        raise InvalidInputError(
            ErrorCode.INPUT_TOO_LARGE,
            f"the transactions file is {size:,} bytes, over the {MAX_FILE_BYTES:,}-byte limit",
            value=str(path),
            hint="split it into parts and score them one after another into the same --out (the job resumes)",
        )
    _check_head(path, kind)
    try:
        if kind == "parquet":
            require("pyarrow", "fraud")
            frame = pd.read_parquet(path)
        elif kind == "jsonl":
            frame = pd.read_json(path, lines=True)
        else:
            frame = pd.read_csv(path, dtype=dict.fromkeys(text_columns, str))
    except pd.errors.EmptyDataError:
        raise InvalidInputError(
            ErrorCode.FRAUD_EMPTY_INPUT, "the transactions file holds no header and no rows", value=str(path)
        ) from None
    except Exception as exc:  # any parser's failure on a user's file is bad input, never a traceback
        raise ModelFormatError(
            ErrorCode.FRAUD_UNREADABLE_FILE,
            f"cannot parse the {kind} file ({type(exc).__name__}: {str(exc)[:160]})",
            value=str(path),
            hint=FORMATS_HINT,
        ) from exc
    if len(frame) == 0:
        raise InvalidInputError(
            ErrorCode.FRAUD_EMPTY_INPUT,
            "the transactions file has a header but no rows",
            value=str(path),
            hint="nothing to score; check that the export finished",
        )
    return frame


def _check_head(path: Path, kind: str) -> None:
    """Refuse binary content before pandas sees it (a NUL byte in text, no magic number in Parquet)."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    gz = head[:2] == b"\x1f\x8b"
    if kind == "parquet":
        bad = head[:4] != b"PAR1"
    else:
        bad = b"\x00" in head and not (gz and path.name.lower().endswith(".gz"))
    if bad:
        raise ModelFormatError(
            ErrorCode.FRAUD_UNREADABLE_FILE,
            f"binary content, not a {kind} file",
            value=str(path),
            hint=FORMATS_HINT,
        )


def integral_ids(frame, text_columns: Iterable[str] = ID_COLUMNS):
    """Float id columns that hold only whole numbers and missing values as their integer text.

    pandas turns ``1, , 3`` into ``1.0, NaN, 3.0``: without this, one row with a missing id
    would rename every other row's entity (``"1.0"`` instead of ``"1"``).
    """
    pd = require("pandas", "fraud")
    for name in text_columns:
        if name not in frame.columns or frame[name].dtype.kind != "f":
            continue
        col = frame[name]
        values = col.to_numpy()
        missing = np.isnan(values)
        if not missing.any() or not np.all(np.mod(values[~missing], 1) == 0):
            continue
        text = np.full(len(values), np.nan, dtype=object)
        text[~missing] = values[~missing].astype(np.int64).astype(str)
        frame = frame.assign(**{name: pd.Series(text, index=frame.index, dtype=object)})
    return frame
