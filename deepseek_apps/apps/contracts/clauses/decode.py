"""Clause spans from the tagger's word probabilities: runs above a threshold, cut at sentence ends.

Example:
    >>> import numpy as np
    >>> probs = np.array([[0.1], [0.9], [0.8], [0.2]])
    >>> decode_spans(probs)
    [[(1, 3, 0.8500000000000001)]]
"""

from __future__ import annotations

import numpy as np


def sentence_ends(words: list[str]) -> np.ndarray:
    """True for a word that ends a sentence: ``.``, ``;`` or ``:`` before a capital, digit or quote."""
    ends = np.zeros(len(words), dtype=bool)
    for i in range(len(words) - 1):
        nxt = words[i + 1][:1]
        ends[i] = words[i].endswith((".", ";", ":")) and (nxt.isupper() or nxt.isdigit() or nxt in '("“')
    return ends


def decode_spans(
    word_probs: np.ndarray, threshold: float = 0.3, max_gap: int = 2, ends: np.ndarray | None = None
) -> list[list[tuple[int, int, float]]]:
    """Per category, runs of words with probability >= ``threshold`` as (first, end, confidence).

    Runs separated by at most ``max_gap`` words below the threshold are joined; with
    ``ends`` (``sentence_ends``) a run is cut after each sentence, since clauses are
    sentences, and pieces whose mean falls below the threshold are dropped. The confidence
    of a span is the mean probability of its words.
    """
    out = []
    for c in range(word_probs.shape[1]):
        p = word_probs[:, c]
        on = np.flatnonzero(p >= threshold)
        spans: list[tuple[int, int, float]] = []
        if on.size:
            breaks = np.flatnonzero(np.diff(on) > max_gap + 1)
            for first, last in zip(np.r_[0, breaks + 1], np.r_[breaks, on.size - 1]):
                a, b = int(on[first]), int(on[last]) + 1
                cuts = (
                    [a, *(int(i) + 1 for i in np.flatnonzero(ends[a : b - 1]) + a), b] if ends is not None else [a, b]
                )
                for x, y in zip(cuts, cuts[1:]):
                    confidence = float(p[x:y].mean())
                    if confidence >= threshold:
                        spans.append((x, y, confidence))
        out.append(spans)
    return out
