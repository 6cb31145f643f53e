"""Relations between extracted facts, by rules: who pays what to whom, roles, law, term/renewal/notice.

Example:
    >>> from deepseek_apps.apps.contracts.app import ContractParser
    >>> text = b'Acme Corp. (the "Licensor") and Beta LLC (the "Licensee"). Licensee shall pay Licensor $5,000.'
    >>> [(r.kind, r.subject, r.object) for r in ContractParser(clauses=False).analyze(text, filename="a.txt").relations if r.kind == "pays"]
    [('pays', 'Beta LLC', 'Acme Corp.')]
"""

from __future__ import annotations

import re

from .results import Evidence, Fact, Party, Relation

SENTENCE_REACH = 600  # characters looked back from an amount for its payment sentence
_PAY = re.compile(r"\b(?:shall|will|must|agrees?\s+to)\s+(?:promptly\s+)?(?:pay|reimburse|remit)\b", re.IGNORECASE)


def _mentions(parties: list[Party]) -> list[tuple[str, str]]:
    """(surface form, party name) for every name and role alias, longest first."""
    forms = [(p.name, p.name) for p in parties] + [(role, p.name) for p in parties for role in p.roles]
    return sorted(forms, key=lambda f: -len(f[0]))


def _find_party(text: str, forms: list[tuple[str, str]], last: bool) -> str | None:
    best, best_pos = None, -1 if last else len(text) + 1
    for form, name in forms:
        for match in re.finditer(rf"\b{re.escape(form)}\b", text):
            if (last and match.start() > best_pos) or (not last and match.start() < best_pos):
                best, best_pos = name, match.start()
    return best


def payments(text: str, parties: list[Party], money: list[Fact]) -> list[Relation]:
    """'<payer> shall pay <payee> ... <amount>' within one sentence."""
    forms = _mentions(parties)
    found = []
    for fact in money:
        start = fact.evidence.start
        reach = max(0, start - SENTENCE_REACH)  # bounded: a text without full stops must not cost O(n) per amount
        sentence_start = max(text.rfind(". ", reach, start), text.rfind("\n\n", reach, start), reach)
        sentence = text[sentence_start:start]
        verbs = list(_PAY.finditer(sentence))
        if not verbs:
            continue
        verb = verbs[-1]  # the payment verb nearest the amount
        payer = _find_party(sentence[: verb.start()], forms, last=True)
        payee = _find_party(sentence[verb.end() :], forms, last=False)
        if payer is None:
            continue
        evidence = Evidence(
            page=fact.evidence.page, start=sentence_start + verb.start(), end=fact.evidence.end,
            text=text[sentence_start + verb.start() : fact.evidence.end],
        )  # fmt: skip
        found.append(Relation(kind="pays", subject=payer, object=payee, value=fact.value, evidence=evidence))
    return found


def relations(text: str, parties: list[Party], facts: list[Fact]) -> list[Relation]:
    """Party roles, payments, governing law and the term / renewal / notice triple."""
    found = [
        Relation(kind="party_role", subject=p.name, object=role, evidence=p.evidence)
        for p in parties
        for role in p.roles
    ]
    found += payments(text, parties, [f for f in facts if f.label == "MONEY"])
    found += [
        Relation(kind="governed_by", subject="contract", object=f.value, evidence=f.evidence)
        for f in facts
        if f.label == "GOVERNING_LAW"
    ]
    durations = {
        kind: next((f for f in facts if f.label == "DURATION" and f.kind == kind), None)
        for kind in ("term", "renewal_term", "notice_period")
    }
    if durations["renewal_term"] is not None:
        evidence = (durations["term"] or durations["renewal_term"]).evidence
        value = {k: (f.value.model_dump(exclude_none=True) if f else None) for k, f in durations.items()}
        found.append(
            Relation(kind="term_renewal_notice", subject="contract", object=None, value=value, evidence=evidence)
        )
    return found
