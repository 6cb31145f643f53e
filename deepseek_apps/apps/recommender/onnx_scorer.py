"""Run an exported recommender bundle with ONNX Runtime and numpy only (no PyTorch).

The graph takes the five int64 inputs of ``DIN.forward`` and returns the click probability
and the attention weights. ``export.export_bundle`` writes the bundle; ``load_bundle`` opens
it as a ``SavedModel`` without weights plus the ``OnnxScorer`` that scores with it.

Example:
    >>> from deepseek_apps.apps.recommender.onnx_scorer import load_bundle
    >>> saved, scorer = load_bundle("rec.zip")  # doctest: +SKIP
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...core.runtime.bundle import load_safetensors_bytes, read_bundle
from ...errors import ErrorCode, ModelFormatError
from .data import Catalog
from .persist import SavedModel

INPUTS = ["user_feats", "item", "category", "hist_items", "hist_cats"]
OUTPUTS = ["prob", "attention"]
AXES = {
    "user_feats": {0: "user_batch"},
    "item": {0: "batch"},
    "category": {0: "batch"},
    "hist_items": {0: "hist_batch", 1: "hist_len"},
    "hist_cats": {0: "hist_batch", 1: "hist_len"},
    "prob": {0: "batch"},
    "attention": {0: "batch", 1: "hist_len"},
}


@dataclass
class OnnxScorer:
    """Scores with ONNX Runtime from a bundle: ``run(feats, items, cats, hist, hist_cats) -> (prob, att)``.

    A single history (batch 1) goes to the shared-history graph, anything else to the general one.
    """

    session: object
    config: dict
    arrays: dict[str, np.ndarray]  # item_category, user_feature_codes, hist_indptr, hist_items
    shared_session: object = None

    @classmethod
    def from_bundle(cls, path: str | Path, threads: int = 1) -> OnnxScorer:
        from ...core.runtime.session import OrtSession

        bundle = read_bundle(path)
        if bundle.manifest.get("application") != "recommender":
            raise ModelFormatError(
                ErrorCode.RECOMMENDER_MODEL_INVALID,
                "the bundle is not a recommender bundle",
                value=bundle.manifest.get("application"),
                hint="export one with `deepseek-apps recommender export`",
            )
        arrays = load_safetensors_bytes(
            bundle.files["catalog.safetensors"], name="catalog.safetensors", extra="recommender"
        )
        shared = bundle.files.get("model_shared.onnx")
        return cls(
            OrtSession(bundle.model_bytes, threads=threads),
            json.loads(bundle.files["config.json"]),
            arrays,
            OrtSession(shared, threads=threads) if shared else None,
        )

    def run(self, feats, items, cats, hist, hist_cats) -> tuple[np.ndarray, np.ndarray]:
        one = hist.shape[0] == 1 and feats.shape[0] == 1
        session = self.shared_session if one and self.shared_session is not None else self.session
        out = session.run(dict(zip(INPUTS, (feats, items, cats, hist, hist_cats))))
        return out[0], out[1]


def load_bundle(path: str | Path, threads: int = 1) -> tuple[SavedModel, OnnxScorer]:
    """A ``SavedModel`` without PyTorch weights (``model`` is None) and the ``OnnxScorer`` of an edge bundle."""
    scorer = OnnxScorer.from_bundle(path, threads=threads)
    config, arrays = scorer.config, scorer.arrays
    catalog = Catalog.from_dict(config["catalog"], arrays["item_category"], arrays["user_feature_codes"])
    saved = SavedModel(
        None,
        catalog,
        arrays["hist_indptr"],
        arrays["hist_items"],
        config["params"],
        config["metrics"],
        config.get("model", {}),
    )
    return saved, scorer
