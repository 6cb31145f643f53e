"""``make demo`` / ``deepseek-apps contracts demo``: generated contracts in three formats, analysed.

Writes a few seeded synthetic contracts as a text PDF, a Word file and a scanned image-only
PDF (read by OCR; skipped when Tesseract is not installed), analyses them with the resumable
batch job into ``contracts_analysis.jsonl``, prints what was found per file and checks it
against the generator's exact ground truth.

python -m deepseek_apps.apps.contracts.demo --out demo_out
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

from deepseek_apps.core.runtime.jsonl import read_records
from deepseek_apps.errors import MissingResourceError

from .app import ContractParser
from .batch import analyze_files
from .results import ContractAnalysis
from .synthetic import SyntheticContract, generate_contract

FORMATS = ("pdf", "docx", "scan")
SEEDS = {"pdf": 11, "docx": 12, "scan": 13}
DURATION_KINDS = {"TERM": "term", "RENEWAL_TERM": "renewal_term", "NOTICE_PERIOD": "notice_period"}
DATE_KINDS = {"AGREEMENT_DATE": "agreement", "EFFECTIVE_DATE": "effective", "EXPIRATION_DATE": "expiration"}


def write_samples(folder: Path, formats: tuple[str, ...] = FORMATS) -> dict[Path, SyntheticContract]:
    """One generated contract per format under ``folder``; returns path -> its ground truth."""
    from .synthetic.render import render_docx, render_pdf, render_scan

    folder.mkdir(parents=True, exist_ok=True)
    samples = {}
    for fmt in formats:
        contract = generate_contract(seed=SEEDS[fmt])
        if fmt == "pdf":
            path, data = folder / "contract_text.pdf", render_pdf(contract)
        elif fmt == "docx":
            path, data = folder / "contract.docx", render_docx(contract)
        else:
            path, data = folder / "contract_scan.pdf", render_scan(contract, seed=SEEDS[fmt])
        path.write_bytes(data)
        samples[path.resolve()] = contract
    return samples


def _words(name: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", name.lower()).split())


def _dump(value):
    return value.model_dump(exclude_none=True) if hasattr(value, "model_dump") else value


def truth_check(analysis: ContractAnalysis, contract: SyntheticContract) -> list[tuple[str, str, bool]]:
    """Each true fact of ``contract`` as (label, true value, found by ``analysis``).

    Clauses are checked only when the clause model ran (``analysis.stage == "rules+model"``).
    """
    parties = {_words(p.name): {r.lower() for r in p.roles} for p in analysis.parties}
    checks = []
    for fact in contract.facts:
        label, value = fact.label, fact.value
        if label == "PARTY":
            checks.append((label, value["name"], _words(value["name"]) in parties))
        elif label == "ROLE":
            roles = parties.get(_words(value["name"]), set())
            checks.append((label, f"{value['name']} = {value['role']}", value["role"].lower() in roles))
        elif label in DATE_KINDS:
            checks.append((label, value, getattr(analysis.dates, DATE_KINDS[label]) == value))
        elif label == "MONEY":
            found = any(_dump(f.value) == value for f in analysis.facts_of("MONEY"))
            checks.append((label, f"{value['currency']} {value['amount']:,.2f}", found))
        elif label == "PERCENT":
            checks.append((label, f"{value:g}%", any(f.value == value for f in analysis.facts_of("PERCENT"))))
        elif label in DURATION_KINDS:
            found = any(_dump(f.value) == value for f in analysis.facts_of("DURATION", DURATION_KINDS[label]))
            checks.append((label, f"{value['value']} {value['unit']}(s)", found))
        elif label == "GOVERNING_LAW":
            checks.append((label, value, value in analysis.governing_law))
        elif label == "CLAUSE" and analysis.stage == "rules+model":
            checks.append((label, value, value in {c.category for c in analysis.clauses}))
    return checks


def describe(analysis: ContractAnalysis) -> list[tuple[str, str]]:
    """A compact (field, value) view of one analysis."""
    doc = analysis.document
    money = [f.value for f in analysis.facts_of("MONEY") if hasattr(f.value, "currency")]
    top = Counter(c.category for c in analysis.clauses).most_common(3)
    clauses = (
        f"{len(analysis.clauses)}" + (f" (top: {', '.join(f'{c} x{n}' for c, n in top)})" if top else "")
        if analysis.stage == "rules+model"
        else "not run (rules stage)"
    )
    return [
        ("document", f"{doc.kind}, {doc.n_pages} page(s), {doc.ocr_pages} by OCR, {analysis.elapsed_ms:.0f} ms"),
        ("parties", "; ".join(f"{p.name} ({', '.join(p.roles) or '-'})" for p in analysis.parties) or "-"),
        ("dates", ", ".join(f"{k} {v}" for k, v in analysis.dates.model_dump().items() if v) or "-"),
        ("governing law", "; ".join(analysis.governing_law) or "-"),
        ("amounts", "; ".join(f"{m.currency} {m.amount:,.2f}" for m in money) or "-"),
        ("clauses", clauses),
    ]


def demo_parser(clauses: bool | None = None, model_path: str | Path | None = None) -> ContractParser:
    """The demo's parser: with the clause model when asked, or when ``None`` and the model loads."""
    if clauses is False:
        return ContractParser(clauses=False)
    parser = ContractParser(model_path=model_path, clauses=True)
    try:
        parser.tagger()
    except MissingResourceError as exc:
        if clauses:
            raise
        print(f"clause model not available ({exc.message}: {exc.value}); showing the rule-based stage only")
        return ContractParser(clauses=False)
    return parser


def run_demo(
    out: str | Path = "demo_out",
    formats: tuple[str, ...] = FORMATS,
    clauses: bool | None = None,
    progress: bool = True,
    model_path: str | Path | None = None,
) -> dict:
    """Generate, analyse and check the samples; prints the report and returns the per-file scores.

    Args:
        out: folder for the generated files and ``contracts_analysis.jsonl``.
        formats: a subset of ("pdf", "docx", "scan").
        clauses: True / False to run the clause model or not; None: when it can be loaded.
        model_path: clause model folder or bundle (default: the shipped one).
        progress: show the batch progress bar.
    """
    from .reading.ocr import tesseract_available

    out = Path(out)
    parser = demo_parser(clauses, model_path)
    if "scan" in formats and not tesseract_available():
        print("Tesseract is not installed: the scanned PDF is skipped (apt-get install tesseract-ocr)")
        formats = tuple(f for f in formats if f != "scan")
    samples = write_samples(out / "contracts", formats)
    jsonl = out / "contracts_analysis.jsonl"
    jsonl.unlink(missing_ok=True)  # the demo shows a fresh run, not a resumed one
    summary = analyze_files(parser, list(samples), jsonl, progress=progress)
    records = read_records(jsonl, key="file")
    scores = {}
    for path, contract in samples.items():
        record = records[str(path)]
        print(f"\n== {path.name}")
        if not record["ok"]:
            print(f"   error {record['error']['code']}: {record['error']['message']}")
            continue
        analysis = ContractAnalysis.model_validate(record["analysis"])
        for field, value in describe(analysis):
            print(f"   {field:<14} {value}")
        checks = truth_check(analysis, contract)
        scores[path.name] = {"found": sum(found for *_, found in checks), "true": len(checks)}
        print(f"   {'ground truth':<14} {scores[path.name]['found']}/{len(checks)} true facts found")
        for label, value, found in checks:
            if not found:
                print(f"   {'':<14} missed {label}: {value}")
    print()
    print(_table(records, samples, scores))
    print(f"\n{summary.line(jsonl)}")
    return scores


def _table(records: dict, samples: dict, scores: dict) -> str:
    rows = [("file", "kind", "pages", "OCR", "true facts found", "clauses")]
    for path in samples:
        record = records[str(path)]
        if not record["ok"]:
            rows.append((path.name, "-", "-", "-", f"error {record['error']['code']}", "-"))
            continue
        doc, score = record["analysis"]["document"], scores[path.name]
        clauses = len(record["analysis"]["clauses"]) if record["analysis"]["stage"] == "rules+model" else "-"
        rows.append(
            (path.name, doc["kind"], doc["n_pages"], doc["ocr_pages"], f"{score['found']}/{score['true']}", clauses)
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(f"{v!s:<{w}}" for v, w in zip(row, widths)).rstrip() for row in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("demo_out"))
    parser.add_argument("--formats", default=",".join(FORMATS), help="comma-separated subset of pdf,docx,scan")
    parser.add_argument("--no-clauses", action="store_true", help="rules only (default: clauses when a model exists)")
    parser.add_argument(
        "--model", "--clause-model", dest="model", default=None,
        help="clause model folder or bundle (default: the shipped one; --clause-model is the old name)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    clauses = False if args.no_clauses else None
    scores = run_demo(args.out, parse_formats(args.formats), clauses=clauses, model_path=args.model)
    return 0 if scores else 1


def parse_formats(text: str) -> tuple[str, ...]:
    """``"pdf,docx"`` -> ("pdf", "docx"); an unknown format raises ``InvalidInputError``."""
    from deepseek_apps.errors import ErrorCode, InvalidInputError

    formats = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT, "unknown demo format", value=text, hint=f"use some of {','.join(FORMATS)}"
        )
    return formats


if __name__ == "__main__":
    raise SystemExit(main())
