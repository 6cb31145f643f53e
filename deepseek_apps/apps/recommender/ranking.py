"""From raw ids to catalog indices and from model outputs to typed results, for one user.

Pure functions of a ``Catalog`` and numpy arrays: ``DINRecommender.recommend`` / ``score``
check the ids, run the model once, then turn the probabilities and attention weights into
``Recommendation``s (ranked) or ``ItemScore``s (in the order given).

Candidate lists:

- ``None`` or NaN in a candidate list (or in the items given to ``score``) is refused with
  ``CANDIDATES_INVALID`` (1103), naming the positions;
- duplicates are removed before ranking, the first occurrence kept (``5`` and ``"5"`` are the
  same item when the catalog knows it; see ``ids.py``); ``score`` keeps one result per item given;
- unknown items (``known_item=False``) are ranked after every known item, in the order given,
  whatever their score: the model has no signal about them, so the score it gives them
  (from the padding embedding) says nothing about the item.

Example:
    >>> import numpy as np
    >>> from deepseek_apps.apps.recommender.data import Catalog
    >>> c = Catalog([7], ["a", "b"], ["toys"], np.array([0, 1, 1]))
    >>> item_indices(c, ["b", "zz"], "candidates")
    (['b', 'zz'], array([2, 0]))
    >>> candidate_set(c, ["zz", "b", "a", "b"], np.zeros(0, np.int64), True)
    (['zz', 'b', 'a'], array([0, 2, 1]))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...errors import ErrorCode, InvalidInputError
from .data import Catalog
from .ids import missing_positions
from .results import ItemScore, Recommendation


def check_user_id(user_id: Any) -> None:
    """A user id is an int, a string or ``None`` (an anonymous, cold user)."""
    if user_id is not None and not isinstance(user_id, (int, str, np.integer)):
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT, "user_id must be an int or a string", value=user_id, hint="e.g. user_id=7"
        )


def check_k(k: Any) -> None:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InvalidInputError(ErrorCode.INVALID_ARGUMENT, "k must be a positive integer", value=k, hint="e.g. k=10")


def item_indices(catalog: Catalog, raws: Any, what: str) -> tuple[list, np.ndarray]:
    """Raw ids as a list and their catalog indices (0 = unknown); refuses a string or a non-list."""
    if isinstance(raws, (str, bytes)) or not isinstance(raws, Sequence | np.ndarray):
        raise InvalidInputError(
            ErrorCode.CANDIDATES_INVALID,
            f"{what} must be a list of item ids",
            value=raws,
            hint=f"e.g. {what}=[12, 50, 7]",
        )
    raw = list(raws)
    missing = missing_positions(raw)
    if missing:
        raise InvalidInputError(
            ErrorCode.CANDIDATES_INVALID,
            f"{what} hold None or NaN at positions {missing[:20]} (0-based)",
            value=missing[:20],
            hint=f"drop the missing entries from {what}",
        )
    try:
        return raw, catalog.items_index(raw)
    except TypeError as exc:  # an unhashable id, e.g. a nested list
        raise InvalidInputError(
            ErrorCode.CANDIDATES_INVALID, f"{what} must hold item ids (ints or strings)", value=raws
        ) from exc


def candidate_set(
    catalog: Catalog, candidates: Sequence | None, seen: np.ndarray, exclude_seen: bool
) -> tuple[list, np.ndarray]:
    """``candidates`` as (raw ids, indices); ``None`` = every item, minus ``seen`` with ``exclude_seen``."""
    if candidates is not None:
        raw, idx = item_indices(catalog, candidates, "candidates")
        return _first_occurrences(catalog, raw, idx)
    idx = np.arange(1, catalog.n_items + 1)
    if exclude_seen and len(seen):
        idx = idx[~np.isin(idx, seen)]
    return [catalog.item_ids[i - 1] for i in idx], idx


def _first_occurrences(catalog: Catalog, raw: list, idx: np.ndarray) -> tuple[list, np.ndarray]:
    """``raw`` and ``idx`` without repeated items (known: the same index; unknown: the same canonical id)."""
    if idx.all() and len(np.unique(idx)) == len(idx):  # all known, none repeated: the common case
        return raw, idx
    seen: set = set()
    keep = []
    for j, (r, i) in enumerate(zip(raw, idx.tolist())):
        key = ("known", i) if i else ("unknown", catalog.canonical_item(r))
        if key not in seen:
            seen.add(key)
            keep.append(j)
    if len(keep) == len(raw):
        return raw, idx
    return [raw[j] for j in keep], idx[keep]


def rank_order(prob: np.ndarray, idx: np.ndarray, k: int) -> np.ndarray:
    """Positions of the top ``k``: known items by probability (ties keep the order given), then unknown ones in order."""
    known = np.flatnonzero(idx > 0)
    order = known[np.argsort(-prob[known], kind="stable")]
    return np.concatenate([order, np.flatnonzero(idx == 0)])[:k]


def _category(catalog: Catalog, idx: int) -> str:
    return catalog.category_names[catalog.item_category[idx] - 1] if idx else "unknown"


def _weights(att_row: np.ndarray, n_hist: int) -> list[float]:
    """The attention of the real history positions (the model may have seen padding before them)."""
    return np.round(att_row[att_row.shape[0] - n_hist :].astype(np.float64), 6).tolist() if n_hist else []


def ranked(catalog: Catalog, raw: list, idx: np.ndarray, hist: np.ndarray, prob, att, k: int) -> list[Recommendation]:
    """The top ``k`` candidates, best first (``rank_order``: unknown items after every known one)."""
    order = rank_order(np.asarray(prob), np.asarray(idx), k)
    hist_ids = [catalog.item_ids[i - 1] for i in hist]
    return [
        Recommendation(
            item_id=raw[j],
            score=float(prob[j]),
            rank=r + 1,
            category=_category(catalog, idx[j]),
            title=catalog.item_titles.get(int(idx[j]), ""),
            history=hist_ids,
            attention=_weights(att[j], len(hist)),
            known_item=bool(idx[j]),
            cold_start=len(hist) == 0,
        )
        for r, j in enumerate(order)
    ]


def item_scores(catalog: Catalog, raw: list, idx: np.ndarray, hist: np.ndarray, prob, att) -> list[ItemScore]:
    """One ``ItemScore`` per given item, in the order given."""
    hist_ids = [catalog.item_ids[i - 1] for i in hist]
    return [
        ItemScore(
            item_id=raw[j],
            score=float(prob[j]),
            category=_category(catalog, idx[j]),
            known_item=bool(idx[j]),
            history=hist_ids,
            attention=_weights(att[j], len(hist)),
        )
        for j in range(len(raw))
    ]
