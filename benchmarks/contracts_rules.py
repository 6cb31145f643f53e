"""ContractParser rule stage: field P/R/F1 on CUAD and reading speed on generated PDFs.

Quality: the CUAD contracts (``.txt``) of a fixed seeded 20% validation split by contract
(seed 0, ``evaluate.split_contracts``), scored field by field (``evaluate.score_fields``); the
other 80% are scored too, as a check that the rules are not fitted to the validation part.
Speed: generated multi-page text PDFs read with our pypdfium2 reader vs pdfplumber's text
extraction in the same run, end-to-end ``analyze`` pages/s, and OCR pages/s on a scan.

    python benchmarks/contracts_rules.py [--data ../shared/data/cuad] [--out bench_out] [--ocr-pages 2]
"""

from __future__ import annotations

import argparse
import io
import json
import time
from datetime import date
from pathlib import Path

from deepseek_apps.apps.contracts.app import ContractParser
from deepseek_apps.apps.contracts.evaluate import load_labels, score_fields, split_contracts
from deepseek_apps.apps.contracts.synthetic import generate_contracts
from deepseek_apps.apps.contracts.synthetic.render import render_pdf, render_scan
from deepseek_apps.core.bench import cpu_info

ROOT = Path(__file__).resolve().parents[1]


def quality(data: Path) -> dict:
    labels, folder = load_labels(data)
    rows = {r["Text File"]: r for r in labels.to_dict("records")}
    train, val = split_contracts(sorted(rows), fraction=0.2, seed=0)
    parser = ContractParser(clauses=False)
    out = {}
    for split, names in (("validation", val), ("train-part", train)):
        started = time.perf_counter()
        pairs = [(parser.analyze(folder / name), rows[name]) for name in names]
        out[split] = {"contracts": len(names), "seconds": round(time.perf_counter() - started, 2)}
        out[split]["fields"] = score_fields(pairs)
    return out


def speed(n_docs: int, ocr_pages: int) -> dict:
    import pdfplumber

    pdfs = [render_pdf(c) for c in generate_contracts(n_docs, seed=100)]
    reader = ContractParser(ocr="never", clauses=False)
    started = time.perf_counter()
    pages = sum(len(reader.read(pdf, filename="x.pdf").pages) for pdf in pdfs)
    ours = time.perf_counter() - started
    started = time.perf_counter()
    for pdf in pdfs:
        reader.analyze(pdf, filename="x.pdf")
    end_to_end = time.perf_counter() - started
    sample = pdfs[: max(2, n_docs // 10)]  # pdfplumber is slow: a tenth of the documents
    started = time.perf_counter()
    plumber_pages = 0
    for pdf in sample:
        with pdfplumber.open(io.BytesIO(pdf)) as doc:
            plumber_pages += sum(1 for page in doc.pages if page.extract_text() is not None)
    plumber = time.perf_counter() - started
    result = {
        "documents": n_docs,
        "pages": pages,
        "read_pypdfium2_pages_per_s": round(pages / ours, 1),
        "analyze_end_to_end_pages_per_s": round(pages / end_to_end, 1),
        "read_pdfplumber_pages_per_s": round(plumber_pages / plumber, 1),
        "pdfplumber_pages": plumber_pages,
    }
    result["ratio_pypdfium2_vs_pdfplumber"] = round(
        result["read_pypdfium2_pages_per_s"] / result["read_pdfplumber_pages_per_s"], 1
    )
    if ocr_pages:
        scan = render_scan(generate_contracts(1, seed=7)[0], pages=list(range(ocr_pages)), seed=7)
        started = time.perf_counter()
        doc = ContractParser(ocr_workers=2, clauses=False).read(scan, filename="scan.pdf")
        result["ocr_pages"] = len(doc.pages)
        result["ocr_pages_per_s_2_workers"] = round(len(doc.pages) / (time.perf_counter() - started), 2)
    return result


def markdown(report: dict) -> str:
    lines = [f"Contract rules, {report['date']}, CPU: {report['cpu'].get('model', '?')}", ""]
    for split, block in report.get("quality", {}).items():
        lines += [
            f"{split} ({block['contracts']} contracts)",
            "",
            "| field | precision | recall | F1 |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {f} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} |" for f, s in block["fields"].items()
        ]
        lines.append("")
    s = report["speed"]
    lines += ["| reading | pages/s |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in s.items() if "per_s" in k or k.startswith("ratio")]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "cuad")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_out")
    parser.add_argument("--docs", type=int, default=40, help="generated PDFs for the speed part")
    parser.add_argument("--ocr-pages", type=int, default=2)
    parser.add_argument("--no-quality", action="store_true")
    args = parser.parse_args(argv)
    report = {"date": date.today().isoformat(), "cpu": cpu_info()}
    if not args.no_quality:
        report["quality"] = quality(args.data)
    report["speed"] = speed(args.docs, args.ocr_pages)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "contracts_rules.json").write_text(json.dumps(report, indent=2))
    (args.out / "contracts_rules.md").write_text(markdown(report))
    print(markdown(report))
    return report


if __name__ == "__main__":
    main()
