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

import json
from collections.abc import Callable

import numpy as np

from deepseek_apps.errors import ErrorCode, ModelFormatError

from .data import CATEGORIES, windows
from .folder import CONFIG_FILE
from .lexical import VOCAB_FILE as LEXICAL_VOCAB
from .lexical import WEIGHTS_FILE as LEXICAL_WEIGHTS
from .lexical import LexicalScorer
from .tokens import TOKENIZER_FILE, WordTokenizer

INPUTS = ("input_ids", "attention_mask", "word_index")
OUTPUTS = ("word_logits", "window_logits")
MODEL_FILE = "clause_tagger.onnx"
LEGAL_TERMS_FILE = "legal_terms.json"

Logits = Callable[[dict[str, np.ndarray]], tuple[np.ndarray, np.ndarray]]


class ClauseRuntime:
    """The clause tagger ready for inference.

    Args:
        logits: encoded batch (numpy, ``INPUTS``) -> (word logits, window logits).
        tokenizer: the encoder's ``WordTokenizer``.
        meta: the training metadata (``clause_tagger.json``: config with ``size`` / ``stride``).
        lexical: the lexical scorer averaged into the window scores (None: tagger only).
        backend: a label for reports ("torch", "onnx", "onnx-int8").
        batch_size: windows per forward pass.
        stride: words between inference windows (default 30: every word is read in two windows
            with different context, then averaged; the training stride is faster, a little
            less accurate).
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
    ):
        self.logits = logits
        self.tokenizer = tokenizer
        self.meta = meta
        self.lexical = lexical
        self.backend = backend
        self.batch_size = batch_size
        self.size = int(meta["config"]["size"])
        self.window_stride = int(meta["config"]["stride"])
        self.stride = min(stride or self.window_stride, self.size)

    @classmethod
    def from_bundle(cls, bundle, threads: int = 2, batch_size: int = 32, stride: int | None = 30) -> ClauseRuntime:
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
        )

    def predict_words(self, words: list[str]) -> tuple[list[tuple[int, int]], np.ndarray, np.ndarray]:
        """(windows, window probabilities (n_windows, 41), word probabilities (n_words, 41)).

        A word's probability is the mean over the windows that contain it.
        """
        spans = windows(len(words), self.size, self.stride)
        window_probs = np.zeros((len(spans), len(CATEGORIES)), dtype=np.float32)
        word_sum = np.zeros((len(words), len(CATEGORIES)), dtype=np.float32)
        word_count = np.zeros((len(words), 1), dtype=np.float32)
        for start in range(0, len(spans), self.batch_size):
            chunk = spans[start : start + self.batch_size]
            word_logits, window_logits = self.logits(self.tokenizer.encode([words[a:b] for a, b in chunk]))
            window_probs[start : start + len(chunk)] = sigmoid(window_logits)
            probs = sigmoid(word_logits)
            for row, (a, b) in enumerate(chunk):
                word_sum[a:b] += probs[row, : b - a]
                word_count[a:b] += 1
        return spans, window_probs, word_sum / np.maximum(word_count, 1)

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

    def detect(self, words: list[str], word_probs: np.ndarray) -> tuple[list[tuple[int, int]], np.ndarray]:
        """Detection windows and their (n, 41) clause scores: tagger and lexical averaged."""
        spans, tagger, lexical = self.window_parts(words, word_probs)
        return spans, combine(tagger, lexical)


def onnx_logits(session) -> Logits:
    """``ClauseRuntime.logits`` for an ONNX session (``core.runtime.session.OrtSession``)."""

    def run(batch: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        word, window = session.run({name: np.asarray(batch[name]) for name in INPUTS})
        return word, window

    return run


def combine(tagger: np.ndarray, lexical: np.ndarray | None) -> np.ndarray:
    """The shipped window score: the unweighted mean of tagger and lexical scores."""
    return (tagger if lexical is None else (tagger + lexical) / 2).astype(np.float32)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
