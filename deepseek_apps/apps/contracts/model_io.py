"""Where a parser's clause model comes from: fitted in memory, a model folder or an exported bundle.

``open_source(path)`` opens a folder (``save`` / ``contracts train``) or a bundle (``export``)
without importing PyTorch; ``ClauseSource.runtime`` then builds the inference engine (a
bundle needs only onnxruntime and ``tokenizers``), ``save`` writes a folder and ``export``
a hash-verified bundle.

Example:
    >>> source = open_source(None)  # the shipped model folder
    >>> source.bundle is None and source.meta["config"]["size"]
    60
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepseek_apps.core.runtime.bundle import Bundle, read_bundle, write_bundle
from deepseek_apps.errors import ErrorCode, MissingResourceError, ModelFormatError

from .clauses.data import CATEGORIES
from .clauses.folder import CONFIG_FILE, default_dir, read_folder, write_folder
from .clauses.inference import INPUTS, LEGAL_TERMS_FILE, MODEL_FILE, OUTPUTS, ClauseRuntime
from .clauses.lexical import LexicalScorer
from .clauses.tokens import MAX_TOKENS, TOKENIZER_FILE, WordTokenizer

APPLICATION = "contracts"


@dataclass
class ClauseSource:
    """A clause model: trained weights (adapters + heads) with metadata, or an exported bundle.

    Attributes:
        weights: the safetensors bytes of the adapters and heads (None for a bundle).
        meta: ``clause_tagger.json`` (config, categories, losses, validation metrics).
        lexical: the lexical scorer (None: tagger only).
        bundle: the exported bundle it was read from, or None.
        where: the folder or bundle path, or "fitted".
        metrics: the metrics of the training run (``fit``), else those recorded in ``meta``.
    """

    weights: bytes | None
    meta: dict
    lexical: LexicalScorer | None
    bundle: Bundle | None = None
    where: str = "fitted"
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def backend(self) -> str | None:
        """The precision a bundle was exported with ("onnx-int8" / "onnx"); None for weights."""
        return None if self.bundle is None else self.bundle.manifest["preprocessing"]["backend"]

    @property
    def legal_terms(self) -> dict | None:
        """The glossary a bundle carries (None: the package's default)."""
        if self.bundle is None or LEGAL_TERMS_FILE not in self.bundle.files:
            return None
        return json.loads(self.bundle.files[LEGAL_TERMS_FILE])

    def runtime(self, backend: str, threads: int = 2) -> ClauseRuntime:
        """The inference engine: the bundle's ONNX graph, or the weights on ``backend``."""
        if self.bundle is not None:
            return ClauseRuntime.from_bundle(self.bundle, threads=threads)
        from .clauses.runtime import ClauseModel

        return ClauseModel(backend=backend, threads=threads, trained=(self.weights, self.meta, self.lexical))

    def save(self, out: Path) -> Path:
        """Write the model folder (``ContractParser.load`` opens it)."""
        if self.weights is None:
            raise ModelFormatError(
                ErrorCode.UNSUPPORTED_FORMAT,
                "an exported bundle holds an ONNX graph, not the trainable weights a model folder needs",
                value=self.where,
                hint="save the model folder the bundle was exported from, or use the bundle itself",
            )
        return write_folder(out, self.weights, self.meta, self.lexical)

    def onnx_bytes(self, int8: bool) -> bytes:
        backend = "onnx-int8" if int8 else "onnx"
        if self.bundle is not None:
            if self.backend != backend:
                raise ModelFormatError(
                    ErrorCode.UNSUPPORTED_FORMAT,
                    f"this bundle holds a {self.backend} graph, not {backend}",
                    value=self.where,
                    hint="export from the model folder to change the precision",
                )
            return self.bundle.model_bytes
        from .clauses.export import cached_onnx
        from .clauses.runtime import merged_tagger

        weights, meta = self.weights, self.meta
        return cached_onnx(weights, backend, lambda: merged_tagger(weights, meta)).read_bytes()

    def export(self, out: Path, int8: bool, legal_terms: dict) -> Path:
        """Write the edge bundle: ONNX graph, tokenizer, lexical scorer, legal terms and config."""
        tokenizer = (
            self.bundle.files[TOKENIZER_FILE].decode() if self.bundle is not None else WordTokenizer.default().to_json()
        )
        files = {
            MODEL_FILE: self.onnx_bytes(int8),
            TOKENIZER_FILE: tokenizer.encode("utf-8"),
            CONFIG_FILE: json.dumps(self.meta, indent=2).encode(),
            LEGAL_TERMS_FILE: json.dumps(legal_terms, indent=2).encode(),
        }
        if self.lexical is not None:
            vocab, weights = self.lexical.to_bytes()
            files.update({"clause_lexical.json": vocab, "clause_lexical.safetensors": weights})
        config = self.meta["config"]
        manifest = {
            "application": APPLICATION,
            "version": 1,
            "class_names": list(CATEGORIES),
            "model_file": MODEL_FILE,
            "preprocessing": {
                "backend": "onnx-int8" if int8 else "onnx",
                "tokenizer": TOKENIZER_FILE,
                "max_tokens": MAX_TOKENS,
                "window_size": int(config["size"]),
                "window_stride": int(config["stride"]),
                "words": "whitespace-separated; word_index = first sub-token of each word",
            },
            "input_spec": {"inputs": list(INPUTS), "outputs": list(OUTPUTS), "dtype": "int64"},
            "metrics": self.metrics or self.meta.get("validation", {}),
            "runtime": "onnxruntime + tokenizers (no PyTorch): ContractParser.load(bundle)",
        }
        return write_bundle(out, manifest, files)


def shipped_metrics(name: str = "default") -> dict[str, Any]:
    """The metrics the shipped model ``name`` is registered with (``assets/models.json``)."""
    from deepseek_apps.core.registry import get_model

    return dict(get_model(APPLICATION, name).metrics)


def shipped_models() -> dict[str, Path]:
    """{name: folder} of the shipped contracts models (``core.registry``)."""
    from deepseek_apps.core.registry import list_models

    return {m.name: m.path for m in list_models(APPLICATION)}


def is_bundle(path: Path) -> bool:
    return path.suffix == ".zip" or (path.is_dir() and (path / "manifest.json").is_file())


def open_source(path: Path | None) -> ClauseSource:
    """The clause model at ``path`` (a folder or bundle; None: the shipped folder). A path that
    does not exist but is a shipped model's name (``deepseek-apps models``: "default", "fast")
    opens that model."""
    shipped = shipped_models()
    path = Path(path) if path is not None else default_dir()
    if not path.exists() and str(path) in shipped:
        path = shipped[str(path)]
    if not path.exists():
        raise MissingResourceError(
            ErrorCode.FILE_NOT_FOUND if path.suffix else ErrorCode.DIRECTORY_NOT_FOUND,
            "no clause model at this path",
            value=str(path),
            hint="pass a folder written by fit/save (`contracts train`), a bundle written by export, "
            f"or a shipped model's name: {sorted(shipped)}",
        )
    if not is_bundle(path):
        weights, meta, lexical = read_folder(path)
        names = {folder.resolve(): name for name, folder in shipped.items()}
        metrics = meta.get("validation") or (shipped_metrics(names[path.resolve()]) if path.resolve() in names else {})
        return ClauseSource(weights, meta, lexical, where=str(path), metrics=metrics)
    bundle = read_bundle(path)
    if bundle.manifest.get("application") != APPLICATION:
        raise ModelFormatError(
            ErrorCode.BUNDLE_INVALID,
            f"this bundle is for {bundle.manifest.get('application')!r}, not contracts",
            value=str(path),
            hint="export one with ContractParser.export(path) or `deepseek-apps contracts export`",
        )
    meta = json.loads(bundle.files[CONFIG_FILE]) if CONFIG_FILE in bundle.files else {}
    lexical = None
    if "clause_lexical.json" in bundle.files and "clause_lexical.safetensors" in bundle.files:
        lexical = LexicalScorer.from_bytes(
            bundle.files["clause_lexical.json"], bundle.files["clause_lexical.safetensors"]
        )
    return ClauseSource(None, meta, lexical, bundle=bundle, where=str(path), metrics=bundle.manifest.get("metrics", {}))


__all__ = ["ClauseSource", "default_dir", "is_bundle", "open_source"]
