"""Parties with role aliases from the preamble, and defined terms, by rules.

A party is a capitalised name ending in an entity suffix from the glossary ("Acme Robotics,
Inc.") or the name standing right before a quoted alias in parentheses; its roles are the
quoted aliases that follow it before the next party ('(the "Company")', '("Licensor")').

Example:
    >>> from deepseek_apps.apps.contracts.parties import find_parties
    >>> text = 'This Agreement is made between Acme Corp., a Delaware corporation (the "Company"), and Bob Lee ("Consultant").'
    >>> [(p.name, p.roles) for p in find_parties(text, ["Corp"])]
    [('Acme Corp.', ['Company']), ('Bob Lee', ['Consultant'])]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PREAMBLE_CHARS = 5000
_PREAMBLE_END = re.compile(
    r"\b(?:WHEREAS|RECITALS|NOW,?\s+THEREFORE|BACKGROUND)\b|\n\s*(?:1\.|ARTICLE\s+1|Section\s+1)\s"
)
_ALIAS = re.compile(
    r"\(\s*(?:(?:the|a|an|each|collectively|individually|together|jointly|hereinafter|herein|referred|to|as|"
    r"called|and|or|its|any|successors|assigns|,)\s*)*[\"“”']{1,2}([^\"“”'()]{1,60}?)[\"“”']{1,2}",
    re.IGNORECASE,
)
_NOT_ROLES = {"agreement", "effective date", "parties", "party", "this agreement", "term", "territory"}
_LEAD_WORDS = re.compile(
    r"^(?:(?:and|by|between|among|amongst|the|this|that|with|of|made|entered|into|is|by\s+and|agreement|"
    r"effective|as|on|dated|from|for|to|each|a|an)\b[\s,]*)+",
    re.IGNORECASE,
)


@dataclass
class PartyMatch:
    """A party name, its span in the text, and the aliases the contract gives it."""

    name: str
    start: int
    end: int
    roles: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DefinitionMatch:
    term: str
    definition: str
    start: int
    end: int


def preamble(text: str) -> str:
    """The opening of the contract, up to the recitals or the first numbered section."""
    head = text[:PREAMBLE_CHARS]
    end = _PREAMBLE_END.search(head, 80)
    return head[: end.start()] if end else head


def _entity_pattern(suffixes: list[str]) -> re.Pattern:
    alternatives = "|".join(sorted((re.escape(s) for s in set(suffixes)), key=len, reverse=True))
    word = r"(?>[A-Z0-9][\w&'’\.\-/]*+|&|of|and|de|du|la|the)"
    gap = r"(?>[ \t]++(?:\n[ \t]*+)?|\n[ \t]*+)"  # spaces, or one line break (names wrap); atomic: no backtracking
    return re.compile(rf"(?<![\w])(?:{word}{gap}){{0,7}}?{word}(?:,?{gap}(?i:{alternatives})\b\.?)+")


def find_parties(text: str, suffixes: list[str], places: list[str] = ()) -> list[PartyMatch]:
    """Parties named in the preamble of ``text`` (offsets are into ``text``).

    ``places`` (known jurisdictions) keep "a Delaware Corporation" or "Munich" from being
    taken for a party name.
    """
    head = preamble(text)
    aliases = [(m.start(), m.end(), " ".join(m[1].split()).strip(" ,.")) for m in _ALIAS.finditer(head)]
    aliases = [a for a in aliases if a[2].lower() not in _NOT_ROLES and "agreement" not in a[2].lower()]
    place_words = {w.lower() for p in places for w in p.split()} | {w.lower().rstrip(".") for w in suffixes}
    names = [
        n
        for n in _entity_names(head, suffixes)
        if not any(s <= n.start < e for s, e, _ in aliases) and not _is_place(n.name, place_words)
    ]
    previous_alias_end = 0
    for start, end, _ in aliases:  # a name without suffix right before an alias: 'Bob Lee ("Consultant")'
        if not any(previous_alias_end <= n.start and n.end <= start and start - n.end < 250 for n in names):
            bare = _name_before(head, start)
            seen_aliases = {a.lower() for s, _, a in aliases if s < start}
            if (
                bare
                and bare.start >= previous_alias_end
                and not _is_place(bare.name, place_words)
                and not {w.strip(",.").lower() for w in bare.name.split()} & seen_aliases
            ):
                names.append(bare)
        previous_alias_end = end
    names.sort(key=lambda n: n.start)
    for start, _, alias in aliases:
        owner = [n for n in names if n.end <= start and start - n.end < 250]
        if owner and alias not in owner[-1].roles and alias.lower() != owner[-1].name.lower():
            owner[-1].roles.append(alias)
    return names


_NOT_NAME_START = re.compile(r"^(?:section|article|exhibit|schedule|annex|appendix)\b", re.IGNORECASE)
_TITLE_CUT = re.compile(
    r"^.*\b(?:agreement|between|among|copy|amendment|with|filed|confidential|treatment|whereof|witness|signatory|"
    r"to|would|the|by|name|title)\b[\s,:]*",
    re.IGNORECASE | re.DOTALL,
)


def _is_place(name: str, place_words: set[str]) -> bool:
    words = [w.strip(",.").lower() for w in name.split()]
    return all(w in place_words or w in ("a", "an", "the", "of") for w in words)


def _entity_names(head: str, suffixes: list[str]) -> list[PartyMatch]:
    found: list[PartyMatch] = []
    for match in _entity_pattern(suffixes).finditer(head):
        raw = match.group(0)
        title = _TITLE_CUT.match(raw)  # "SUPPLY AGREEMENT FERRER INTERNACIONAL, S.A." -> the name only
        offset = title.end() if title else 0
        lead = _LEAD_WORDS.match(raw[offset:])
        offset += lead.end() if lead else 0
        span = raw[offset:].strip(" ,\n\t")
        name = " ".join(span.split())
        if len(name) < 3 or not name[0].isupper() or name.split()[0].rstrip(",.") in suffixes:
            continue
        if _NOT_NAME_START.match(name) or re.search(r"\bthe\s+Company$", name):
            continue
        start = match.start() + raw.index(span, offset)
        if any(n.name.lower() == name.lower() for n in found):
            continue
        found.append(PartyMatch(name=name, start=start, end=start + len(span)))
    return found


def _name_before(head: str, alias_start: int) -> PartyMatch | None:
    window_start = max(0, alias_start - 120)
    window = head[window_start:alias_start]
    cut = max(window.rfind(sep) for sep in (" between ", " and ", " among ", ",", "\n", ";", ")"))
    segment = window[cut + 1 :] if cut >= 0 else window
    segment = _LEAD_WORDS.sub("", segment.strip(" ,")).strip(" ,")
    words = segment.split()
    while words and words[-1].islower():  # "NIGEL CROCKETT of" -> "NIGEL CROCKETT"
        words.pop()
    if not (1 <= len(words) <= 6) or not all(w[0].isupper() or w in ("of", "&") for w in words):
        return None
    segment = " ".join(words) if " ".join(words) in segment else segment
    start = window_start + window.rindex(segment)
    return PartyMatch(name=segment, start=start, end=start + len(segment))


_DEFINITION = re.compile(
    r"[\"“]([A-Z][^\"”\n]{1,60})[\"”]\s+(?:shall\s+mean|means|has\s+the\s+meaning|refers\s+to)\s+([^\n]{3,400}?)(?:\.\s|\.$|\n|$)"
)


def find_definitions(text: str) -> list[DefinitionMatch]:
    """Defined terms: '"X" means ...', '"X" shall mean ...'."""
    return [DefinitionMatch(m[1].strip(), m[2].strip(), m.start(), m.end()) for m in _DEFINITION.finditer(text)]
