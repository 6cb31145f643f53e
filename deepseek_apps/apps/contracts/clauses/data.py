"""CUAD clause labels as character spans, word labels and 60-word windows.

CUAD's ``labels.csv`` holds, per contract and category, the list of clause strings but no
offsets. A clause string may skip text (``<omitted>``); split on it, every piece is found in
the contract text by whitespace-insensitive matching, searching forward from the previous
piece of the same clause (the first occurrence otherwise).

Windows are ``size`` words long with ``size - stride`` words of overlap; a window is positive
for a category when it overlaps one of that category's spans (the labelling the issue's
baselines were measured with).

Example:
    >>> text = "This  Agreement is governed by\\nthe laws of Ohio. Notices go by mail."
    >>> [text[a:b] for a, b in locate(text, ["governed by the laws <omitted> Ohio"])]
    ['governed by\\nthe laws', 'Ohio']
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CATEGORIES = (
    "Document Name", "Parties", "Agreement Date", "Effective Date", "Expiration Date", "Renewal Term",
    "Notice Period To Terminate Renewal", "Governing Law", "Most Favored Nation",
    "Competitive Restriction Exception", "Non-Compete", "Exclusivity", "No-Solicit Of Customers",
    "No-Solicit Of Employees", "Non-Disparagement", "Termination For Convenience", "Rofr/Rofo/Rofn",
    "Change Of Control", "Anti-Assignment", "Revenue/Profit Sharing", "Price Restrictions",
    "Minimum Commitment", "Volume Restriction", "Ip Ownership Assignment", "Joint Ip Ownership",
    "License Grant", "Non-Transferable License", "Affiliate License-Licensor", "Affiliate License-Licensee",
    "Unlimited/All-You-Can-Eat-License", "Irrevocable Or Perpetual License", "Source Code Escrow",
    "Post-Termination Services", "Audit Rights", "Uncapped Liability", "Cap On Liability",
    "Liquidated Damages", "Warranty Duration", "Insurance", "Covenant Not To Sue", "Third Party Beneficiary",
)  # fmt: skip
_WORD = re.compile(r"\S+")
_SPACE = re.compile(r"\s+")


def _collapse(text: str) -> tuple[str, list[int]]:
    """``text`` with whitespace runs as one space, and the original index of each character."""
    out, index, last = [], [], 0
    for match in _SPACE.finditer(text):
        out.append(text[last : match.start()])
        index.extend(range(last, match.start()))
        out.append(" ")
        index.append(match.start())
        last = match.end()
    out.append(text[last:])
    index.extend(range(last, len(text)))
    return "".join(out), index


def locate(text: str, clauses: list[str], collapsed: tuple[str, list[int]] | None = None) -> list[tuple[int, int]]:
    """Character spans of the clause strings in ``text`` (pieces that are not found are skipped)."""
    flat, index = collapsed or _collapse(text)
    spans = []
    for clause in clauses:
        cursor = 0
        for piece in clause.split("<omitted>"):
            piece = _SPACE.sub(" ", piece).strip()
            if not piece:
                continue
            at = flat.find(piece, cursor)
            if at < 0:
                at = flat.find(piece)
            if at < 0:
                continue
            end = at + len(piece)
            spans.append((index[at], index[end - 1] + 1))
            cursor = end
    return spans


def words(text: str) -> tuple[list[str], np.ndarray]:
    """The whitespace-separated words of ``text`` and their (start, end) character offsets."""
    found = list(_WORD.finditer(text))
    offsets = np.array([(m.start(), m.end()) for m in found], dtype=np.int64).reshape(-1, 2)
    return [m.group() for m in found], offsets


def word_labels(offsets: np.ndarray, spans: list[list[tuple[int, int]]]) -> np.ndarray:
    """(n_words, n_categories) uint8: word overlaps a span of that category."""
    labels = np.zeros((len(offsets), len(spans)), dtype=np.uint8)
    starts, ends = offsets[:, 0], offsets[:, 1]
    for c, category_spans in enumerate(spans):
        for start, end in category_spans:
            labels[(starts < end) & (ends > start), c] = 1
    return labels


def windows(n_words: int, size: int = 60, stride: int = 45) -> list[tuple[int, int]]:
    """(first word, end word) of overlapping windows covering ``n_words`` words."""
    if n_words <= size:
        return [(0, n_words)] if n_words else []
    starts = list(range(0, n_words - size + 1, stride))
    if starts[-1] + size < n_words:
        starts.append(n_words - size)
    return [(s, s + size) for s in starts]


@dataclass
class LabelledContract:
    """One contract: its text, words with offsets, per-category clause strings, spans and word labels."""

    name: str
    text: str
    words: list[str]
    offsets: np.ndarray
    clauses: list[list[str]]
    spans: list[list[tuple[int, int]]]
    labels: np.ndarray

    def window_labels(self, size: int = 60, stride: int = 45) -> tuple[list[tuple[int, int]], np.ndarray]:
        """Windows and their (n_windows, n_categories) labels (any labelled word inside)."""
        spans = windows(len(self.words), size, stride)
        labels = np.stack([self.labels[a:b].max(axis=0) for a, b in spans]) if spans else np.zeros((0, 41))
        return spans, labels.astype(np.uint8)


def window_texts(contracts: list[LabelledContract], size: int = 60, stride: int = 45) -> tuple[list[str], np.ndarray]:
    """The text of every window of ``contracts`` and their (n_windows, n_categories) labels."""
    texts, labels = [], []
    for contract in contracts:
        spans, window_labels = contract.window_labels(size, stride)
        texts += [" ".join(contract.words[a:b]) for a, b in spans]
        labels.append(window_labels)
    return texts, np.concatenate(labels) if labels else np.zeros((0, len(CATEGORIES)), dtype=np.uint8)


def load_labelled(data: str | Path, names: list[str] | None = None) -> list[LabelledContract]:
    """Contracts of a CUAD-layout folder with their clause spans (``names``: a subset of ``Text File``)."""
    from ..evaluate import load_labels, parse_list

    table, folder = load_labels(data)
    if names is not None:
        table = table[table["Text File"].isin(set(names))]
    contracts = []
    for _, row in table.iterrows():
        text = (folder / row["Text File"]).read_text(encoding="utf-8", errors="replace")
        collapsed = _collapse(text)
        clauses = [parse_list(row.get(c)) for c in CATEGORIES]
        spans = [locate(text, strings, collapsed) for strings in clauses]
        tokens, offsets = words(text)
        labels = word_labels(offsets, spans)
        contracts.append(LabelledContract(row["Text File"], text, tokens, offsets, clauses, spans, labels))
    return contracts


def write_cuad_layout(contracts: list, folder: str | Path) -> Path:
    """Write synthetic contracts (``SyntheticContract``) as a CUAD-layout folder.

    ``labels.csv`` gets one row per contract with the clause strings of every category the
    generator knows exactly (parties, dates, governing law, renewal / notice terms and its
    CUAD clauses); ``contracts/<title>.txt`` holds the text. This is the layout
    ``deepseek-apps contracts train --data`` reads.
    """
    import pandas as pd

    kinds = {
        "PARTY": "Parties",
        "ROLE": "Parties",
        "AGREEMENT_DATE": "Agreement Date",
        "EFFECTIVE_DATE": "Effective Date",
        "EXPIRATION_DATE": "Expiration Date",
        "GOVERNING_LAW": "Governing Law",
        "RENEWAL_TERM": "Renewal Term",
        "NOTICE_PERIOD": "Notice Period To Terminate Renewal",
    }
    folder = Path(folder)
    (folder / "contracts").mkdir(parents=True, exist_ok=True)
    rows = []
    for i, contract in enumerate(contracts):
        name = f"synthetic_{i:04d}.txt"
        (folder / "contracts" / name).write_text(contract.text, encoding="utf-8")
        cells: dict[str, list[str]] = {c: [] for c in CATEGORIES}
        for fact in contract.facts:
            category = fact.value if fact.label == "CLAUSE" else kinds.get(fact.label)
            if category in cells and fact.text not in cells[category]:
                cells[category].append(fact.text)
        rows.append({"Text File": name, "Filename": name, **{c: repr(v) for c, v in cells.items()}})
    pd.DataFrame(rows).to_csv(folder / "labels.csv", index=False)
    return folder
