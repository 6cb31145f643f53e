"""Behaviour logs -> time-ordered, leakage-free DIN samples.

An ``InteractionLog`` is what users have: one row per click (user, item, timestamp) plus
optional item categories and user features. ``Catalog`` maps raw ids to dense indices
(index 0 is padding and "unknown"). ``build_samples`` turns a log into train / validation /
test ``Samples``:

- each user's clicks are ordered by time (ties keep file order);
- the event at position ``t`` gets the history ``clicks[t - max_len : t]`` only, so no event
  at or after ``t`` ever enters its history;
- the last click of a user is the test sample, the one before it the validation sample,
  the rest (except the first, which has no history) are training samples;
- each positive gets ``negatives`` sampled items the user never clicked, with the same history.

Example:
    >>> from deepseek_apps.apps.recommender.synthetic import generate_log
    >>> from deepseek_apps.apps.recommender.data import build_samples
    >>> splits = build_samples(generate_log(n_users=20, seed=0), max_len=10, seed=0)
    >>> splits.train.hist_items.shape[1]
    10
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import ErrorCode, InvalidInputError
from .ids import canonical_id, missing_rows, refuse_missing, twin


@dataclass
class InteractionLog:
    """Raw clicks: parallel arrays plus side information keyed by raw ids.

    Attributes:
        users, items: raw ids (ints or strings), one per click.
        timestamps: event times (any sortable numbers), one per click.
        item_categories: raw item id -> category name (items without one get "unknown").
        user_features: feature name -> {raw user id -> value}.
        item_titles: optional raw item id -> display title.
    """

    users: np.ndarray
    items: np.ndarray
    timestamps: np.ndarray
    item_categories: dict[Any, str] = field(default_factory=dict)
    user_features: dict[str, dict[Any, str]] = field(default_factory=dict)
    item_titles: dict[Any, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.users)
        if not (len(self.items) == n == len(self.timestamps)):
            raise InvalidInputError(
                ErrorCode.LOG_VALUES,
                "users, items and timestamps must have the same length",
                value=(len(self.users), len(self.items), len(self.timestamps)),
                hint="pass one user, item and timestamp per click",
            )
        if n == 0:
            raise InvalidInputError(ErrorCode.DATASET_EMPTY, "the interaction log is empty", value=0)
        self.check_values()

    def check_values(self) -> None:
        """Refuse missing ids or timestamps (1106) and timestamps that are not finite numbers (1101), with rows."""
        where = "the log (0-based positions)"
        refuse_missing(missing_rows(self.users), "user id", where)
        refuse_missing(missing_rows(self.items), "item id", where)
        event_times(self.timestamps)

    def __len__(self) -> int:
        return len(self.users)


@dataclass
class Catalog:
    """Raw id <-> dense index maps; index 0 is padding / unknown for users, items, categories."""

    user_ids: list
    item_ids: list
    category_names: list[str]
    item_category: np.ndarray  # (n_items + 1,) category index of each item index
    user_feature_names: list[str] = field(default_factory=list)
    user_feature_vocab: list[list[str]] = field(default_factory=list)
    user_feature_codes: np.ndarray | None = None  # (n_users + 1, n_features)
    item_titles: dict[int, str] = field(default_factory=dict)  # item index -> title

    def __post_init__(self) -> None:
        self._user_index = {u: i + 1 for i, u in enumerate(self.user_ids)}
        self._item_index = {t: i + 1 for i, t in enumerate(self.item_ids)}
        self._string_users = bool(self.user_ids) and all(isinstance(u, str) for u in self.user_ids)
        self._string_items = bool(self.item_ids) and all(isinstance(t, str) for t in self.item_ids)
        if self.user_feature_codes is None:
            self.user_feature_codes = np.zeros((len(self.user_ids) + 1, 0), np.int64)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    def user_index(self, raw: Any) -> int:
        """Dense index of a raw user id; 0 when unknown (matches ``"7"`` and ``7`` alike)."""
        return self._user_index.get(raw, self._user_index.get(twin(raw), 0))

    def item_index(self, raw: Any) -> int:
        return self._item_index.get(raw, self._item_index.get(twin(raw), 0))

    def canonical_user(self, raw: Any) -> Any:
        """``raw`` as the one key this catalog's users are stored under (``ids.canonical_id``)."""
        return canonical_id(self._user_index, self._string_users, raw)

    def canonical_item(self, raw: Any) -> Any:
        """``raw`` as the one key this catalog's items are stored under (``ids.canonical_id``)."""
        return canonical_id(self._item_index, self._string_items, raw)

    def items_index(self, raws) -> np.ndarray:
        return np.fromiter((self.item_index(r) for r in raws), np.int64)

    def to_dict(self) -> dict:
        return {
            "user_ids": _jsonable(self.user_ids),
            "item_ids": _jsonable(self.item_ids),
            "category_names": self.category_names,
            "user_feature_names": self.user_feature_names,
            "user_feature_vocab": self.user_feature_vocab,
            "item_titles": {str(k): v for k, v in self.item_titles.items()},
        }

    @classmethod
    def from_dict(cls, d: dict, item_category: np.ndarray, user_feature_codes: np.ndarray) -> Catalog:
        return cls(
            d["user_ids"],
            d["item_ids"],
            d["category_names"],
            item_category,
            d["user_feature_names"],
            d["user_feature_vocab"],
            user_feature_codes,
            {int(k): v for k, v in d.get("item_titles", {}).items()},
        )


def event_times(timestamps: Any) -> np.ndarray:
    """Timestamps as float64; missing ones refused (1106), non-numeric or infinite ones (1101), with rows."""
    arr = np.asarray(timestamps)
    where = "the log (0-based positions)"
    refuse_missing(missing_rows(arr), "timestamp", where)
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[us]").astype(np.int64) / 1e6
    if arr.dtype.kind in "iufb":
        out = arr.astype(np.float64)
    else:
        out = np.zeros(len(arr), np.float64)
        for i, v in enumerate(arr.tolist()):
            try:
                out[i] = float(v)
            except (TypeError, ValueError, OverflowError):
                out[i] = np.inf
    bad = np.flatnonzero(~np.isfinite(out))
    refuse_missing(bad[np.isnan(out[bad])], "timestamp", where)  # "nan" strings
    if len(bad):
        raise InvalidInputError(
            ErrorCode.LOG_VALUES,
            f"{len(bad)} timestamp(s) are not finite numbers: rows {bad[:20].tolist()} of {where}",
            value=bad[:20].tolist(),
            hint="timestamps as Unix seconds (or any finite number that orders events)",
        )
    return out


def _jsonable(ids: list) -> list:
    return [int(i) if isinstance(i, (int, np.integer)) else str(i) for i in ids]


@dataclass
class Samples:
    """Model-ready arrays, one row per (user, candidate item, history) sample."""

    user: np.ndarray  # (N,) user index
    item: np.ndarray  # (N,) item index
    category: np.ndarray  # (N,) category index
    hist_items: np.ndarray  # (N, L) item indices, left-padded with 0, oldest first
    hist_cats: np.ndarray  # (N, L)
    label: np.ndarray  # (N,) float32 0/1

    def __len__(self) -> int:
        return len(self.label)

    def subset(self, idx: np.ndarray) -> Samples:
        return Samples(*(getattr(self, f)[idx] for f in self.__dataclass_fields__))


@dataclass
class SampleSplits:
    """Train / validation / test samples of one log and what is needed to serve it."""

    train: Samples
    valid: Samples
    test: Samples
    catalog: Catalog
    hist_indptr: np.ndarray  # CSR over users: clicks of user u (index) in time order
    hist_items: np.ndarray
    item_counts: np.ndarray  # (n_items + 1,) clicks per item in the training samples' events

    def history(self, user: int) -> np.ndarray:
        return self.hist_items[self.hist_indptr[user] : self.hist_indptr[user + 1]]


def _vocabulary(values) -> list:
    """Sorted distinct values (ints before strings when mixed)."""
    return sorted(set(values), key=lambda v: (str(type(v)), v))


def _codes(values: list) -> tuple[list, np.ndarray]:
    """Sorted vocabulary of ``values`` and their 1-based codes (0 is left for unknown)."""
    vocab = _vocabulary(values)
    index = {v: i + 1 for i, v in enumerate(vocab)}
    return vocab, np.fromiter((index[v] for v in values), np.int64, len(values))


def build_catalog(log: InteractionLog) -> Catalog:
    """Index users, items, categories and user features found in ``log``."""
    users, items = _vocabulary(log.users.tolist()), _vocabulary(log.items.tolist())
    cat_names, cat_codes = _codes([str(log.item_categories.get(i, "unknown")) for i in items])
    item_category = np.concatenate([[0], cat_codes]).astype(np.int64)
    names = sorted(log.user_features)
    vocab, cols = [], []
    for name in names:
        v, c = _codes([str(log.user_features[name].get(u, "unknown")) for u in users])
        vocab.append(v)
        cols.append(np.concatenate([[0], c]))
    codes = np.stack(cols, 1).astype(np.int64) if cols else np.zeros((len(users) + 1, 0), np.int64)
    item_pos = {t: i + 1 for i, t in enumerate(items)}
    titles = {item_pos[k]: str(v) for k, v in log.item_titles.items() if k in item_pos}
    return Catalog(users, items, cat_names, item_category, names, vocab, codes, titles)


def _user_sequences(log: InteractionLog, catalog: Catalog) -> tuple[np.ndarray, np.ndarray]:
    """CSR (indptr, items) of each user's clicks in time order (stable: ties keep file order)."""
    u = np.fromiter((catalog.user_index(x) for x in log.users.tolist()), np.int64, len(log))
    i = np.fromiter((catalog.item_index(x) for x in log.items.tolist()), np.int64, len(log))
    ts = event_times(log.timestamps)
    order = np.lexsort((np.arange(len(log)), ts, u))
    indptr = np.zeros(catalog.n_users + 2, np.int64)
    np.add.at(indptr, u + 1, 1)
    return np.cumsum(indptr)[: catalog.n_users + 2], i[order]


def _windows(seq: np.ndarray, positions: np.ndarray, max_len: int) -> np.ndarray:
    """Row r = ``seq[positions[r] - max_len : positions[r]]``, left-padded with 0."""
    padded = np.concatenate([np.zeros(max_len, seq.dtype), seq])
    return np.lib.stride_tricks.sliding_window_view(padded, max_len)[positions]


def _negatives(rng: np.random.Generator, n_items: int, seen: np.ndarray, count: int) -> np.ndarray:
    """``count`` items drawn uniformly from those the user never clicked."""
    if len(np.unique(seen)) >= n_items:
        raise InvalidInputError(
            ErrorCode.LOG_VALUES,
            "a user has clicked every item, so no negative can be sampled",
            value=n_items,
            hint="add more items to the catalog or drop that user",
        )
    out = np.empty(0, np.int64)
    while len(out) < count:
        draw = rng.integers(1, n_items + 1, size=2 * count + 8)
        out = np.concatenate([out, draw[~np.isin(draw, seen)]])
    return out[:count]


def build_samples(log: InteractionLog, max_len: int = 50, negatives: int = 1, seed: int = 0) -> SampleSplits:
    """Leakage-free train / validation / test samples (see the module docstring)."""
    if max_len < 1 or negatives < 1:
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            "max_len and negatives must be positive",
            value=(max_len, negatives),
            hint="e.g. max_len=50, negatives=1",
        )
    log.check_values()  # again: the arrays may have been changed since the log was made
    catalog = build_catalog(log)
    indptr, seqs = _user_sequences(log, catalog)
    rng = np.random.default_rng(seed)
    parts: dict[str, list] = {"train": [], "valid": [], "test": []}
    for user in range(1, catalog.n_users + 1):
        seq = seqs[indptr[user] : indptr[user + 1]]
        n = len(seq)
        if n < 2:
            continue
        pos = np.arange(1, n)
        split = np.where(pos == n - 1, 2, np.where(pos == n - 2, 1, 0))
        hist = _windows(seq, pos, max_len)
        neg = _negatives(rng, catalog.n_items, seq, negatives * len(pos)).reshape(len(pos), negatives)
        for s, name in enumerate(("train", "valid", "test")):
            keep = split == s
            if keep.any():
                parts[name].append((user, seq[pos[keep]], neg[keep], hist[keep]))
    samples = {name: _assemble(rows, catalog, max_len, negatives) for name, rows in parts.items()}
    if len(samples["train"]) == 0:
        raise InvalidInputError(
            ErrorCode.DATASET_EMPTY,
            "no training samples: users need at least 4 clicks (history, train, validation, test)",
            value=len(log),
            hint="pass a longer log",
        )
    train_events = samples["train"].item[samples["train"].label == 1]
    counts = np.bincount(
        np.concatenate([train_events, samples["train"].hist_items.ravel()]), minlength=catalog.n_items + 1
    )
    counts[0] = 0
    return SampleSplits(samples["train"], samples["valid"], samples["test"], catalog, indptr, seqs, counts)


def _assemble(rows: list, catalog: Catalog, max_len: int, negatives: int) -> Samples:
    """Stack per-user (user, positives, negatives, histories) into ``Samples``."""
    if not rows:
        empty = np.zeros(0, np.int64)
        return Samples(
            empty,
            empty,
            empty,
            np.zeros((0, max_len), np.int32),
            np.zeros((0, max_len), np.int32),
            empty.astype(np.float32),
        )
    users, items, labels, hists = [], [], [], []
    for user, pos_items, neg_items, hist in rows:
        k = len(pos_items)
        block = np.concatenate([pos_items[:, None], neg_items], 1)  # (k, 1 + negatives)
        items.append(block.ravel())
        labels.append(np.tile(np.r_[1.0, np.zeros(negatives)], k))
        hists.append(np.repeat(hist, 1 + negatives, axis=0))
        users.append(np.full(k * (1 + negatives), user, np.int64))
    item = np.concatenate(items).astype(np.int64)
    hist_items = np.concatenate(hists).astype(np.int32)
    cat = catalog.item_category
    return Samples(
        np.concatenate(users),
        item,
        cat[item],
        hist_items,
        cat[hist_items].astype(np.int32),
        np.concatenate(labels).astype(np.float32),
    )


def remap(samples: Samples, source: Catalog, target: Catalog) -> Samples:
    """Samples indexed by ``source`` re-indexed into ``target`` (unknown items become padding, 0).

    Used to evaluate a fitted model on a log it has not seen: the log's own catalog is built
    first, then its items, categories and users are mapped onto the model's catalog.
    """
    items = np.concatenate([[0], target.items_index(source.item_ids)])
    users = np.concatenate([[0], np.fromiter((target.user_index(u) for u in source.user_ids), np.int64)])
    item = items[samples.item]
    hist = items[samples.hist_items].astype(np.int32)
    cat = target.item_category
    return Samples(users[samples.user], item, cat[item], hist, cat[hist].astype(np.int32), samples.label)
