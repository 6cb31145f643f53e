"""ContractParser rule scans: the full value patterns vs the anchored scanners, side by side.

Each value pattern (dates, durations, percents, money) and the glossary pattern run over the
same CUAD contract texts twice in one process: ``pattern.finditer`` (what the rules did before)
and ``Scanner.finditer`` (the pattern tried only where its anchor holds). The matches must be
identical, document by document; the script fails otherwise. The decimal-separator check is
timed the same way (two full ``findall`` vs a literal-led search first).

    python benchmarks/contracts_scan.py [--data ../shared/data/cuad] [--docs 400] [--out bench_out]
"""

from __future__ import annotations

import argparse
import json
import re
import time
from datetime import date
from pathlib import Path

from deepseek_apps.apps.contracts.glossary import load_legal_terms
from deepseek_apps.apps.contracts.rules import _terms_scanner
from deepseek_apps.apps.contracts.values.dates import DATES
from deepseek_apps.apps.contracts.values.durations import DURATIONS
from deepseek_apps.apps.contracts.values.money import DEFAULT_CURRENCIES, PERCENTS, decimal_separator, money_scanner
from deepseek_apps.apps.contracts.values.scan import fold
from deepseek_apps.core.bench import cpu_info

ROOT = Path(__file__).resolve().parents[1]
COMMA = re.compile(r"(?<![\d.,])\d{1,3}(?:\.\d{3})+,\d{1,2}(?![\d.,])")
POINT = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+\.\d{1,2}(?![\d.,])")


def clock(fn, texts):
    started = time.perf_counter()
    out = [fn(text) for text in texts]
    return time.perf_counter() - started, out


def old_separator(text: str):
    comma, point = len(COMMA.findall(text)), len(POINT.findall(text))
    return "," if comma and not point else "." if point and not comma else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "cuad")
    parser.add_argument("--docs", type=int, default=400)
    parser.add_argument("--out", type=Path, default=ROOT / "bench_out")
    args = parser.parse_args()
    texts = [p.read_text(errors="replace") for p in sorted((args.data / "contracts").glob("*.txt"))[: args.docs]]
    glossary = _terms_scanner(tuple(phrase for phrase, _ in load_legal_terms().synonyms()))
    scanners = {
        "dates": (DATES, str),
        "durations": (DURATIONS, str),
        "percents": (PERCENTS, str),
        "money": (money_scanner(tuple(DEFAULT_CURRENCIES.items())), str),
        "glossary terms": (glossary, fold),
    }
    rows, total_before, total_after = [], 0.0, 0.0
    for name, (scanner, prepare) in scanners.items():
        prepared = [prepare(text) for text in texts]
        before, expected = clock(lambda t, s=scanner: [m.span() for m in s.pattern.finditer(t)], prepared)
        after, found = clock(lambda t, s=scanner: [m.span() for m in s.finditer(t)], prepared)
        if found != expected:
            raise SystemExit(f"{name}: the scanner's matches differ from the pattern's")
        rows.append(
            {"scan": name, "matches": sum(map(len, found)), "before_s": round(before, 3), "after_s": round(after, 3)}
        )
        total_before, total_after = total_before + before, total_after + after
    before, expected = clock(old_separator, texts)
    after, found = clock(lambda t: decimal_separator(t)[0], texts)
    if found != expected:
        raise SystemExit("decimal separator: the answers differ")
    rows.append(
        {
            "scan": "decimal separator",
            "matches": sum(x is not None for x in found),
            "before_s": round(before, 3),
            "after_s": round(after, 3),
        }
    )
    total_before, total_after = total_before + before, total_after + after
    report = {
        "date": date.today().isoformat(), "cpu": cpu_info(), "documents": len(texts),
        "characters": sum(map(len, texts)), "rows": rows,
        "total_before_s": round(total_before, 3), "total_after_s": round(total_after, 3),
    }  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "contracts_scan.json").write_text(json.dumps(report, indent=2))
    cpu = report["cpu"]
    features = ", ".join(k for k in ("avx512f", "avx512_vnni", "amx") if cpu.get(k)) or "no AVX-512"
    print(f"Rule scans, {report['date']}, {cpu['model']} ({features}), one thread (pure Python re)")
    print(f"{len(texts)} CUAD contracts, {report['characters']:,} characters; same matches in both\n")
    print("| scan | matches | full pattern s | scanner s | speed-up |\n|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['scan']} | {row['matches']} | {row['before_s']:.2f} | {row['after_s']:.2f} | {row['before_s'] / row['after_s']:.1f}x |"
        )
    print(f"| **all** | | {total_before:.2f} | {total_after:.2f} | {total_before / total_after:.1f}x |")


if __name__ == "__main__":
    main()
