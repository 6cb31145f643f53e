"""The legal terms database: cue words, entity suffixes, currencies, legal terms -> categories.

The default ships in ``deepseek_apps/assets/contracts/legal_terms.json``; a user file with
the same keys extends it (lists appended, mappings updated), so new synonyms are matched and
categorised without code changes.

Example:
    >>> from deepseek_apps.apps.contracts.glossary import load_legal_terms
    >>> terms = load_legal_terms()
    >>> "renew" in terms.duration_cues["renewal_term"]
    True
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from deepseek_apps.errors import ErrorCode, MissingResourceError, ModelFormatError

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "assets" / "contracts" / "legal_terms.json"
_LIST_KEYS = ("entity_suffixes", "jurisdictions")
_CUE_KEYS = ("date_cues", "duration_cues")


@dataclass
class LegalTerms:
    """The merged glossary the rules read."""

    date_cues: dict[str, list[str]] = field(default_factory=dict)
    duration_cues: dict[str, list[str]] = field(default_factory=dict)
    entity_suffixes: list[str] = field(default_factory=list)
    jurisdictions: list[str] = field(default_factory=list)
    currencies: dict[str, str] = field(default_factory=dict)
    terms: list[dict] = field(default_factory=list)

    def synonyms(self) -> list[tuple[str, str]]:
        """(phrase, category) for every term and synonym, longest phrase first."""
        pairs = [(t["term"], t["category"]) for t in self.terms]
        pairs += [(s, t["category"]) for t in self.terms for s in t.get("synonyms", [])]
        return sorted({(p.lower(), c) for p, c in pairs if p}, key=lambda pc: -len(pc[0]))

    def to_dict(self) -> dict:
        return asdict(self)


def _read(path: Path) -> dict:
    if not path.is_file():
        raise MissingResourceError(
            ErrorCode.FILE_NOT_FOUND, "legal terms database not found", value=str(path), hint="check the path"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFormatError(
            ErrorCode.CONTRACT_LEGAL_TERMS_INVALID, f"legal terms database is not valid JSON ({exc})", value=str(path)
        ) from exc
    _validate(data, path)
    return data


def _validate(data, path: Path) -> None:
    problem = None
    if not isinstance(data, dict):
        problem = "the top level must be an object"
    elif not all(isinstance(data.get(k, {}), dict) for k in (*_CUE_KEYS, "currencies")):
        problem = "date_cues, duration_cues and currencies must be objects"
    elif not isinstance(data.get("terms", []), list) or not all(
        isinstance(t, dict) and isinstance(t.get("term"), str) and isinstance(t.get("category"), str)
        for t in data.get("terms", [])
    ):
        problem = "terms must be a list of {'term': str, 'category': str, 'synonyms': [str]}"
    if problem:
        raise ModelFormatError(
            ErrorCode.CONTRACT_LEGAL_TERMS_INVALID,
            f"legal terms database has the wrong shape: {problem}",
            value=str(path),
            hint=f"follow the layout of {DEFAULT_PATH.name} shipped in the package",
        )


def load_legal_terms(path: str | Path | None = None, base: dict | None = None) -> LegalTerms:
    """The default glossary (or ``base``, e.g. the one an exported bundle carries), extended by
    the user's file at ``path`` when given."""
    if base is not None:
        _validate(base, Path("<bundle>/legal_terms.json"))
    merged = json.loads(json.dumps(base)) if base is not None else _read(DEFAULT_PATH)
    if path is not None:
        extra = _read(Path(path))
        for key in _CUE_KEYS:
            for kind, cues in extra.get(key, {}).items():
                merged.setdefault(key, {}).setdefault(kind, []).extend(cues)
        for key in _LIST_KEYS:
            merged.setdefault(key, []).extend(extra.get(key, []))
        merged.setdefault("currencies", {}).update(extra.get("currencies", {}))
        merged.setdefault("terms", []).extend(extra.get("terms", []))
    return LegalTerms(
        **{
            k: merged.get(k, LegalTerms.__dataclass_fields__[k].default_factory())
            for k in LegalTerms.__dataclass_fields__
        }
    )
