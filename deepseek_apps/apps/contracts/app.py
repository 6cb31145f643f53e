"""``ContractParser``: contracts in (PDF, DOCX, TXT, scans), structured facts with evidence out.

Documents are read (text layer, OCR, Word, text); parties with roles, typed dates, money,
percents, durations, governing law, definitions and glossary terms are extracted by rules
and normalised (rules are better than a model at normalising); clauses of the 41 CUAD
categories are found by the learned tagger (MiniLM + LoRA, ``clauses``), each with its
evidence span, page and confidence (``ContractAnalysis.stage == "rules+model"``).

The parser follows the application contract (``core.contract``): ``fit`` trains the clause
tagger on a CUAD-layout folder, ``save`` writes it, ``export`` writes an edge bundle that runs
without PyTorch, ``ContractParser.load`` opens either.

Example:
    >>> from deepseek_apps.apps.contracts.app import ContractParser
    >>> from deepseek_apps.apps.contracts.synthetic import generate_contract
    >>> contract = generate_contract(seed=2)
    >>> result = ContractParser().analyze(contract.text.encode(), filename="msa.txt")
    >>> result.governing_law == [contract.facts_of("GOVERNING_LAW")[0].value]
    True
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from deepseek_apps.core.contract import Application, map_items
from deepseek_apps.errors import DeepSeekAppsError, ErrorCode, InvalidInputError, RuntimeFailure

from .clauses.data import CATEGORIES, words
from .clauses.inference import default_backend
from .glossary import LegalTerms, load_legal_terms
from .model_io import ClauseSource, open_source
from .reading.documents import read_document
from .reading.pages import Document, ReadLimits
from .relations import relations
from .results import Clause, ContractAnalysis, ContractMetrics, DocumentInfo, Evidence
from .rules import extract

OUTPUT_FORMATS = ("model", "dict", "json", "markdown")
DOCUMENTS_PER_BATCH = 16  # ``predict``: documents whose clause windows share encoder batches
Source = str | Path | bytes | tuple[str, bytes]

__all__ = ["ContractMetrics", "ContractParser", "OUTPUT_FORMATS"]


class ContractParser(Application):
    """Read contracts and extract facts and clauses with evidence.

    Args:
        model_path: a clause model folder (``save`` / ``fit`` / ``contracts train``), an
            exported bundle (``export``), or a shipped model's name ("fast": the 3-layer model,
            1.6x faster, a little less accurate; a path that exists wins); None: the shipped
            default (``core.registry``).
        legal_terms_db: path of a JSON glossary extending the default one (or the bundle's).
        output_format: what ``analyze`` returns: "model" (a ``ContractAnalysis``), "dict",
            "json" or "markdown" (``predict`` always returns ``ContractAnalysis``).
        ocr_lang: Tesseract language(s) for scans and images, e.g. "eng" or "eng+chi_sim".
        ocr: "auto" (OCR only pages without a text layer), "always" or "never".
        ocr_workers: pages OCR-ed in parallel.
        limits: page / pixel / zip-bomb limits (``ReadLimits``).
        clauses: run the learned clause tagger (False: rules only, faster).
        clause_backend: "onnx-int8", "onnx", "openvino-bf16" or "torch"; None: the model's (for a
            folder the fastest accurate one here: "openvino-bf16" on CPUs with AMX and the
            ``openvino`` extra, else "onnx-int8"; for a bundle its exported precision).
        min_confidence: clauses below this confidence are not reported (0 keeps every candidate).
            With a span re-ranker (the shipped model has one) a confidence is the probability
            that the clause is right, as CUAD counts it.
        threads: intra-op threads of the clause model.
        clause_model: deprecated alias of ``model_path``.

    Example:
        >>> parser = ContractParser(output_format="dict", clauses=False)
        >>> parser.analyze(b"This Agreement is governed by the laws of the State of Ohio.", filename="a.txt")["governing_law"]
        ['Ohio']
    """

    app_name = "contracts"

    def __init__(
        self,
        model_path: str | Path | None = None,
        legal_terms_db: str | Path | None = None,
        output_format: str = "model",
        ocr_lang: str = "eng",
        ocr: str = "auto",
        ocr_workers: int = 2,
        limits: ReadLimits | None = None,
        clauses: bool = True,
        clause_backend: str | None = None,
        min_confidence: float = 0.5,
        threads: int = 2,
        clause_model: str | Path | None = None,
    ):
        self.model_path = model_path
        self.legal_terms_db = legal_terms_db
        self.output_format = output_format
        self.ocr_lang = ocr_lang
        self.ocr = ocr
        self.ocr_workers = ocr_workers
        self.limits = limits
        self.clauses = clauses
        self.clause_backend = clause_backend
        self.min_confidence = min_confidence
        self.threads = threads
        self.clause_model = clause_model

    # ------------------------------------------------------------------ the model
    def _model_location(self) -> Path | None:
        """``model_path``, or the deprecated ``clause_model``; None: the shipped model."""
        if self.clause_model is None:
            return None if self.model_path is None else Path(self.model_path)
        if self.model_path is not None and Path(self.model_path) != Path(self.clause_model):
            raise InvalidInputError(
                ErrorCode.CONTRACT_BAD_OPTION,
                "model_path and clause_model name different models",
                value=[str(self.model_path), str(self.clause_model)],
                hint="pass only model_path (clause_model is its deprecated alias)",
            )
        warnings.warn("clause_model= is deprecated: use model_path=", DeprecationWarning, stacklevel=3)
        return Path(self.clause_model)

    def source(self) -> ClauseSource:
        """Where the clause model comes from: the fitted one, a folder or a bundle (opened once)."""
        source = self.__dict__.get("_source")
        if source is None:
            source = self.__dict__.get("trained_") or open_source(self._model_location())
            self.__dict__["_source"] = source
        return source

    def _load_now(self) -> None:
        self.metrics_ = self.source().metrics
        self.legal_terms()
        if self.clauses:
            self.tagger()

    def legal_terms(self) -> LegalTerms:
        """The merged glossary (the default or the bundle's, + ``legal_terms_db``), loaded once."""
        terms = self.__dict__.get("_terms")
        if terms is None:
            own_model = "trained_" in self.__dict__ or self._model_location() is not None
            base = self.source().legal_terms if own_model else None
            terms = self.__dict__["_terms"] = load_legal_terms(self.legal_terms_db, base=base)
        return terms

    def tagger(self):
        """The clause model (a ``clauses.inference.ClauseRuntime``), loaded once."""
        runtime = self.__dict__.get("_tagger")
        if runtime is None:
            source = self.source()
            self.clause_backend_ = self.check_compatible("clause_backend", source.backend) or default_backend()
            runtime = self.__dict__["_tagger"] = source.runtime(self.clause_backend_, threads=self.threads)
        return runtime

    # ------------------------------------------------------------------ training
    def fit(
        self,
        data: str | Path,
        *,
        val_fraction: float = 0.2,
        test_fraction: float = 0.0,
        seed: int = 0,
        epochs: int = 2,
        progress: bool = True,
        **options: Any,
    ) -> ContractParser:
        """Train the clause tagger (and its lexical scorer) on a CUAD-layout folder.

        With at least 8 validation contracts the span re-ranker (``clauses.rerank``) and the
        window stacker (``clauses.stack``) are then fitted on the validation contracts' candidate
        clauses and windows: clause confidences become the probability that a clause is right,
        and ``metrics_["validation"]`` reports both cross-fitted (4 folds by contract) as
        ``span_reranked`` and ``window_stacked``, next to the decoder's ``span`` and the plain
        ``window`` scores. (The shipped model's were fitted on its training contracts instead:
        ``benchmarks/contracts_rerank.py --write``.)

        Args:
            data: a folder with ``labels.csv`` and ``contracts/*.txt`` (CUAD's layout).
            val_fraction / test_fraction: contracts held out (seeded, by contract) for the
                validation report (``metrics_``) and a test report.
            seed: the split seed, and the initialisation seed unless ``sample_seed`` is given.
            epochs: passes over the training windows.
            progress: show a progress bar.
            **options: ``clauses.train.TrainConfig`` fields (``neg_ratio``, ``rank``, ``lr``,
                ``head_lr``, ``batch_size``, ``size``, ``stride``, ``max_steps``, ``init``) and
                ``sample_seed`` (initialisation and window draws; continue a run with ``init``
                and a new ``sample_seed`` to keep the same held-out contracts).

        Example:
            >>> parser = ContractParser().fit("cuad/", epochs=1)  # doctest: +SKIP
            >>> parser.metrics_["validation"]["window"]["shipped"]["aupr"]  # doctest: +SKIP
        """
        from .fitting import fit_clauses

        self.trained_ = fit_clauses(
            data, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed, epochs=epochs,
            progress=progress, options=options, rules=self._rules_text,
        )  # fmt: skip
        self.metrics_ = self.trained_.metrics
        for private in ("_source", "_tagger"):
            self.__dict__.pop(private, None)
        return self

    def _rules_text(self, text: str) -> ContractAnalysis:
        """The rules' analysis of a contract's text (the CUAD span metrics add its parties and dates)."""
        rules = self.__dict__.get("_rules")
        if rules is None:
            rules = self.__dict__["_rules"] = ContractParser(legal_terms_db=self.legal_terms_db, clauses=False)
        return rules.analyze(text.encode("utf-8"), filename="contract.txt")

    def evaluate(
        self, data: str | Path, *, val_fraction: float | None = None, seed: int = 0, limit: int | None = None,
        baseline: bool = False, progress: bool = False,
    ) -> ContractMetrics:  # fmt: skip
        """Field P/R/F1 of the rules and clause AUPR of the tagger on labelled contracts.

        Args:
            data: a CUAD-layout folder.
            val_fraction: None scores every contract; else only the seeded held-out part
                (the one ``fit`` / ``contracts train`` validated on with the same ``seed``).
            limit: only the first ``limit`` contracts.
            baseline: also score TF-IDF + logistic regression trained on the other contracts.
        """
        from .fitting import evaluate_clauses

        return evaluate_clauses(
            self.tagger(), data, rules=ContractParser(legal_terms_db=self.legal_terms_db, clauses=False),
            val_fraction=val_fraction, seed=seed, limit=limit, baseline=baseline, progress=progress,
        )  # fmt: skip

    # ------------------------------------------------------------------ writing models
    def save(self, path: str | Path) -> Path:
        """Write the clause model folder (tagger adapters + heads, config and metrics, lexical scorer)."""
        return self.source().save(Path(path))

    def export(self, path: str | Path, int8: bool = True) -> Path:
        """Write an edge bundle (``.zip`` or folder) that runs without PyTorch.

        It holds the merged encoder as ONNX (dynamic INT8 when ``int8``), the tokenizer JSON,
        the lexical scorer, the legal terms and the config, with a hash-verified manifest;
        ``ContractParser.load(bundle)`` runs it with onnxruntime and ``tokenizers`` only.
        """
        return self.source().export(Path(path), int8=int8, legal_terms=self.legal_terms().to_dict())

    # ------------------------------------------------------------------ analysis
    def find_clauses(self, document: Document) -> list[Clause]:
        """Clauses of the 41 CUAD categories in ``document``, most confident first."""
        return self.find_clauses_many([document])[0]

    def find_clauses_many(self, documents: list[Document]) -> list[list[Clause]]:
        """``find_clauses`` of several documents, their windows batched together through the encoder."""
        split = [words(document.text) for document in documents]
        predicted = self.tagger().predict_many([tokens for tokens, _ in split])
        return [
            self._clauses(document, tokens, offsets, word_probs)
            for document, (tokens, offsets), (_, _, word_probs) in zip(documents, split, predicted)
        ]

    def _clauses(self, document: Document, tokens: list[str], offsets, word_probs) -> list[Clause]:
        if not tokens:
            return []
        found = []
        for category, spans in zip(CATEGORIES, self.tagger().clause_spans(tokens, word_probs)):
            for first, end, confidence in spans:
                if confidence < self.min_confidence:
                    continue
                start, stop = int(offsets[first, 0]), int(offsets[end - 1, 1])
                evidence = Evidence(page=document.page_at(start), start=start, end=stop, text=document.text[start:stop])
                found.append(Clause(category=category, confidence=round(confidence, 4), evidence=evidence))
        return sorted(found, key=lambda c: -c.confidence)

    def read(self, source: str | Path | bytes, filename: str = "") -> Document:
        """Only read ``source`` into a ``Document`` (pages, body text, tables)."""
        return read_document(
            source, filename=filename, limits=self.limits, ocr=self.ocr, ocr_lang=self.ocr_lang,
            ocr_workers=self.ocr_workers,
        )  # fmt: skip

    def predict(self, sources: Iterable[Source], errors: str = "raise") -> list[ContractAnalysis]:
        """Analyse contracts (paths, bytes or ``(file name, bytes)`` pairs) into ``ContractAnalysis``.

        With ``errors="record"`` a document that cannot be read gives a ``ContractAnalysis``
        whose ``error`` holds the coded error (its ``document.name`` says which) and the others
        are analysed as if it were absent: a source that is neither a path nor bytes (1313),
        text over ``ReadLimits.max_characters`` (1312), a decompression-bomb scan (1309), and
        any exception a reader library raises on one file (4002) included.

        The clause windows of up to ``DOCUMENTS_PER_BATCH`` documents share encoder batches
        (sorted by length); each ``elapsed_ms`` holds its document's share of that pass.

        Example:
            >>> ContractParser(clauses=False).predict([b"%PDF-1.4 broken"], errors="record")[0].error["code"]
            1303
        """
        items = list(enumerate(sources))
        out: list[ContractAnalysis] = []
        for start in range(0, len(items), DOCUMENTS_PER_BATCH):
            chunk = items[start : start + DOCUMENTS_PER_BATCH]
            read = map_items(chunk, lambda item: self._facts(*_named(item[1])), errors, _failed_pair)
            self._add_clauses([pair for pair in read if pair[1] is not None], errors)
            out += [analysis for analysis, _ in read]
        return out

    def analyze(self, source: str | Path | bytes, filename: str = "") -> ContractAnalysis | dict | str:
        """Read one contract (path or bytes) and extract its facts, in ``output_format``."""
        if self.output_format not in OUTPUT_FORMATS:
            raise InvalidInputError(
                ErrorCode.CONTRACT_BAD_OPTION, "unknown output_format", value=self.output_format,
                hint=f"use one of {OUTPUT_FORMATS}",
            )  # fmt: skip
        return self._render(self._analysis(source, filename))

    def analyze_many(self, sources: Iterable[Source], on_error: str = "raise") -> list[ContractAnalysis]:
        """``predict(sources, errors=on_error)``, under its earlier name."""
        if on_error not in ("raise", "record"):
            raise InvalidInputError(
                ErrorCode.CONTRACT_BAD_OPTION, "unknown on_error", value=on_error, hint="use 'raise' or 'record'"
            )
        return self.predict(sources, errors=on_error)

    def _analysis(self, source: str | Path | bytes, filename: str = "") -> ContractAnalysis:
        """Read and analyse one document; a library's exception becomes our ``BACKEND_FAILURE`` (4002)."""
        pair = self._facts(source, filename)
        self._add_clauses([pair], "raise")
        return pair[0]

    def _facts(self, source: str | Path | bytes, filename: str = "") -> tuple[ContractAnalysis, Document]:
        """Read one document and extract its facts by rules (clauses still empty), with its elapsed time."""
        started = time.perf_counter()
        with _backend_failure(filename or _display_name(source)):
            document = self.read(source, filename)
            analysis = self.analyze_document(document, clauses=False)
        analysis.elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
        return analysis, document

    def _add_clauses(self, pairs: list[tuple[ContractAnalysis, Document]], errors: str) -> None:
        """Fill the clauses of analysed documents in one batched pass; each analysis's ``elapsed_ms``
        gains its share (by characters) of the pass. With ``errors="record"`` a failing pass is
        retried document by document and a document that still fails records its error."""
        if not self.clauses or not pairs:
            return
        started = time.perf_counter()
        try:
            with _backend_failure(", ".join(a.document.name for a, _ in pairs)[:200]):
                found = self.find_clauses_many([document for _, document in pairs])
        except DeepSeekAppsError:
            if errors == "raise" or len(pairs) == 1:
                raise
            for analysis, document in pairs:
                try:
                    self._add_clauses([(analysis, document)], "raise")
                except DeepSeekAppsError as exc:
                    analysis.__dict__.update(ContractAnalysis.failed(analysis.document.name, exc.to_dict()).__dict__)
            return
        seconds = time.perf_counter() - started
        total = sum(max(1, len(document.text)) for _, document in pairs)
        for (analysis, document), clauses in zip(pairs, found):
            analysis.clauses, analysis.stage = clauses, "rules+model"
            analysis.elapsed_ms = round(analysis.elapsed_ms + 1000 * seconds * max(1, len(document.text)) / total, 3)

    def analyze_document(self, document: Document, clauses: bool | None = None) -> ContractAnalysis:
        """Extract the facts of an already read ``Document`` (``clauses``: None follows the parser's)."""
        found = extract(document, self.legal_terms())
        info = DocumentInfo(
            name=document.name, kind=document.kind, n_pages=len(document.pages), ocr_pages=document.ocr_pages,
            n_tables=len(document.tables), characters=len(document.text),
        )  # fmt: skip
        clauses = self.clauses if clauses is None else clauses
        return ContractAnalysis(
            document=info,
            parties=found.parties,
            dates=found.dates,
            governing_law=found.governing_law,
            facts=found.facts,
            relations=relations(document.text, found.parties, found.facts),
            definitions=found.definitions,
            clauses=self.find_clauses(document) if clauses else [],
            stage="rules+model" if clauses else "rules",
        )

    def _render(self, analysis: ContractAnalysis):
        if self.output_format == "dict":
            return analysis.to_dict()
        if self.output_format == "json":
            return analysis.to_json()
        if self.output_format == "markdown":
            return analysis.to_markdown()
        return analysis


def _named(source: Source) -> tuple[str | Path | bytes, str]:
    """(source, file name) of a path, bytes or a ``(file name, bytes)`` pair."""
    if isinstance(source, tuple) and len(source) == 2 and isinstance(source[0], str):
        return source[1], source[0]
    return source, ""


def _display_name(source: Any, index: int | None = None) -> str:
    if isinstance(source, tuple) and len(source) == 2 and isinstance(source[0], str):
        return source[0]
    if isinstance(source, str | Path):
        return str(source)
    number = "" if index is None else f" #{index}"
    if isinstance(source, bytes | bytearray | memoryview):
        return f"<bytes{number}>"
    return f"<{type(source).__name__}{number}>"


@contextmanager
def _backend_failure(name: str):
    """A reader or model library's exception on one document becomes our ``BACKEND_FAILURE`` (4002)."""
    try:
        yield
    except DeepSeekAppsError:
        raise
    except Exception as exc:  # a reader library failing on one odd file is that file's error
        raise RuntimeFailure(
            ErrorCode.BACKEND_FAILURE,
            f"unexpected {type(exc).__name__} while analysing the document: {exc}",
            value=f"{name}: {type(exc).__name__}: {exc}",
            hint="the file may be damaged; please report it if it opens elsewhere",
        ) from exc


def _failed_pair(item: tuple[int, Source], exc: DeepSeekAppsError) -> tuple[ContractAnalysis, None]:
    return _failed(item, exc), None


def _failed(item: tuple[int, Source], exc: DeepSeekAppsError) -> ContractAnalysis:
    index, source = item
    return ContractAnalysis.failed(_display_name(source, index), exc.to_dict())
