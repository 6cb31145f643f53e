"""Window scores stacked: one logistic regression per category over the window's evidence.

The plain window score (``inference.combine``) is the mean of the tagger's highest word
probability in the window and the lexical scorer's probability, category by category.
``WindowStacker`` reads more of what is already computed: per category, the window's own
scores and those of its neighbours, how its words score (top five, mean, share above 0.3), how
the category scores over the whole contract, and the tagger and lexical scores of all 41
categories in the window (clause types come together: an exclusivity clause sits next to a
non-compete). One L2-regularised logistic regression per category, so the scores of different
categories become comparable probabilities, which is what a pooled ranking needs.

It is fitted on the tagger's outputs for contracts it trained on (``benchmarks/contracts_rerank.py
--write``) and stored in ``clause_tagger.json`` (``"window_stacker"``).

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> probs, tagger, lexical = rng.random((120, 41)), rng.random((2, 41)), rng.random((2, 41))
    >>> window_features(probs, [(0, 60), (45, 105)], tagger, lexical)[0].shape
    (2, 41, 12)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from deepseek_apps.errors import ErrorCode, InvalidInputError, ModelFormatError

from .data import CATEGORIES

OWN_FEATURES = (
    "tagger",  # the window's tagger score (highest word probability), logit
    "lexical",  # its lexical score, logit
    "neighbour_max",  # the higher tagger score of the windows before and after, logit
    "neighbour_min",  # the lower one
    "contract_tagger",  # the category's highest tagger score in the contract, logit
    "contract_lexical",  # its highest lexical score in the contract, logit
    "log_rank",  # log(1 + rank of the window in the contract for the category)
    "log_windows",  # log(1 + windows in the contract)
    "top5",  # mean of the window's five highest word probabilities, logit
    "mean",  # mean word probability in the window, logit
    "above_0.3",  # share of the window's words at or above 0.3
    "neighbour_lexical",  # the higher lexical score of the windows before and after, logit
)
_EDGE = -9.0
K = len(CATEGORIES)


def _logit(p) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def _shift(x: np.ndarray, by: int) -> np.ndarray:
    """``x`` moved ``by`` rows down (up when negative), the edge filled with ``_EDGE``."""
    out = np.full_like(x, _EDGE)
    if by > 0:
        out[by:] = x[:-by]
    else:
        out[:by] = x[-by:]
    return out


def window_features(
    word_probs: np.ndarray, windows: Sequence[tuple[int, int]], tagger: np.ndarray, lexical: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(own (n_windows, 41, ``len(OWN_FEATURES)``), shared (n_windows, 82): the tagger and lexical
    logits of all categories) of one contract's detection windows."""
    n = len(windows)
    if not n:
        return np.zeros((0, K, len(OWN_FEATURES))), np.zeros((0, 2 * K))
    lt, ll = _logit(tagger), _logit(lexical)
    before, after = _shift(lt, 1), _shift(lt, -1)
    rank = np.argsort(np.argsort(-(tagger + lexical), axis=0, kind="stable"), axis=0)
    top5 = np.stack([np.sort(word_probs[a:b], axis=0)[-5:].mean(0) for a, b in windows])
    mean = np.stack([word_probs[a:b].mean(0) for a, b in windows])
    above = np.stack([(word_probs[a:b] >= 0.3).mean(0) for a, b in windows])
    own = np.stack(
        [
            lt, ll, np.maximum(before, after), np.minimum(before, after),
            np.broadcast_to(lt.max(0), lt.shape), np.broadcast_to(ll.max(0), ll.shape),
            np.log1p(rank), np.full(lt.shape, np.log1p(n)), _logit(top5), _logit(mean), above,
            np.maximum(_shift(ll, 1), _shift(ll, -1)),
        ],
        axis=-1,
    )  # fmt: skip
    return own, np.hstack([lt, ll])


@dataclass(frozen=True)
class WindowStacker:
    """Per category, weights over its own features then the 82 shared ones, and a bias.

    Args:
        weights: (41, ``len(OWN_FEATURES)`` + 82) as nested tuples.
        bias: one per category.
        fitted_on: where it was fitted, for the model card.
    """

    weights: tuple[tuple[float, ...], ...]
    bias: tuple[float, ...]
    fitted_on: str = ""

    def __post_init__(self) -> None:
        w = np.asarray(self.weights)
        if w.shape != (K, len(OWN_FEATURES) + 2 * K) or len(self.bias) != K:
            raise ModelFormatError(
                ErrorCode.CONTRACT_RERANKER_INVALID,
                "window stacker does not match this version's features or categories",
                value=f"weights {w.shape}, {len(self.bias)} biases",
                hint=f"expected ({K}, {len(OWN_FEATURES) + 2 * K}) and {K}; refit it with this version",
            )

    def scores(self, own: np.ndarray, shared: np.ndarray) -> np.ndarray:
        """(n_windows, 41) probabilities from ``window_features``."""
        w = np.asarray(self.weights)
        n_own = len(OWN_FEATURES)
        logits = np.einsum("nkf,kf->nk", own, w[:, :n_own]) + shared @ w[:, n_own:].T + np.asarray(self.bias)
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)

    @classmethod
    def fit(
        cls, own: np.ndarray, shared: np.ndarray, labels: np.ndarray, c: float = 0.005, fitted_on: str = ""
    ) -> WindowStacker:
        """Fit on stacked ``window_features`` of many contracts and their (n_windows, 41) labels.

        ``c``: the inverse L2 strength, one value for every category (0.005 was the middle of a
        flat range, 0.002 to 0.01, on the seed-0 CUAD validation split). A category with no
        positive window gets weight 0 and bias -10: it never fires.
        """
        from sklearn.linear_model import LogisticRegression

        labels = np.asarray(labels)
        if labels.ndim != 2 or labels.shape != own.shape[:2] or not labels.any():
            raise InvalidInputError(
                ErrorCode.INVALID_ARGUMENT,
                "cannot fit a window stacker on these labels",
                value=f"labels {labels.shape}, features {own.shape}, {int(labels.sum())} positive",
                hint="pass the windows' (n_windows, 41) labels of contracts with clauses",
            )
        weights = np.zeros((K, len(OWN_FEATURES) + 2 * K))
        bias = np.full(K, -10.0)
        for k in range(K):
            y = labels[:, k]
            if y.min() == y.max():
                continue
            model = LogisticRegression(C=c, max_iter=1000).fit(np.hstack([own[:, k], shared]), y)
            weights[k], bias[k] = model.coef_[0], model.intercept_[0]
        return cls(tuple(map(tuple, weights.round(6).tolist())), tuple(bias.round(6).tolist()), fitted_on)

    def to_dict(self) -> dict:
        return {
            "own_features": list(OWN_FEATURES),
            "categories": list(CATEGORIES),
            "weights": [list(w) for w in self.weights],
            "bias": list(self.bias),
            "fitted_on": self.fitted_on,
        }

    @classmethod
    def from_meta(cls, meta: dict) -> WindowStacker | None:
        """The stacker stored in a model's metadata (``clause_tagger.json``), or None."""
        values = meta.get("window_stacker")
        if values is None:
            return None
        if values.get("own_features") != list(OWN_FEATURES) or values.get("categories") != list(CATEGORIES):
            raise ModelFormatError(
                ErrorCode.CONTRACT_RERANKER_INVALID,
                "window stacker features differ from this version's",
                value=str(values.get("own_features")),
                hint="refit it (`python benchmarks/contracts_rerank.py --write MODEL_DIR`)",
            )
        return cls(tuple(map(tuple, values["weights"])), tuple(values["bias"]), values.get("fitted_on", ""))


def cross_fit_windows(
    groups: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], folds: int = 4, seed: int = 0, c: float = 0.005
) -> list[np.ndarray]:
    """Out-of-fold (n_windows, 41) scores per group (one per contract: own features, shared
    features, labels): each fold of contracts scored by a stacker fitted on the others."""
    from .rerank import fold_ids

    fold_of = fold_ids(len(groups), folds, seed)
    out: list[np.ndarray] = [np.zeros((0, K))] * len(groups)
    for f in range(folds):
        rest = [g for g, fold in zip(groups, fold_of) if fold != f]
        stacker = WindowStacker.fit(*(np.concatenate([g[i] for g in rest]) for i in range(3)), c=c)
        for i in np.flatnonzero(fold_of == f):
            out[i] = stacker.scores(groups[i][0], groups[i][1])
    return out
