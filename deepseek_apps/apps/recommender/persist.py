"""Save / load a fitted recommender: safetensors for tensors, JSON for everything else.

A model folder holds ``model.safetensors`` (weights), ``catalog.safetensors`` (item
categories, user feature codes, the users' click histories as CSR arrays) and
``config.json`` (architecture, id vocabularies, settings, metrics and the sha256 of both
tensor files). Loading checks the hashes and never unpickles anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ...core.runtime.bundle import sha256
from ...errors import ErrorCode, MissingResourceError, ModelFormatError
from .data import Catalog

if TYPE_CHECKING:
    from .model import DIN

FORMAT = "deepseek-apps-din"


@dataclass
class SavedModel:
    """A fitted model and what serving it needs; ``model`` is None when opened from an ONNX bundle.

    Attributes:
        architecture: the ``DINConfig`` as a dict (also kept for bundles, which carry no weights).
        params: ``max_len``, ``negatives`` and the training settings.
    """

    model: DIN | None
    catalog: Catalog
    hist_indptr: np.ndarray
    hist_items: np.ndarray
    params: dict
    metrics: dict
    architecture: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.architecture and self.model is not None:
            self.architecture = self.model.config.to_dict()


def save_model(out: str | Path, saved: SavedModel) -> Path:
    from safetensors.numpy import save as save_np
    from safetensors.torch import save

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in saved.model.state_dict().items()}
    (out / "model.safetensors").write_bytes(save(state))  # save_file would write mode 0600
    (out / "catalog.safetensors").write_bytes(
        save_np(
            {
                "item_category": saved.catalog.item_category.astype(np.int64),
                "user_feature_codes": np.ascontiguousarray(saved.catalog.user_feature_codes, np.int64),
                "hist_indptr": saved.hist_indptr.astype(np.int64),
                "hist_items": saved.hist_items.astype(np.int64),
            }
        )
    )
    config = {
        "format": FORMAT,
        "model": saved.model.config.to_dict(),
        "catalog": saved.catalog.to_dict(),
        "params": saved.params,
        "metrics": saved.metrics,
        "sha256": {name: sha256((out / name).read_bytes()) for name in ("model.safetensors", "catalog.safetensors")},
    }
    (out / "config.json").write_text(json.dumps(config, indent=1, default=float))
    return out


def load_model(path: str | Path) -> SavedModel:
    from ...core.runtime.bundle import load_safetensors_bytes
    from .model import DIN, DINConfig

    path = Path(path)
    if not (path / "config.json").is_file():
        raise MissingResourceError(
            ErrorCode.FILE_NOT_FOUND,
            "no recommender model (config.json) in the folder",
            value=str(path),
            hint="pass a folder written by DINRecommender.save or `deepseek-apps recommender train`",
        )
    try:
        config = json.loads((path / "config.json").read_text())
    except json.JSONDecodeError as exc:
        raise ModelFormatError(
            ErrorCode.RECOMMENDER_MODEL_INVALID, f"config.json is not JSON ({exc})", value=str(path)
        ) from exc
    if config.get("format") != FORMAT:
        raise ModelFormatError(
            ErrorCode.RECOMMENDER_MODEL_INVALID,
            "not a DINRecommender model folder",
            value=config.get("format"),
            hint="re-save the model with DINRecommender.save",
        )
    for name, digest in config["sha256"].items():
        if not (path / name).is_file() or sha256((path / name).read_bytes()) != digest:
            raise ModelFormatError(
                ErrorCode.BUNDLE_HASH_MISMATCH,
                f"'{name}' is missing or does not match its sha256 in config.json",
                value=str(path / name),
                hint="the model folder was modified or corrupted; copy or re-train it",
            )
    arrays = load_safetensors_bytes(
        (path / "catalog.safetensors").read_bytes(), name="catalog.safetensors", extra="recommender"
    )
    catalog = Catalog.from_dict(config["catalog"], arrays["item_category"], arrays["user_feature_codes"])
    model = DIN(DINConfig.from_dict(config["model"]))
    try:
        model.load_state_dict(
            load_safetensors_bytes(
                (path / "model.safetensors").read_bytes(),
                name="model.safetensors",
                framework="torch",
                extra="recommender",
            )
        )
    except RuntimeError as exc:
        raise ModelFormatError(
            ErrorCode.RECOMMENDER_CONFIG_INVALID,
            f"weights do not match the architecture in config.json ({str(exc)[:200]})",
            value=str(path),
        ) from exc
    model.eval()
    return SavedModel(
        model,
        catalog,
        arrays["hist_indptr"],
        arrays["hist_items"],
        config["params"],
        config["metrics"],
        config["model"],
    )
