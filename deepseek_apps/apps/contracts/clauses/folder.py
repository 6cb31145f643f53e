"""The files of a trained clause model folder (what ``save`` / ``contracts train`` write), torch-free.

- ``clause_tagger.safetensors``: the LoRA adapters and the two heads;
- ``clause_tagger.json``: the training config, the categories, losses and validation metrics;
- ``clause_lexical.json`` + ``clause_lexical.safetensors``: the lexical scorer (optional). A
  folder without them whose JSON names ``lexical_from`` (a shipped contracts model, e.g.
  "default") uses that model's scorer: the shipped models share one (fitted on the same
  contracts, it is the same file) instead of carrying 5 MB each.
"""

from __future__ import annotations

import json
from pathlib import Path

from deepseek_apps.core.registry import get_model
from deepseek_apps.errors import ErrorCode, MissingResourceError

from .lexical import VOCAB_FILE as LEXICAL_FILE
from .lexical import LexicalScorer

WEIGHTS_FILE = "clause_tagger.safetensors"
CONFIG_FILE = "clause_tagger.json"


def default_dir() -> Path:
    """The shipped clause model folder (``core.registry``: ``contracts`` / ``default``)."""
    return get_model("contracts").path


def read_folder(folder: str | Path | None) -> tuple[bytes, dict, LexicalScorer | None]:
    """(weights bytes, metadata, lexical scorer or None) of a trained model folder."""
    folder = Path(folder) if folder else default_dir()
    if not (folder / CONFIG_FILE).is_file() or not (folder / WEIGHTS_FILE).is_file():
        raise MissingResourceError(
            ErrorCode.DEFAULT_MODEL_MISSING,
            "no trained clause tagger here",
            value=str(folder),
            hint=f"expected {WEIGHTS_FILE} and {CONFIG_FILE}; train one with `deepseek-apps contracts train`",
        )
    meta = json.loads((folder / CONFIG_FILE).read_text())
    lexical = None
    if (folder / LEXICAL_FILE).is_file():
        lexical = LexicalScorer.load(folder)
    elif meta.get("lexical_from"):
        lexical = LexicalScorer.load(get_model("contracts", meta["lexical_from"]).path)
    return (folder / WEIGHTS_FILE).read_bytes(), meta, lexical


def write_folder(out: str | Path, weights: bytes, meta: dict, lexical: LexicalScorer | None) -> Path:
    """Write a model folder ``read_folder`` opens again; returns it."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / WEIGHTS_FILE).write_bytes(weights)
    (out / CONFIG_FILE).write_text(json.dumps(meta, indent=2))
    if lexical is not None:
        lexical.save(out)
    return out
