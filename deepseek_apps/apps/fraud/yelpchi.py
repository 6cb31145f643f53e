"""Loaders for the YelpChi spam-review graph in ``../shared/data/yelpchi``.

``review_graph`` (67,395 reviews, 38,063 users, 201 products) maps onto a transaction
table: a review is a transaction from a user (``u<id>``, the account) to a product
(``p<id>``, the merchant), labelled 1 when Yelp filtered it as spam. There are no dates, so
the graph is static and the detector uses structural + out-of-fold label features.

Pitfalls handled here (see ``../shared/data/README.md``): the file's row order leaks the
label, so rows are shuffled with a fixed seed on load; ids are used only to group (they are
never features); label features are k-fold out-of-fold, never leave-one-out.

Example:
    >>> table = load_review_graph("../shared/data/yelpchi")  # doctest: +SKIP
    >>> len(table), float(table.label.mean())  # doctest: +SKIP
    (67395, 0.132...)
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from ...errors import ErrorCode, MissingResourceError
from .data import TransactionTable, adjacency_labels, from_adjacency


def _require(path: Path) -> Path:
    if not path.exists():
        raise MissingResourceError(
            ErrorCode.FRAUD_DATA_NOT_FOUND,
            "YelpChi file not found",
            value=str(path),
            hint="pass the folder that holds review_graph/ and homo_subsample/ (../shared/data/yelpchi)",
        )
    return path


def load_review_graph(root: str | Path, seed: int = 0) -> TransactionTable:
    """The user -> product review graph as a shuffled, labelled, untimed transaction table."""
    path = _require(Path(root) / "review_graph" / "metadata.gz")
    with gzip.open(path, "rt") as fh:
        parts = [line.split() for line in fh if line.strip()]
    users = np.array([p[0] for p in parts])
    products = np.array([p[1] for p in parts])
    label = np.array([p[3] == "-1" for p in parts], dtype=np.float32)
    perm = np.random.default_rng(seed).permutation(len(parts))
    return TransactionTable(
        ids=np.array([f"r{i}" for i in perm], dtype=object),
        src=np.char.add("u", users[perm]).astype(object),
        dst=np.char.add("p", products[perm]).astype(object),
        time=None,
        amount=None,
        label=label[perm],
        row=perm,
    )


def load_homo_subsample(root: str | Path) -> tuple[TransactionTable, np.ndarray]:
    """The homogeneous review subsample: edges as a table, and the 0/1 label of every node.

    The labels file is sorted by label and edges are local in index, so any index-based
    feature leaks (structure alone reaches AUC 0.95+): a smoke test, not a benchmark.
    """
    root = Path(root) / "homo_subsample"
    table = from_adjacency(_require(root / "A_sub.npz"), _require(root / "labels_sub.csv"), relation="e")
    return table, adjacency_labels(root / "labels_sub.csv")
