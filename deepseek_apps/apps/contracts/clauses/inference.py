"""Running a clause tagger without PyTorch: ONNX Runtime + ``tokenizers`` (+ the lexical scorer).

``ClauseRuntime`` holds what inference needs: something that turns an encoded batch into
(word logits, window logits), the tokenizer, the window layout of the training run and the
lexical scorer. ``ClauseRuntime.from_bundle`` opens an exported bundle (``export``) with
onnxruntime alone; ``runtime.ClauseModel`` builds the same object from a folder of trained
weights (PyTorch, or ONNX exported and cached on first use).

Example:
    >>> from deepseek_apps.core.runtime.bundle import read_bundle
    >>> runtime = ClauseRuntime.from_bundle(read_bundle("contracts_int8.zip"))  # doctest: +SKIP
    >>> spans, scores = runtime.detect(words, runtime.predict_words(words)[2])  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable

import numpy as np

from deepseek_apps.core.runtime.session import amx_bf16
from deepseek_apps.errors import ErrorCode, ModelFormatError

from .data import CATEGORIES, windows
from .decode import Span, SpanDecoder, sentence_ends
from .folder import CONFIG_FILE
from .lexical import VOCAB_FILE as LEXICAL_VOCAB
from .lexical import WEIGHTS_FILE as LEXICAL_WEIGHTS
from .lexical import LexicalScorer
from .rerank import SpanReranker, candidate_features
from .stack import WindowStacker, window_features
from .tokens import TOKENIZER_FILE, WordTokenizer

INPUTS = ("input_ids", "attention_mask", "word_index")
OUTPUTS = ("word_logits", "window_logits")
MODEL_FILE = "clause_tagger.onnx"
LEGAL_TERMS_FILE = "legal_terms.json"
REFINE = 0.3  # the cascade level (``ClauseRuntime``), chosen on the seed-0 CUAD validation split

Logits = Callable[[dict[str, np.ndarray]], tuple[np.ndarray, np.ndarray]]


# clause model runtimes: ONNX Runtime INT8 / FP32, OpenVINO bf16 (the FP32 graph on AMX), PyTorch
BACKENDS = ("onnx-int8", "onnx", "openvino-bf16", "torch")


def default_backend() -> str:
    """The clause model runtime for this machine: "openvino-bf16" where the CPU has AMX and
    OpenVINO is installed (1.6x faster than "onnx-int8" there, and closer to FP32: word
    probabilities within 0.01 of FP32 against 0.11 for INT8), else "onnx-int8"."""
    if amx_bf16() and importlib.util.find_spec("openvino") is not None:
        return "openvino-bf16"
    return "onnx-int8"


class ClauseRuntime:
    """The clause tagger ready for inference.

    Args:
        logits: encoded batch (numpy, ``INPUTS``) -> (word logits, window logits).
        tokenizer: the encoder's ``WordTokenizer``.
        meta: the training metadata (``clause_tagger.json``: config with ``size`` / ``stride``).
        lexical: the lexical scorer averaged into the window scores (None: tagger only).
        backend: a label for reports ("torch", "onnx", "onnx-int8").
        batch_size: windows per forward pass.
        stride: words between inference windows (default 30: a word can be read in two windows
            with different context, then averaged; the training stride is faster, a little
            less accurate).
        refine: a cascade: read the windows that tile the text, then the overlapping ones only
            around words scored at or above ``refine`` (None: read every window). The default
            0.3 (the span threshold) reads about 72% of the windows of real contracts with the
            same window / span AUPR on the seed-0 CUAD validation split.
    """

    def __init__(
        self,
        logits: Logits,
        tokenizer: WordTokenizer,
        meta: dict,
        lexical: LexicalScorer | None = None,
        backend: str = "onnx-int8",
        batch_size: int = 32,
        stride: int | None = 30,
        refine: float | None = REFINE,
    ):
        self.logits = logits
        self.refine = refine
        self.tokenizer = tokenizer
        self.meta = meta
        self.lexical = lexical
        self.backend = backend
        self.batch_size = batch_size
        self.size = int(meta["config"]["size"])
        self.window_stride = int(meta["config"]["stride"])
        self.stride = min(stride or self.window_stride, self.size)
        self.reranker = SpanReranker.from_meta(meta)
        self.window_stacker = WindowStacker.from_meta(meta)

    @classmethod
    def from_bundle(
        cls, bundle, threads: int = 2, batch_size: int = 32, stride: int | None = 30, refine: float | None = REFINE
    ) -> ClauseRuntime:
        """The runtime of an exported bundle (``core.runtime.bundle.Bundle``): onnxruntime only."""
        from deepseek_apps.core.runtime.session import OrtSession

        files = bundle.files
        needed = [bundle.manifest.get("model_file", MODEL_FILE), TOKENIZER_FILE, CONFIG_FILE]
        missing = [name for name in needed if name not in files]
        if missing:
            raise ModelFormatError(
                ErrorCode.BUNDLE_INVALID,
                f"not a contracts bundle: {missing} missing",
                value=bundle.source,
                hint="write one with ContractParser.export(path) or `deepseek-apps contracts export`",
            )
        session = OrtSession(files[needed[0]], threads=threads)
        lexical = None
        if LEXICAL_VOCAB in files and LEXICAL_WEIGHTS in files:
            lexical = LexicalScorer.from_bytes(files[LEXICAL_VOCAB], files[LEXICAL_WEIGHTS])
        return cls(
            onnx_logits(session),
            WordTokenizer.from_json(files[TOKENIZER_FILE].decode("utf-8")),
            json.loads(files[CONFIG_FILE]),
            lexical,
            backend=bundle.manifest.get("preprocessing", {}).get("backend", "onnx-int8"),
            batch_size=batch_size,
            stride=stride,
            refine=refine,
        )

    def predict_words(self, words: list[str]) -> tuple[list[tuple[int, int]], np.ndarray, np.ndarray]:
        """(windows, window probabilities (n_windows, 41), word probabilities (n_words, 41)).

        A word's probability is the mean over the windows that contain it (``predict_many``).
        """
        return self.predict_many([words])[0]

    def predict_many(self, documents: list[list[str]]) -> list[tuple[list[tuple[int, int]], np.ndarray, np.ndarray]]:
        """``predict_words`` of several documents, their windows batched together.

        Every window is tokenised once; each document's windows are sorted by token count and
        cut into batches of ``batch_size``, so a batch is padded to about its own length (a
        contract's windows run from about 60 to 128 tokens). A batch never mixes documents: the
        INT8 encoder quantizes activations with one scale per batch, so a document's clauses
        would otherwise depend on the documents read next to it. With ``refine`` the encoder
        first reads every other window (the windows that tile the text without overlap), then
        only those of the others that overlap a word the first pass scored at or above
        ``refine`` in some category; a window not read has probabilities 0 and its words take
        the mean over the windows that were read.
        """
        layouts = [windows(len(words), self.size, self.stride) for words in documents]
        texts = [words[a:b] for words, spans in zip(documents, layouts) for a, b in spans]
        window_probs = np.zeros((len(texts), len(CATEGORIES)), dtype=np.float32)
        word_probs: list[np.ndarray | None] = [None] * len(texts)
        doc_of = np.repeat(np.arange(len(layouts)), [len(spans) for spans in layouts])
        if self.refine is None:
            self._encode(texts, range(len(texts)), window_probs, word_probs, doc_of)
            return self._average(documents, layouts, window_probs, word_probs)
        first, offset = _tiling(layouts, self.size)
        self._encode(texts, first, window_probs, word_probs, doc_of)
        rough = self._average(documents, layouts, window_probs, word_probs)
        starts = np.cumsum([0, *(len(spans) for spans in layouts)])
        wanted = [i for i in offset if _flagged(rough, layouts, starts, i, self.refine)]
        self._encode(texts, wanted, window_probs, word_probs, doc_of)
        return self._average(documents, layouts, window_probs, word_probs)

    def _encode(self, texts: list[list[str]], which, window_probs: np.ndarray, word_probs: list, doc_of) -> None:
        """Run the encoder on the windows ``which`` (indices into ``texts``), per document, sorted by length."""
        which = np.asarray(list(which), dtype=np.int64)
        if not which.size:
            return
        rows = self.tokenizer.tokenize([texts[i] for i in which])
        order = np.lexsort(([len(e.ids) for e in rows], doc_of[which]))  # by document, then by length
        bounds = np.flatnonzero(np.diff(doc_of[which][order])) + 1
        for group in np.split(order, bounds):
            for start in range(0, len(group), self.batch_size):
                chunk = group[start : start + self.batch_size]
                batch = self.tokenizer.pack([rows[r] for r in chunk], [texts[which[r]] for r in chunk])
                word_logits, window_logits = self.logits(batch)
                window_probs[which[chunk]] = sigmoid(window_logits)
                probs = sigmoid(word_logits)
                for row, r in enumerate(chunk):
                    word_probs[which[r]] = probs[row, : len(texts[which[r]])]

    @staticmethod
    def _average(documents, layouts, window_probs: np.ndarray, word_probs: list) -> list:
        """Per document (windows, window probabilities, word probabilities averaged over the windows read)."""
        out, first = [], 0
        for words, spans in zip(documents, layouts):
            word_sum = np.zeros((len(words), window_probs.shape[1]), dtype=np.float32)
            word_count = np.zeros((len(words), 1), dtype=np.float32)
            for k, (a, b) in enumerate(spans):  # in window order, as for one document alone
                if word_probs[first + k] is not None:
                    word_sum[a:b] += word_probs[first + k]
                    word_count[a:b] += 1
            out.append((spans, window_probs[first : first + len(spans)], word_sum / np.maximum(word_count, 1)))
            first += len(spans)
        return out

    def window_parts(
        self, words: list[str], word_probs: np.ndarray
    ) -> tuple[list[tuple[int, int]], np.ndarray, np.ndarray | None]:
        """Detection windows (``size`` words every ``window_stride``), the tagger's highest word
        probability in each, and the lexical scores (None without a lexical scorer)."""
        spans = windows(len(words), self.size, self.window_stride)
        if not spans:
            empty = np.zeros((0, len(CATEGORIES)), dtype=np.float32)
            return spans, empty, None if self.lexical is None else empty
        tagger = np.stack([word_probs[a:b].max(axis=0) for a, b in spans])
        lexical = None if self.lexical is None else self.lexical.score([" ".join(words[a:b]) for a, b in spans])
        return spans, tagger, lexical

    def clause_spans(
        self, words: list[str], word_probs: np.ndarray, decoder: SpanDecoder | None = None
    ) -> list[list[Span]]:
        """Per category the candidate clauses (first word, end word, confidence), most confident
        first: the decoder's spans, their confidences replaced by the span re-ranker's
        probability of being right when the model has one (``rerank``; ``self.reranker = None``
        keeps the decoder's ranking)."""
        found = (decoder or SpanDecoder()).decode(word_probs, ends=sentence_ends(words))
        if self.reranker is None or not any(found):
            return found
        spans, tagger, lexical = self.window_parts(words, word_probs)
        x, cats = candidate_features(found, word_probs, spans, combine(tagger, lexical), lexical)
        return self.reranker.rescore(found, x, cats)

    def window_scores(
        self,
        word_probs: np.ndarray,
        spans: list[tuple[int, int]],
        tagger: np.ndarray,
        lexical: np.ndarray | None,
        features: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        """(n_windows, 41) clause scores of ``window_parts``' windows: the model's window stacker
        (``stack``) when it has one and a lexical scorer, else tagger and lexical averaged.
        ``features``: the stacker's inputs (``stack.window_features``) when the caller has them."""
        if self.window_stacker is None or lexical is None or not spans:
            return combine(tagger, lexical)
        return self.window_stacker.scores(*(features or window_features(word_probs, spans, tagger, lexical)))

    def detect(self, words: list[str], word_probs: np.ndarray) -> tuple[list[tuple[int, int]], np.ndarray]:
        """Detection windows and their (n, 41) clause scores (``window_scores``)."""
        spans, tagger, lexical = self.window_parts(words, word_probs)
        return spans, self.window_scores(word_probs, spans, tagger, lexical)


def onnx_logits(session) -> Logits:
    """``ClauseRuntime.logits`` for an ONNX session (``core.runtime.session.OrtSession``)."""

    def run(batch: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        word, window = session.run({name: np.asarray(batch[name]) for name in INPUTS})
        return word, window

    return run


def _tiling(layouts: list[list[tuple[int, int]]], size: int) -> tuple[list[int], list[int]]:
    """Global window indices: (windows that tile each document without overlap, the others)."""
    first, others, at = [], [], 0
    for spans in layouts:
        end = 0
        for k, (a, b) in enumerate(spans):
            if a >= end or k == len(spans) - 1:  # the last window always: it covers the tail
                first.append(at + k)
                end = b
            else:
                others.append(at + k)
        at += len(spans)
    return first, others


def _flagged(rough: list, layouts: list, starts: np.ndarray, index: int, level: float) -> bool:
    """Whether the first pass scored a word of window ``index`` (global) at or above ``level``."""
    doc = int(np.searchsorted(starts, index, side="right") - 1)
    a, b = layouts[doc][index - starts[doc]]
    return bool((rough[doc][2][a:b] >= level).any())


def combine(tagger: np.ndarray, lexical: np.ndarray | None) -> np.ndarray:
    """The shipped window score: the unweighted mean of tagger and lexical scores."""
    return (tagger if lexical is None else (tagger + lexical) / 2).astype(np.float32)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
