"""Span re-ranking: the decoder's candidate clauses scored by how likely each is a right answer.

The decoder (``decode.SpanDecoder``) ranks a candidate by its mean word probability. That
says whether the words belong to a clause, not whether the span lines up with one: a short
fragment of a long clause, or the seventh candidate of a category in one contract, ranks as
high as a whole clause. ``SpanReranker`` is a logistic regression over features of each
candidate (its word probabilities, length, rank among the category's candidates in the
contract, the window scores around it, its position, and a bias per category), fitted on
contracts the tagger did not train on, with a candidate labelled right when it matches a
gold answer as CUAD's evaluation counts it (word-set Jaccard >= 0.5; for Parties, also when
the answer is inside it). Its output is a probability, so ``min_confidence`` reads as "at
least this likely to be right".

It is stored as plain numbers in the model's ``clause_tagger.json`` (``"span_reranker"``),
so bundles and the torch-free runtime carry it with no new file.

Example:
    >>> import numpy as np
    >>> found = [[(0, 3, 0.8), (5, 6, 0.2)]] + [[] for _ in range(40)]
    >>> x, cats = candidate_features(found, np.full((8, 41), 0.1), [(0, 8)], np.full((1, 41), 0.5))
    >>> x.shape, cats.tolist()
    ((2, 13), [0, 0])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from deepseek_apps.errors import ErrorCode, InvalidInputError, ModelFormatError

from .data import CATEGORIES
from .decode import Span

FEATURES = (
    "confidence",  # the decoder's confidence (mean word probability, capped for lower levels), logit
    "mean",  # mean word probability, logit
    "max",  # highest word probability, logit
    "above_threshold",  # 1 when the mean reaches the decoder's first threshold
    "log_words",  # log of the span's length in words
    "log_rank",  # log(1 + rank among the category's candidates in this contract)
    "log_candidates",  # log(1 + number of the category's candidates in this contract)
    "top",  # the category's best decoder confidence in this contract, logit
    "below_top",  # confidence minus top, in logits
    "window",  # highest window score (tagger + lexical) over the windows the span touches, logit
    "lexical",  # highest lexical score over those windows, logit
    "position",  # first word / words in the document
    "top3",  # mean of the span's three highest word probabilities, logit
)
_FLOOR = -9.0


def _logit(p) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def candidate_features(
    found: Sequence[Sequence[Span]],
    word_probs: np.ndarray,
    windows: Sequence[tuple[int, int]],
    window_scores: np.ndarray,
    lexical: np.ndarray | None = None,
    threshold: float = 0.3,
) -> tuple[np.ndarray, np.ndarray]:
    """(features (n, ``len(FEATURES)``), category index (n,)) of every candidate in ``found``,
    category by category in order.

    ``found``: per category the decoder's spans, most confident first; ``windows`` and
    ``window_scores`` (n_windows, n_categories): the detection windows and their scores;
    ``lexical``: the lexical part of those scores (None: the window scores stand in).
    """
    lexical = window_scores if lexical is None else lexical
    starts = np.array([a for a, _ in windows], dtype=np.int64)
    ends = np.array([b for _, b in windows], dtype=np.int64)
    n_words = max(int(word_probs.shape[0]), 1)
    rows, cats = [], []
    for k, spans in enumerate(found):
        if not spans:
            continue
        top = _logit(spans[0][2])
        for rank, (a, b, q) in enumerate(spans):
            p = word_probs[a:b, k]
            near = (starts < b) & (ends > a)
            conf, mean = _logit(q), _logit(p.mean())
            rows.append([
                conf, mean, _logit(p.max()), float(p.mean() >= threshold), np.log(b - a),
                np.log1p(rank), np.log1p(len(spans)), top, conf - top,
                _logit(window_scores[near, k].max()) if near.any() else _FLOOR,
                _logit(lexical[near, k].max()) if near.any() else _FLOOR,
                a / n_words, _logit(np.sort(p)[-3:].mean()),
            ])  # fmt: skip
            cats.append(k)
    return np.asarray(rows, dtype=np.float64).reshape(-1, len(FEATURES)), np.asarray(cats, dtype=np.int64)


def _design(x: np.ndarray, cats: np.ndarray) -> np.ndarray:
    onehot = np.zeros((len(cats), len(CATEGORIES)))
    onehot[np.arange(len(cats)), cats] = 1.0
    return np.hstack([x, onehot])


@dataclass(frozen=True)
class SpanReranker:
    """Logistic regression over ``FEATURES`` plus a bias per category (``CATEGORIES`` order).

    Args:
        coef: one weight per feature.
        category_bias: one bias per category.
        intercept: the shared bias.
        fitted_on: where it was fitted, for the model card ("seed-0 validation, 80 contracts").
    """

    coef: tuple[float, ...]
    category_bias: tuple[float, ...]
    intercept: float
    fitted_on: str = ""

    def __post_init__(self) -> None:
        if len(self.coef) != len(FEATURES) or len(self.category_bias) != len(CATEGORIES):
            raise ModelFormatError(
                ErrorCode.CONTRACT_RERANKER_INVALID,
                "span re-ranker does not match this version's features or categories",
                value=f"{len(self.coef)} weights, {len(self.category_bias)} category biases",
                hint=f"expected {len(FEATURES)} and {len(CATEGORIES)}; refit it with this version",
            )

    @classmethod
    def fit(
        cls, x: np.ndarray, cats: np.ndarray, labels: np.ndarray, c: float = 0.1, fitted_on: str = ""
    ) -> SpanReranker:
        """Fit on candidate features, categories and right / wrong labels (``candidate_labels``)."""
        from sklearn.linear_model import LogisticRegression

        labels = np.asarray(labels, dtype=bool)
        if labels.all() or not labels.any():
            raise InvalidInputError(
                ErrorCode.INVALID_ARGUMENT,
                "cannot fit a span re-ranker: the candidates are all right or all wrong",
                value=f"{int(labels.sum())} right of {labels.size}",
                hint="fit it on more labelled contracts",
            )
        model = LogisticRegression(C=c, max_iter=5000).fit(_design(x, cats), labels)
        w = model.coef_[0]
        n = len(FEATURES)
        return cls(tuple(map(float, w[:n])), tuple(map(float, w[n:])), float(model.intercept_[0]), fitted_on)

    def probabilities(self, x: np.ndarray, cats: np.ndarray) -> np.ndarray:
        """P(right) of each candidate."""
        logits = x @ np.asarray(self.coef) + np.asarray(self.category_bias)[cats] + self.intercept
        return 1.0 / (1.0 + np.exp(-logits))

    def rescore(self, found: Sequence[Sequence[Span]], x: np.ndarray, cats: np.ndarray) -> list[list[Span]]:
        """``found`` with each confidence replaced by P(right), most likely first per category."""
        return with_confidences(found, self.probabilities(x, cats))

    def to_dict(self) -> dict:
        return {
            "features": list(FEATURES),
            "coef": list(self.coef),
            "category_bias": dict(zip(CATEGORIES, self.category_bias)),
            "intercept": self.intercept,
            "fitted_on": self.fitted_on,
        }

    @classmethod
    def from_dict(cls, values: dict) -> SpanReranker:
        if list(values.get("features", [])) != list(FEATURES):
            raise ModelFormatError(
                ErrorCode.CONTRACT_RERANKER_INVALID,
                "span re-ranker features differ from this version's",
                value=str(values.get("features")),
                hint="refit the re-ranker (`deepseek-apps contracts train` fits one on the validation contracts)",
            )
        bias = values["category_bias"]
        return cls(
            tuple(values["coef"]),
            tuple(bias[c] for c in CATEGORIES),
            float(values["intercept"]),
            values.get("fitted_on", ""),
        )

    @classmethod
    def from_meta(cls, meta: dict) -> SpanReranker | None:
        """The re-ranker stored in a model's metadata (``clause_tagger.json``), or None."""
        values = meta.get("span_reranker")
        return None if values is None else cls.from_dict(values)


def with_confidences(found: Sequence[Sequence[Span]], confidences: np.ndarray) -> list[list[Span]]:
    """``found`` (per category) with the flat ``confidences`` (``candidate_features`` order), re-sorted."""
    out, at = [], 0
    for spans in found:
        rescored = [(a, b, float(confidences[at + i])) for i, (a, b, _) in enumerate(spans)]
        at += len(spans)
        out.append(sorted(rescored, key=lambda s: -s[2]))
    return out


def fold_ids(n: int, folds: int, seed: int = 0) -> np.ndarray:
    """A seeded assignment of ``n`` contracts to ``folds`` folds of near-equal size."""
    fold_of = np.empty(n, dtype=np.int64)
    fold_of[np.random.default_rng(seed).permutation(n)] = np.arange(n) % folds
    return fold_of


def cross_fit(
    groups: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], folds: int = 4, seed: int = 0, c: float = 0.1
) -> list[np.ndarray]:
    """Out-of-fold P(right) per group (one group per contract: features, categories, labels):
    each fold of contracts is scored by a re-ranker fitted on the others."""
    n = len(groups)
    fold_of = fold_ids(n, folds, seed)
    out: list[np.ndarray] = [np.zeros(0)] * n
    for f in range(folds):
        fit_on = [g for g, fold in zip(groups, fold_of) if fold != f and len(g[2])]
        model = SpanReranker.fit(
            np.vstack([g[0] for g in fit_on]),
            np.concatenate([g[1] for g in fit_on]),
            np.concatenate([g[2] for g in fit_on]),
            c,
        )
        for i in np.flatnonzero(fold_of == f):
            out[i] = model.probabilities(groups[i][0], groups[i][1]) if len(groups[i][2]) else np.zeros(0)
    return out
