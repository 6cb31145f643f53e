"""ContractParser's clause tagger: quality on a held-out CUAD split, encoder speed, pages/s.

Quality (``--data``): the contracts of the seeded 20% validation split by contract (seed 0,
``evaluate.split_contracts``; training never saw them). Window level: 60-word windows
(15-word overlap), a window positive for a category when it overlaps one of its clause
strings; pooled AUPR and precision at 80% recall over all (window, category) pairs, with the
TF-IDF word 1-2 gram + logistic regression baseline trained on the training split and scored
in the same run. Span level: CUAD's official AUPR / P@80R (Jaccard >= 0.5), next to the
paper's numbers. Both the FP32 and the dynamic-INT8 ONNX encoder are scored.

Speed: the encoder on batches of real windows, PyTorch eager vs ONNX Runtime FP32 vs INT8,
interleaved; end-to-end ``analyze`` pages/s on generated text PDFs and on scans (OCR).

    python benchmarks/contracts.py [--data ../shared/data/cuad] [--out bench_out] [--no-quality]
    python benchmarks/contracts.py --only scaling   # 10 KB .. 5 MB, rules; clauses up to 200 KB
    python benchmarks/contracts.py --only stages    # where the time goes on 30 real contracts
    python benchmarks/contracts.py --only quality --model runs/c4 --runtimes onnx-int8   # a candidate
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path

from deepseek_apps.apps.contracts.app import ContractParser
from deepseek_apps.apps.contracts.clauses.data import load_labelled
from deepseek_apps.apps.contracts.clauses.eval import evaluate_tagger
from deepseek_apps.apps.contracts.clauses.model import encode_windows
from deepseek_apps.apps.contracts.clauses.runtime import ClauseModel, default_backend
from deepseek_apps.apps.contracts.evaluate import load_labels, split_contracts
from deepseek_apps.apps.contracts.reading.pages import ReadLimits
from deepseek_apps.apps.contracts.synthetic import generate_contracts
from deepseek_apps.apps.contracts.synthetic.render import render_pdf, render_scan
from deepseek_apps.core.bench import cpu_info, measure_interleaved, ratio_table

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = {"BERT-base": (32.4, 8.2), "RoBERTa-base": (42.6, 31.1), "RoBERTa-large": (48.2, 38.1), "DeBERTa-xlarge": (47.8, 44.0)}  # fmt: skip


def backends() -> tuple[str, ...]:
    """The clause runtimes to compare: ONNX Runtime INT8 and FP32, and OpenVINO bf16 where it is
    this machine's default (a CPU with AMX)."""
    return ("onnx-int8", "onnx") + (("openvino-bf16",) if default_backend() == "openvino-bf16" else ())


def quality(data: Path, threads: int, folder: Path | None = None, runtimes: tuple[str, ...] | None = None) -> dict:
    """Window and span metrics on the seed-0 validation split, for the shipped model or ``folder``."""
    table, _ = load_labels(data)
    train, val = split_contracts(list(table["Text File"]), fraction=0.2, seed=0)
    val_contracts, train_contracts = load_labelled(data, val), load_labelled(data, train)
    out = {"split": "seed-0 20% validation by contract", "val_contracts": len(val), "train_contracts": len(train)}
    out["model"] = str(folder or "shipped")
    for backend in runtimes or backends():
        started = time.perf_counter()
        model = ClauseModel(folder, backend=backend, threads=threads)
        report = evaluate_tagger(model, val_contracts, train_contracts if backend == "onnx-int8" else None)
        report["seconds"] = round(time.perf_counter() - started, 1)
        out[backend] = report
    return out


def encoder_speed(data: Path | None, threads: int) -> dict:
    """Encoder latency on real 60-word windows: batch 1 and batch 32, PyTorch and ``backends()``."""
    models = {b: ClauseModel(backend=b, threads=threads) for b in ("torch", *backends())}
    tokenizer = models["torch"].tokenizer
    text = generate_contracts(1, seed=3)[0].text.split()
    if data is not None and (data / "contracts").is_dir():
        text = next(iter(sorted((data / "contracts").glob("*.txt")))).read_text(errors="replace").split()
    windows = [text[i : i + 60] for i in range(0, max(1, len(text) - 60), 45)][:32]
    out = {}
    for batch_size in (1, 32):
        batch = encode_windows(tokenizer, windows[:batch_size])
        fns = {f"{name}": (lambda b, m=m: m.logits(b)) for name, m in models.items()}
        results = measure_interleaved(
            fns, batch, batch_size=batch_size, rounds=10, per_round=5 if batch_size > 1 else 20
        )
        out[f"batch_{batch_size}"] = {r.name: r.to_dict() for r in results}
        out[f"batch_{batch_size}_table"] = ratio_table(results, baseline="torch")
    return out


def pages_per_second(n_docs: int, ocr_pages: int, threads: int) -> dict:
    pdfs = [render_pdf(c) for c in generate_contracts(n_docs, seed=100)]
    parser = ContractParser(ocr="never", threads=threads)
    parser.analyze(pdfs[0], filename="warm.pdf")  # loads the model (and builds the ONNX cache once)
    rules = ContractParser(ocr="never", clauses=False)
    result = {"documents": n_docs}
    for name, p in (("rules_only", rules), ("rules_and_clauses_int8", parser)):
        started, pages = time.perf_counter(), 0
        for pdf in pdfs:
            pages += p.analyze(pdf, filename="x.pdf").document.n_pages
        result["pages"] = pages
        result[f"{name}_pages_per_s"] = round(pages / (time.perf_counter() - started), 1)
    if ocr_pages:
        scan = render_scan(generate_contracts(1, seed=7)[0], pages=list(range(ocr_pages)), seed=7)
        started = time.perf_counter()
        analysis = ContractParser(ocr_workers=2, threads=threads).analyze(scan, filename="scan.pdf")
        result["scan_pages"] = analysis.document.n_pages
        result["scan_with_ocr_pages_per_s"] = round(analysis.document.n_pages / (time.perf_counter() - started), 2)
    return result


def stages(data: Path, n_docs: int, threads: int) -> dict:
    """Where the time of ``analyze`` goes on real contracts (CUAD texts, the first ``n_docs``).

    Stages: reading (text + header/footer detection), rules (+ relations), word split,
    tokenisation, the encoder (ONNX INT8), span decoding (with the re-ranker's features). Pages: characters / 3000.
    """
    from deepseek_apps.apps.contracts.clauses.data import words

    parser = ContractParser(ocr="never", threads=threads)
    runtime = parser.tagger()
    texts = [p.read_bytes() for p in sorted((data / "contracts").glob("*.txt"))[:n_docs]]
    clock = dict.fromkeys(("read", "rules", "words", "tokenise", "encoder", "decode"), 0.0)
    tokenize, pack, logits = runtime.tokenizer.tokenize, runtime.tokenizer.pack, runtime.logits

    def timed(name, fn):
        def run(*a, **k):
            started = time.perf_counter()
            out = fn(*a, **k)
            clock[name] += time.perf_counter() - started
            return out

        return run

    runtime.tokenizer.tokenize, runtime.tokenizer.pack = timed("tokenise", tokenize), timed("tokenise", pack)
    runtime.logits = timed("encoder", logits)
    characters, started = 0, time.perf_counter()
    try:
        for i, raw in enumerate(texts):
            doc = timed("read", parser.read)(raw, filename=f"{i}.txt")
            characters += len(doc.text)
            tokens, _ = timed("words", words)(doc.text)
            timed("rules", ContractParser(clauses=False).analyze_document)(doc)
            _, _, probs = runtime.predict_words(tokens)
            timed("decode", runtime.clause_spans)(tokens, probs)
    finally:
        runtime.tokenizer.tokenize, runtime.tokenizer.pack, runtime.logits = tokenize, pack, logits
    total = time.perf_counter() - started
    clock["predict_words other (windows, averaging)"] = total - sum(clock.values())
    pages = characters / 3000
    return {
        "documents": len(texts), "characters": characters, "pages_at_3000_chars": round(pages, 1),
        "seconds": round(total, 2), "pages_per_s": round(pages / total, 2),
        "share": {k: round(v / total, 3) for k, v in clock.items()}, "stage_seconds": {k: round(v, 2) for k, v in clock.items()},
    }  # fmt: skip


def scaling(data: Path | None, sizes_kb: list[int], clause_sizes_kb: list[int], threads: int) -> dict:
    """Seconds of ``analyze`` on one document of each size (real contracts concatenated): rules
    only from 10 KB to 5 MB, with clauses on the smaller sizes; seconds per MB shows linearity."""
    if data is not None and (data / "contracts").is_dir():
        corpus = "\n\n".join(p.read_text(errors="replace") for p in sorted((data / "contracts").glob("*.txt"))[:40])
    else:
        corpus = "\n\n".join(c.text for c in generate_contracts(40, seed=5))
    limits = ReadLimits(max_characters=max(sizes_kb + clause_sizes_kb) * 1000 + 1)
    out = {}
    for name, parser, sizes in (
        ("rules", ContractParser(clauses=False, limits=limits), sizes_kb),
        ("rules_and_clauses", ContractParser(threads=threads, limits=limits), clause_sizes_kb),
    ):
        parser.analyze(b"Warm up. This Agreement is governed by the laws of Ohio.", filename="w.txt")
        rows = []
        for kb in sizes:
            text = (corpus * (kb * 1000 // len(corpus) + 1))[: kb * 1000]
            started = time.perf_counter()
            parser.analyze(text.encode(), filename="big.txt")
            seconds = time.perf_counter() - started
            rows.append({"kb": kb, "seconds": round(seconds, 3), "seconds_per_mb": round(seconds / (kb / 1000), 2)})
            print(name, rows[-1], flush=True)
        out[name] = rows
    return out


def markdown(report: dict) -> str:
    lines = [f"Contract clause tagger, {report['date']}, CPU: {report['cpu'].get('model', '?')}", ""]
    q = report.get("quality")
    if q:
        lines += [f"Quality on CUAD, {q['split']} ({q['val_contracts']} contracts)", ""]
        lines += ["| window level (60 words, pooled over 41 categories) | AUPR | P@80R |", "|---|---|---|"]
        names = {
            "tagger": "MiniLM+LoRA tagger (word head, max in window)",
            "lexical": "lexical scorer (TF-IDF 50k + LR)",
        }
        names["shipped"] = "shipped: the window stacker (or the mean of the two without one)"
        names["tagger_lexical_mean"] = "mean of the two"
        names["tfidf_logreg"] = "baseline: TF-IDF 1-2 gram (200k) + LR, same run"
        measured = [b for b in ("onnx", "onnx-int8", "openvino-bf16") if b in q]
        for backend in measured:
            for key, m in q[backend]["window"].items():
                if key == "tfidf_logreg" and backend != "onnx-int8":
                    continue
                label = names.get(key, key) + ("" if key == "tfidf_logreg" else f", {backend}")
                lines.append(f"| {label} | {m['aupr']:.3f} | {m['p_at_80r']:.3f} |")
        lines += ["", "| span level (CUAD rules, Jaccard >= 0.5) | AUPR | P@80R |", "|---|---|---|"]
        for backend in measured:
            r = q[backend]
            if "span_decoder" in r:
                d = r["span_decoder"]
                lines.append(
                    f"| tagger spans ranked by the decoder, {backend} | {d['aupr']:.1f} | {d['p_at_80r']:.1f} |"
                )
            ranked = "by the span re-ranker" if "span_decoder" in r else "by the decoder"
            lines.append(
                f"| tagger spans ranked {ranked}, {backend} | {r['span']['aupr']:.1f} | {r['span']['p_at_80r']:.1f} |"
            )
            rules = r.get("span_with_rules")
            if rules:
                lines.append(
                    f"| parser: tagger spans + rule parties/dates, {backend} | {rules['aupr']:.1f} | {rules['p_at_80r']:.1f} |"
                )
        lines += [f"| {name} (paper, CUAD test set) | {a} | {p} |" for name, (a, p) in PUBLISHED.items()]
        lines.append("")
    for name, rows in report.get("scaling", {}).items():
        lines += [f"Document length vs time, {name}", "", "| KB | s | s per MB |", "|---|---|---|"]
        lines += [f"| {r['kb']} | {r['seconds']} | {r['seconds_per_mb']} |" for r in rows] + [""]
    if "stages" in report:
        st = report["stages"]
        lines += [f"Stages on {st['documents']} CUAD texts ({st['pages_at_3000_chars']} pages of 3000 characters): "
                  f"{st['pages_per_s']} pages/s", "", "| stage | share | s |", "|---|---|---|"]  # fmt: skip
        lines += [f"| {k} | {v:.1%} | {st['stage_seconds'][k]} |" for k, v in st["share"].items()] + [""]
    s = report.get("speed")
    if not s:
        return "\n".join(lines) + "\n"
    for key in ("batch_1_table", "batch_32_table"):
        lines += [f"Encoder, {key.split('_table')[0].replace('_', ' ')} (60-word windows)", "", s["encoder"][key], ""]
    lines += ["| end to end | pages/s |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in s["pages"].items() if "per_s" in k]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "cuad")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_out")
    parser.add_argument("--docs", type=int, default=20, help="generated PDFs for pages/s")
    parser.add_argument("--ocr-pages", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-quality", action="store_true")
    parser.add_argument("--only", choices=("scaling", "stages", "quality"), help="only this measurement")
    parser.add_argument("--sizes-kb", default="10,50,200,1000,2000,5000")
    parser.add_argument("--clause-sizes-kb", default="10,50,200")
    parser.add_argument("--stage-docs", type=int, default=30)
    parser.add_argument(
        "--model", type=Path, default=None, help="quality: a trained folder instead of the shipped model"
    )
    parser.add_argument("--runtimes", default=None, help="quality: comma-separated clause runtimes (default: all)")
    args = parser.parse_args(argv)
    report = {"date": date.today().isoformat(), "cpu": cpu_info(), "threads": args.threads}
    data = args.data if args.data.is_dir() else None
    if args.only:
        if args.only == "quality":
            runtimes = tuple(args.runtimes.split(",")) if args.runtimes else None
            report["quality"] = quality(args.data, args.threads, args.model, runtimes)
        elif args.only == "scaling":
            sizes = [int(k) for k in args.sizes_kb.split(",")]
            clause_sizes = [int(k) for k in args.clause_sizes_kb.split(",") if k]
            report["scaling"] = scaling(data, sizes, clause_sizes, args.threads)
        else:
            report["stages"] = stages(args.data, args.stage_docs, args.threads)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"contracts_{args.only}.json").write_text(json.dumps(report, indent=2, default=float))
        print(markdown(report))
        return report
    if not args.no_quality:
        report["quality"] = quality(args.data, args.threads)
    report["speed"] = {
        "encoder": encoder_speed(data, args.threads),
        "pages": pages_per_second(args.docs, args.ocr_pages, args.threads),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "contracts.json").write_text(json.dumps(report, indent=2, default=float))
    (args.out / "contracts.md").write_text(markdown(report))
    print(markdown(report))
    return report


if __name__ == "__main__":
    main()
