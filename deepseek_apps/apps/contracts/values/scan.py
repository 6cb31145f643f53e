"""``finditer`` for large case-insensitive patterns, tried only where a match can start.

Python's ``re`` tries every branch of a pattern at every character of the text. The value
patterns (dates, money, percents, durations) have hundreds of branches (month names in seven
languages, number words, currency codes), and a 100-page contract has 300,000 characters:
scanning it was most of the rule stage. A ``Scanner`` pairs the pattern with an *anchor*, a
small case-sensitive pattern run on the folded (lower-cased) text that holds at every position
where the full pattern can begin a match, and calls ``pattern.match`` only there. It yields
exactly the matches of ``pattern.finditer`` (tests check this on generated text), about three
times faster on CUAD contracts.

Example:
    >>> import re
    >>> scanner = Scanner(re.compile(r"\\b(?:jan|feb)\\w* \\d+", re.IGNORECASE), re.compile(r"\\b(?=jan|feb)"))
    >>> [m.group(0) for m in scanner.finditer("Paid on JANUARY 5 and February 9.")]
    ['JANUARY 5', 'February 9']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

# letters that ``re.IGNORECASE`` matches to ASCII ones but ``str.lower`` keeps apart
_EXTRA_FOLDS = str.maketrans({"ı": "i", "ſ": "s"})


def fold(text: str) -> str:
    """``text`` lower-cased, position for position (the same length), for case-sensitive anchors."""
    folded = text.lower()
    if len(folded) != len(text):  # "İ" lowers to two characters; it is the only one that does
        folded = text.replace("İ", "i").lower()
    if "ı" in folded or "ſ" in folded:
        folded = folded.translate(_EXTRA_FOLDS)
    return folded


def words_regex(words: Iterable[str]) -> str:
    """A regex matching exactly the literal ``words``, their shared prefixes factored out
    ("jan", "jun", "jul" -> ``j(?:an|u(?:l|n))``): one character decides each step, where an
    alternation of the words tries them one by one."""
    trie: dict = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict) -> str:
        branches = [re.escape(char) + build(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return "(?:" + build(trie) + ")"


@dataclass(frozen=True)
class Scanner:
    """A pattern and its anchor.

    Attributes:
        pattern: the full pattern; it must not match the empty string.
        anchor: a case-sensitive pattern, zero-width (a lookahead) so that overlapping starts
            are all seen, that holds on ``fold(text)`` at least wherever ``pattern`` can start
            a match in ``text``. Positions it holds at where the pattern does not only cost time.
    """

    pattern: re.Pattern
    anchor: re.Pattern

    def finditer(self, text: str) -> Iterator[re.Match]:
        """The matches ``pattern.finditer(text)`` yields, left to right, without overlaps."""
        match_at = self.pattern.match
        position = 0
        for candidate in self.anchor.finditer(fold(text)):
            start = candidate.start()
            if start < position:
                continue
            match = match_at(text, start)
            if match is not None:
                yield match
                position = max(match.end(), start + 1)
