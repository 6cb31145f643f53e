"""Lexical clause scorer: TF-IDF word 1-2 grams + one logistic regression per CUAD category.

It is the baseline the tagger is measured against and, averaged with the tagger, part of
the shipped window scores (lexical cues such as "escrow" or "most favored" complement the
encoder). It is stored without pickles: the vocabulary as JSON, the idf weights and the
regression coefficients as safetensors (FP16).

Example:
    >>> import numpy as np
    >>> texts = ["governed by the laws of Ohio", "shall not assign this agreement", "laws of Texas govern"] * 3
    >>> labels = np.array([[1, 0], [0, 1], [1, 0]] * 3)
    >>> scorer = LexicalScorer(min_df=1).fit(texts, labels)
    >>> bool(scorer.score(["the laws of Nevada"])[0, 0] > scorer.score(["the laws of Nevada"])[0, 1])
    True
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from deepseek_apps.errors import ErrorCode, MissingResourceError

VOCAB_FILE = "clause_lexical.json"
WEIGHTS_FILE = "clause_lexical.safetensors"


class LexicalScorer:
    """TF-IDF (1-2 grams, sublinear tf) and per-category logistic regression (liblinear, C=1)."""

    def __init__(self, max_features: int = 50_000, min_df: int = 2, c: float = 1.0):
        self.max_features = max_features
        self.min_df = min_df
        self.c = c

    def _vectorizer(self, vocabulary=None):
        from sklearn.feature_extraction.text import TfidfVectorizer

        return TfidfVectorizer(
            ngram_range=(1, 2),
            min_df=self.min_df,
            sublinear_tf=True,
            max_features=self.max_features,
            vocabulary=vocabulary,
            dtype=np.float32,
        )

    def fit(self, texts: list[str], labels: np.ndarray) -> LexicalScorer:
        from sklearn.linear_model import LogisticRegression

        self.vectorizer_ = self._vectorizer()
        x = self.vectorizer_.fit_transform(texts)
        self.coef_ = np.zeros((labels.shape[1], x.shape[1]), dtype=np.float32)
        self.intercept_ = np.full(labels.shape[1], -10.0, dtype=np.float32)  # never seen: never fires
        for k in range(labels.shape[1]):
            if labels[:, k].min() != labels[:, k].max():
                model = LogisticRegression(C=self.c, solver="liblinear", max_iter=200).fit(x, labels[:, k])
                self.coef_[k], self.intercept_[k] = model.coef_[0], model.intercept_[0]
        return self

    def score(self, texts: list[str]) -> np.ndarray:
        """(n_texts, n_categories) probabilities."""
        logits = self.vectorizer_.transform(texts) @ self.coef_.T + self.intercept_
        return 1.0 / (1.0 + np.exp(-np.asarray(logits)))

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        vocab, weights = self.to_bytes()
        (folder / VOCAB_FILE).write_bytes(vocab)
        (folder / WEIGHTS_FILE).write_bytes(weights)

    @classmethod
    def load(cls, folder: str | Path) -> LexicalScorer:
        folder = Path(folder)
        if not (folder / VOCAB_FILE).is_file() or not (folder / WEIGHTS_FILE).is_file():
            raise MissingResourceError(
                ErrorCode.DEFAULT_MODEL_MISSING, "no lexical clause scorer here", value=str(folder)
            )
        return cls.from_bytes((folder / VOCAB_FILE).read_bytes(), (folder / WEIGHTS_FILE).read_bytes())

    def to_bytes(self) -> tuple[bytes, bytes]:
        """(vocabulary JSON, safetensors weights): the two files ``save`` writes."""
        from safetensors.numpy import save

        vocabulary = {term: int(i) for term, i in self.vectorizer_.vocabulary_.items()}
        params = {"max_features": self.max_features, "min_df": self.min_df, "c": self.c}
        tensors = {
            "idf": self.vectorizer_.idf_.astype(np.float32),
            "coef": self.coef_.astype(np.float16),
            "intercept": self.intercept_.astype(np.float32),
        }
        return json.dumps({"params": params, "vocabulary": vocabulary}).encode(), save(tensors)

    @classmethod
    def from_bytes(cls, vocab: bytes, weights: bytes) -> LexicalScorer:
        """The scorer of ``to_bytes``' two files (JSON and safetensors: no pickle)."""
        from ....core.runtime.bundle import load_safetensors_bytes

        meta = json.loads(vocab)
        tensors = load_safetensors_bytes(weights, name=WEIGHTS_FILE, extra="contracts")
        scorer = cls(**meta["params"])
        scorer.vectorizer_ = scorer._vectorizer(vocabulary=meta["vocabulary"])
        scorer.vectorizer_.idf_ = tensors["idf"]
        scorer.coef_ = tensors["coef"].astype(np.float32)
        scorer.intercept_ = tensors["intercept"]
        return scorer
