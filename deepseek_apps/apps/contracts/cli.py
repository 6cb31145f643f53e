"""``deepseek-apps contracts predict|demo|schema`` (and ``train|evaluate|export`` from ``cli_model``).

``predict`` (also ``analyze``, ``score``) with ``--out`` writes one JSON line per file and resumes: a re-run skips files
already in the output (a torn last line is cut off first) and analyses the rest; a file that
cannot be read becomes a line with an ``error`` instead of stopping the job. Without
``--out`` each analysis is printed (JSON or markdown) and errors go to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from deepseek_apps.core.scale.options import add_engine_options, engine_options

from .clauses.inference import BACKENDS


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("contracts", help="contract parsing: parties, dates, money, terms, law (ContractParser)")
    cmds = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    a = cmds.add_parser(
        "predict",
        aliases=["analyze", "score"],
        help="analyse contracts (PDF, DOCX, TXT, scans, images) into JSON lines (resumable)",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    a.add_argument("files", nargs="+", metavar="FILES", help="contract files, folders (searched recursively), globs")
    a.add_argument("--out", default=None, help="output .jsonl (resumable); without it results go to stdout")
    a.add_argument(
        "--format",
        default="json",
        choices=["json", "markdown"],
        help="stdout format when --out is not given",
    )
    a.add_argument("--ocr", default="auto", choices=["auto", "always", "never"], help="auto: OCR pages without text")
    a.add_argument("--ocr-lang", default="eng", help="Tesseract language(s), e.g. eng or eng+chi_sim")
    a.add_argument("--ocr-workers", type=int, default=2, help="pages OCR-ed in parallel (one Tesseract process each)")
    a.add_argument("--legal-terms", default=None, help="JSON glossary extending the shipped legal terms")
    _clause_options(a)
    a.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_engine_options(a)
    a.set_defaults(func=_analyze)
    d = cmds.add_parser("demo", help="generate contracts (PDF, DOCX, scan), analyse and check them vs ground truth")
    d.add_argument("--out", default="demo_out", help="folder for the samples and contracts_analysis.jsonl")
    d.add_argument("--formats", default="pdf,docx,scan", help="comma-separated subset of pdf,docx,scan")
    d.add_argument("--no-clauses", action="store_true", help="rules only (default: clauses too when a model exists)")
    _model_option(d)
    d.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    d.set_defaults(func=_demo)
    s = cmds.add_parser("schema", help="print the published JSON schema of a contract analysis")
    s.set_defaults(func=_schema)
    from . import cli_model

    cli_model.add_commands(cmds)


def _model_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model", "--clause-model", dest="model", default=None,
        help="clause model folder or exported bundle (default: the shipped model; --clause-model is the old name)",
    )  # fmt: skip


def _clause_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-clauses", action="store_true", help="rules only: skip the learned clause tagger (faster)")
    _model_option(p)
    p.add_argument(
        "--clause-backend", default=None, choices=list(BACKENDS),
        help="clause model runtime (default: the model's; for a folder openvino-bf16 on CPUs with AMX, else onnx-int8)",
    )  # fmt: skip
    p.add_argument("--min-confidence", type=float, default=0.5, help="clauses below this confidence are dropped")


def _parser(args: argparse.Namespace):
    from .app import ContractParser

    return ContractParser(
        model_path=args.model,
        legal_terms_db=args.legal_terms,
        ocr_lang=args.ocr_lang,
        ocr=args.ocr,
        ocr_workers=args.ocr_workers,
        clauses=not args.no_clauses,
        clause_backend=args.clause_backend,
        min_confidence=args.min_confidence,
    )


def _analyze(args: argparse.Namespace) -> int:
    from deepseek_apps.errors import ErrorCode, MissingResourceError

    from .batch import analyze_files

    try:
        if args.out is None:
            return _analyze_to_stdout(args)
        ray = {"batch_size": args.batch_size} if args.engine == "ray" else {}
        summary = analyze_files(
            _parser(args), args.files, args.out, progress=not args.no_progress, **engine_options(args), **ray
        )
    except MissingResourceError as exc:
        if exc.code not in (ErrorCode.DEFAULT_MODEL_MISSING, ErrorCode.DIRECTORY_NOT_FOUND):
            raise
        raise MissingResourceError(
            exc.code, exc.message, value=exc.value, hint=f"{exc.hint}; or pass --no-clauses for the rules only"
        ) from exc
    print(summary.line(args.out))
    return 0 if summary.ok else 1


def _analyze_to_stdout(args: argparse.Namespace) -> int:
    from .batch import analyze_one, contract_paths, prepare
    from .results import ContractAnalysis

    paths = contract_paths(args.files)
    parser = _parser(args)
    prepare(parser)
    ok = 0
    for path in paths:
        record = analyze_one(parser, path)
        if not record["ok"]:
            error = record["error"]
            print(f"error: {path}: [DSA-{error['code']}] {error['message']}. {error['hint']}", file=sys.stderr)
            continue
        ok += 1
        if args.format == "markdown":
            print(ContractAnalysis.model_validate(record["analysis"]).to_markdown())
        else:
            print(json.dumps(record), flush=True)
    print(f"contracts: {ok} ok, {len(paths) - ok} failed", file=sys.stderr)
    return 0 if ok else 1


def _demo(args: argparse.Namespace) -> int:
    from .demo import parse_formats, run_demo

    clauses = False if args.no_clauses else None
    scores = run_demo(
        Path(args.out),
        parse_formats(args.formats),
        clauses=clauses,
        progress=not args.no_progress,
        model_path=args.model,
    )
    return 0 if scores else 1


def _schema(args: argparse.Namespace) -> int:
    from .results import schema_json

    sys.stdout.write(schema_json())
    return 0
