"""Clause spans from the tagger's word probabilities: runs above a threshold, cut at sentence ends.

``decode_spans`` gives the runs at one threshold. ``SpanDecoder`` adds lower-confidence
candidates for recall: the runs at each of several lower thresholds too (n-best spans per
category, each scored by its mean word probability), optionally the uncut runs next to the
sentence pieces, and a per-category threshold.

Example:
    >>> import numpy as np
    >>> probs = np.array([[0.1], [0.9], [0.8], [0.2]])
    >>> decode_spans(probs)
    [[(1, 3, 0.8500000000000001), (0, 4, 0.3)]]
    >>> [(a, b, round(p, 2)) for a, b, p in SpanDecoder(levels=(0.15,), max_gap=2).decode(probs)[0]]
    [(1, 3, 0.85), (1, 4, 0.3)]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from deepseek_apps.errors import ErrorCode, InvalidInputError

Span = tuple[int, int, float]


def sentence_ends(words: list[str]) -> np.ndarray:
    """True for a word that ends a sentence: ``.``, ``;`` or ``:`` before a capital, digit or quote."""
    ends = np.zeros(len(words), dtype=bool)
    for i in range(len(words) - 1):
        nxt = words[i + 1][:1]
        ends[i] = words[i].endswith((".", ";", ":")) and (nxt.isupper() or nxt.isdigit() or nxt in '("“')
    return ends


def _runs(p: np.ndarray, threshold: float, max_gap: int) -> list[tuple[int, int]]:
    """(first, end) of the runs of ``p >= threshold``, joined over gaps of at most ``max_gap``."""
    on = np.flatnonzero(p >= threshold)
    if not on.size:
        return []
    breaks = np.flatnonzero(np.diff(on) > max_gap + 1)
    return [(int(on[f]), int(on[la]) + 1) for f, la in zip(np.r_[0, breaks + 1], np.r_[breaks, on.size - 1])]


def _pieces(p: np.ndarray, a: int, b: int, threshold: float, ends: np.ndarray | None) -> list[Span]:
    """The run ``a:b`` cut after each sentence end, pieces whose mean reaches ``threshold``."""
    cuts = [a, *(int(i) + 1 for i in np.flatnonzero(ends[a : b - 1]) + a), b] if ends is not None else [a, b]
    out = []
    for x, y in zip(cuts, cuts[1:]):
        confidence = float(p[x:y].mean())
        if confidence >= threshold:
            out.append((x, y, confidence))
    return out


def decode_spans(
    word_probs: np.ndarray,
    threshold: float = 0.3,
    max_gap: int = 10,
    ends: np.ndarray | None = None,
    levels: tuple[float, ...] = (0.1,),
) -> list[list[Span]]:
    """Per category, runs of words with probability >= ``threshold`` as (first, end, confidence),
    then the runs at each lower threshold in ``levels``; most confident first.

    Runs separated by at most ``max_gap`` words below the threshold are joined; with
    ``ends`` (``sentence_ends``) a run is cut after each sentence, since clauses are
    sentences, and pieces whose mean falls below the threshold are dropped. The confidence
    of a span is the mean probability of its words, at most the next higher threshold for
    a span first found at a lower one. ``SpanDecoder`` holds the same settings and more.
    """
    return SpanDecoder(threshold, levels, max_gap).decode(word_probs, ends=ends)


@dataclass(frozen=True)
class SpanDecoder:
    """Clause spans with lower-confidence candidates kept, so that recall can grow.

    Args:
        threshold: the word threshold of the first candidates: one value, or one per category.
        levels: lower thresholds whose runs are added as further candidates (n-best spans);
            () keeps the runs at ``threshold`` only.
        max_gap: words below a threshold that still join two runs.
        cut_sentences: cut runs after sentence ends (``sentence_ends``).
        keep_uncut: with ``cut_sentences``, also keep each run whole when it was cut.
        max_spans: at most this many spans per category, the most confident (None: all).

    A span found at several thresholds is kept once. A span's confidence is the mean
    probability of its words, at most the next higher threshold when it was first found at a
    lower one (so the runs at ``threshold`` rank first and a ``min_confidence`` at or above
    ``threshold`` shows them alone). The defaults were chosen on the seed-0 CUAD validation
    split (``benchmarks/contracts_recall.py``): candidates at 0.1 let span recall pass 80%.

    Example:
        >>> import numpy as np
        >>> probs = np.array([[0.6], [0.6], [0.1], [0.1], [0.1], [0.2]])
        >>> SpanDecoder(levels=(0.05,), max_gap=2, max_spans=1).decode(probs)
        [[(0, 2, 0.6)]]
    """

    threshold: float | tuple[float, ...] = 0.3
    levels: tuple[float, ...] = (0.1,)
    max_gap: int = 10
    cut_sentences: bool = True
    keep_uncut: bool = False
    max_spans: int | None = None

    def __post_init__(self) -> None:
        values = [*np.atleast_1d(np.asarray(self.threshold, dtype=float)), *self.levels]
        if (
            not all(0.0 < v <= 1.0 for v in values)
            or self.max_gap < 0
            or (self.max_spans is not None and self.max_spans < 1)
        ):
            raise InvalidInputError(
                ErrorCode.CONTRACT_BAD_OPTION,
                "span decoder settings out of range",
                value=str(self.to_dict()),
                hint="thresholds and levels in (0, 1], max_gap >= 0, max_spans >= 1 or None",
            )

    def thresholds(self, n_categories: int) -> np.ndarray:
        """The first threshold of each category, (n_categories,)."""
        t = np.asarray(self.threshold, dtype=float)
        if t.ndim == 0:
            return np.full(n_categories, float(t))
        if t.shape != (n_categories,):
            raise InvalidInputError(
                ErrorCode.CONTRACT_BAD_OPTION,
                "per-category thresholds do not match the categories",
                value=f"{t.shape[0]} thresholds for {n_categories} categories",
                hint="give one threshold, or one per category in CATEGORIES order",
            )
        return t

    def decode(
        self, word_probs: np.ndarray, words: list[str] | None = None, ends: np.ndarray | None = None
    ) -> list[list[Span]]:
        """Per category, the candidate spans (first, end, confidence), most confident first.

        The sentence ends come from ``words`` (``sentence_ends``) or ``ends``; without
        either, or without ``cut_sentences``, runs are not cut.
        """
        if ends is None and words is not None:
            ends = sentence_ends(words)
        ends = ends if self.cut_sentences else None
        out = []
        for c, first in enumerate(self.thresholds(word_probs.shape[1])):
            p = word_probs[:, c]
            found: dict[tuple[int, int], float] = {}
            cap = 1.0
            for t in sorted({first, *(v for v in self.levels if v < first)}, reverse=True):
                for a, b in _runs(p, t, self.max_gap):
                    pieces = _pieces(p, a, b, t, ends)
                    if self.keep_uncut and ends is not None and len(pieces) != 1:
                        pieces.append((a, b, float(p[a:b].mean())))
                    for x, y, confidence in pieces:
                        found.setdefault((x, y), min(confidence, cap))
                cap = float(t)
            spans = sorted(((a, b, q) for (a, b), q in found.items()), key=lambda s: -s[2])
            out.append(spans[: self.max_spans] if self.max_spans else spans)
        return out

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> SpanDecoder:
        """A decoder from ``to_dict`` output (lists become tuples)."""
        known = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def blend_window_scores(
    found: list[list[Span]], spans: list[tuple[int, int]], scores: np.ndarray, weight: float = 0.7
) -> list[list[Span]]:
    """Span confidences mixed with window scores: ``weight * mean word probability + (1 - weight)
    * the highest score (n_windows, n_categories) of a window overlapping the span``.

    With the lexical scorer's window scores (``ClauseRuntime.window_parts``) this ranks
    candidates in windows whose words speak of the category above those in windows that do
    not; most confident first again.

    Example:
        >>> blend_window_scores([[(0, 2, 0.5)]], [(0, 3), (3, 6)], np.array([[0.9], [0.1]]), 0.5)
        [[(0, 2, 0.7)]]
    """
    if not spans:
        return found
    starts, ends = np.array([a for a, _ in spans]), np.array([b for _, b in spans])
    out = []
    for k, category in enumerate(found):
        rescored = []
        for a, b, p in category:
            near = (starts < b) & (ends > a)
            window = float(scores[near, k].max()) if near.any() else 0.0
            rescored.append((a, b, weight * p + (1 - weight) * window))
        out.append(sorted(rescored, key=lambda s: -s[2]))
    return out
