"""ContractParser reading speed on real contracts: where the time goes, pages/s, before vs after.

Real CUAD contracts (EDGAR filings, the first ``--docs`` texts in name order), by default
rendered to text PDFs (the CUAD text, Latin-1, 11 pt Letter pages with a running header and
page numbers) so that text extraction and header/footer detection are part of the run and
a page is a real PDF page; ``--txt`` reads the texts instead (a page = 3,000 characters).
``analyze`` with clauses runs end to end (reading, rules, clause tagger, span decoding).

Pipelines in one process, on the same files, same model weights:
- before: one document at a time, windows encoded in document order (padding to the longest
  window of each batch of 32), ONNX Runtime INT8 with the ``EXPORT_VERSION`` 2 export (SDPA
  attention) when it is still in the cache, else the current one;
- after, onnx-int8: ``ContractParser(clause_backend="onnx-int8").predict(files)``: windows of
  up to 16 documents tokenised once, sorted by token count and batched per document (a batch
  never mixes documents), the eager-attention export;
- after, onnx-int8, decoder ranking: the same with the span re-ranker off (``clauses.rerank``: its
  features need the lexical window scores, so it costs time of its own);
- after, the default: where this CPU's default runtime is another (``openvino-bf16`` on CPUs
  with AMX), ``ContractParser().predict(files)`` as well;
- ``--also NAME=MODEL``: another model folder (or a shipped model's name, e.g. ``fast``) on
  onnx-int8, in the same run.

The stage table splits the time into text extraction, header/footer detection, rules,
word split, tokenisation, the encoder, span decoding and the rest (window bookkeeping).

    python benchmarks/contracts_speed.py [--data ../shared/data/cuad] [--docs 30] [--txt] [--also fast=fast]
"""

from __future__ import annotations

import argparse
import json
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from deepseek_apps.apps.contracts import app as app_module
from deepseek_apps.apps.contracts.app import ContractParser
from deepseek_apps.apps.contracts.clauses.data import CATEGORIES, windows
from deepseek_apps.apps.contracts.clauses.export import ONNX_FILES, cache_root
from deepseek_apps.apps.contracts.clauses.inference import default_backend, onnx_logits, sigmoid
from deepseek_apps.apps.contracts.reading import pages as pages_module
from deepseek_apps.core.bench import cpu_info

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("extract text", "header/footer", "rules", "words", "tokenise", "encoder", "decode", "other")


def documents(data: Path, n_docs: int, pdf: bool) -> list[tuple[str, bytes]]:
    """(file name, bytes) of the first ``n_docs`` CUAD contracts, as text PDFs or plain text."""
    paths = sorted((data / "contracts").glob("*.txt"))[:n_docs]
    if not pdf:
        return [(p.name, p.read_bytes()) for p in paths]
    from deepseek_apps.apps.contracts.synthetic.render import render_pdf

    out = []
    for p in paths:
        text = p.read_text(errors="replace").encode("latin-1", "replace").decode("latin-1")
        out.append((p.stem + ".pdf", render_pdf(SimpleNamespace(title=p.stem[:60], text=text))))
    return out


def legacy_predict_words(runtime, words: list[str]):
    """The inference loop before batching by length: windows in document order, tokenised per batch."""
    spans = windows(len(words), runtime.size, runtime.stride)
    window_probs = np.zeros((len(spans), len(CATEGORIES)), dtype=np.float32)
    word_sum = np.zeros((len(words), len(CATEGORIES)), dtype=np.float32)
    word_count = np.zeros((len(words), 1), dtype=np.float32)
    for start in range(0, len(spans), runtime.batch_size):
        chunk = spans[start : start + runtime.batch_size]
        word_logits, window_logits = runtime.logits(runtime.tokenizer.encode([words[a:b] for a, b in chunk]))
        window_probs[start : start + len(chunk)] = sigmoid(window_logits)
        probs = sigmoid(word_logits)
        for row, (a, b) in enumerate(chunk):
            word_sum[a:b] += probs[row, : b - a]
            word_count[a:b] += 1
    return spans, window_probs, word_sum / np.maximum(word_count, 1)


def previous_export(threads: int):
    """``ClauseRuntime.logits`` of the EXPORT_VERSION 2 INT8 file, or None when it is not cached."""
    from deepseek_apps.apps.contracts.clauses.folder import read_folder
    from deepseek_apps.core.runtime.bundle import sha256
    from deepseek_apps.core.runtime.session import OrtSession

    weights, _, _ = read_folder(None)
    path = cache_root() / sha256(weights + b"2")[:16] / ONNX_FILES["onnx-int8"]
    return onnx_logits(OrtSession(path, threads=threads)) if path.is_file() else None


@contextmanager
def stage_clock(parser: ContractParser, clock: dict[str, float], counts: dict[str, int]):
    """Time the stages of ``parser`` (patched on the instance, its runtime and the modules)."""
    runtime = parser.tagger()

    def timed(name, fn, count=None):
        def run(*a, **k):
            started = time.perf_counter()
            out = fn(*a, **k)
            clock[name] += time.perf_counter() - started
            if count:
                count(a, out)
            return out

        return run

    def tally(args, out):
        batch = args[0]["attention_mask"]
        counts["windows"] += batch.shape[0]
        counts["tokens"] += int(batch.sum())
        counts["padded"] += batch.size

    saved = {
        (pages_module, "strip_running_lines"): pages_module.strip_running_lines,
        (app_module, "words"): app_module.words,
        (runtime, "clause_spans"): runtime.clause_spans,
        (runtime.tokenizer, "tokenize"): runtime.tokenizer.tokenize,
        (runtime.tokenizer, "pack"): runtime.tokenizer.pack,
        (runtime, "logits"): runtime.logits,
    }
    pages_module.strip_running_lines = timed("header/footer", pages_module.strip_running_lines)
    app_module.words = timed("words", app_module.words)
    runtime.clause_spans = timed("decode", runtime.clause_spans)
    runtime.tokenizer.tokenize = timed("tokenise", runtime.tokenizer.tokenize)
    runtime.tokenizer.pack = timed("tokenise", runtime.tokenizer.pack)
    runtime.logits = timed("encoder", runtime.logits, tally)
    parser.read = timed("extract text", parser.read)
    parser.analyze_document = timed("rules", parser.analyze_document)
    try:
        yield
    finally:
        for (owner, name), value in saved.items():
            setattr(owner, name, value)
        del parser.read, parser.analyze_document


def run_pipeline(name: str, parser: ContractParser, files, batched: bool, char_pages: bool) -> dict:
    clock, counts = dict.fromkeys(STAGES, 0.0), dict.fromkeys(("windows", "tokens", "padded"), 0)
    with stage_clock(parser, clock, counts):
        started = time.perf_counter()
        results = parser.predict(files) if batched else [parser.analyze(data, filename=n) for n, data in files]
        total = time.perf_counter() - started
    clock["extract text"] -= clock["header/footer"]  # strip_running_lines runs inside read
    clock["other"] = total - sum(clock.values())
    n_pages = sum(r.document.characters / 3000 if char_pages else r.document.n_pages for r in results)
    return {
        "pipeline": name, "documents": len(results), "pages": round(n_pages, 1), "seconds": round(total, 2),
        "pages_per_s": round(n_pages / total, 2), "stage_seconds": {k: round(v, 2) for k, v in clock.items()},
        "share": {k: round(v / total, 3) for k, v in clock.items()},
        "windows_encoded": counts["windows"], "tokens": counts["tokens"],
        "padding_waste": round(1 - counts["tokens"] / max(1, counts["padded"]), 3),
        "clauses": [[(c.category, c.evidence.start, c.evidence.end) for c in r.clauses] for r in results],
    }  # fmt: skip


def compare(files, threads: int, char_pages: bool, also: dict[str, str] | None = None) -> dict:
    before = ContractParser(ocr="never", threads=threads, clause_backend="onnx-int8")
    old = previous_export(threads)
    runtime = before.tagger()
    if old is not None:
        runtime.logits = old
    runtime.predict_many = lambda docs: [legacy_predict_words(runtime, words) for words in docs]
    plain = ContractParser(ocr="never", threads=threads, clause_backend="onnx-int8")
    plain.tagger().reranker = None  # the decoder's ranking: what the span re-ranker adds is timed against it
    parsers = {
        "after, onnx-int8, decoder ranking": plain,
        "after, onnx-int8": ContractParser(ocr="never", threads=threads, clause_backend="onnx-int8"),
    }
    for name, spec in (also or {}).items():
        parsers[f"after, onnx-int8, {name}"] = ContractParser(
            model_path=spec, ocr="never", threads=threads, clause_backend="onnx-int8"
        )
    if default_backend() != "onnx-int8":  # this CPU's default runtime (openvino-bf16 with AMX)
        parsers[f"after, {default_backend()} (default here)"] = ContractParser(ocr="never", threads=threads)
    for parser in (before, *parsers.values()):
        parser.analyze(files[0][1], filename=files[0][0])  # warm: model loaded, ONNX cache built
    rows = [run_pipeline("before" + ("" if old else " (current export)"), before, files, False, char_pages)]
    rows += [run_pipeline(name, parser, files, True, char_pages) for name, parser in parsers.items()]
    clauses = [row.pop("clauses") for row in rows]
    same = sum(a == b for a, b in zip(clauses[0], clauses[1]))
    return {"rows": rows, "documents_with_identical_clauses": same}


def markdown(report: dict) -> str:
    rows = report["rows"]
    head = f"ContractParser end to end with clauses, {report['date']}, {report['cpu']}, {report['threads']} threads"
    lines = [head, "", f"{rows[0]['documents']} CUAD contracts as {report['input']}, {rows[0]['pages']} pages", ""]
    lines += [
        "| stage | " + " | ".join(f"{r['pipeline']} s (share)" for r in rows) + " |",
        "|---" * (len(rows) + 1) + "|",
    ]
    for stage in STAGES:
        cells = [f"{r['stage_seconds'][stage]} ({r['share'][stage]:.1%})" for r in rows]
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    lines.append("| **total s** | " + " | ".join(str(r["seconds"]) for r in rows) + " |")
    lines.append("| **pages/s** | " + " | ".join(f"**{r['pages_per_s']}**" for r in rows) + " |")
    lines.append("| windows encoded | " + " | ".join(str(r["windows_encoded"]) for r in rows) + " |")
    lines.append("| padding waste | " + " | ".join(f"{r['padding_waste']:.1%}" for r in rows) + " |")
    lines += [""] + [f"speed-up of {r['pipeline']}: {r['pages_per_s'] / rows[0]['pages_per_s']:.2f}x" for r in rows[1:]]
    lines += [f"documents with the same clause spans, before and after on onnx-int8: "
              f"{report['documents_with_identical_clauses']} of {rows[0]['documents']}"]  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "cuad")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_out")
    parser.add_argument("--docs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--txt", action="store_true", help="read the texts, not rendered PDFs")
    parser.add_argument(
        "--also", action="append", default=[], metavar="NAME=MODEL", help="another model folder or shipped model name"
    )
    args = parser.parse_args(argv)
    also = dict(item.split("=", 1) for item in args.also)
    files = documents(args.data, args.docs, pdf=not args.txt)
    cpu = cpu_info()
    report = {
        "date": date.today().isoformat(), "threads": args.threads,
        "cpu": cpu.get("model", "?") + " (" + (", ".join(k for k in ("avx512f", "avx512_vnni", "amx") if cpu.get(k)) or "AVX2") + ")",
        "input": "text files (a page = 3,000 characters)" if args.txt else "text PDFs (real pages)",
    }  # fmt: skip
    report.update(compare(files, args.threads, char_pages=args.txt, also=also))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "contracts_speed.json").write_text(json.dumps(report, indent=2))
    print(markdown(report))
    return report


if __name__ == "__main__":
    main()
