"""Save, export and load a fitted ``FraudDetector``: safetensors + JSON + LightGBM text, hashed.

A model folder (or ``.zip``) holds ``manifest.json`` (sha256 of every file, metrics,
feature names), ``config.json``, ``gnn.safetensors``, ``trees.txt`` / ``hybrid.txt``
(LightGBM's own text format), ``history.safetensors`` + ``history.json`` (the transactions
the temporal features and the graph are built from, and each model's validation scores,
from which another ``target_fpr`` re-derives the thresholds). Nothing is ever unpickled.

``export`` writes the same files as a bundle (``core.runtime.bundle``) whose manifest also
says what it needs to run: the GNN scores neighbourhoods sampled from the heterogeneous
transaction graph by PyTorch Geometric (``TemporalSampler`` + ``HeteroConv``), and the
causal features come from the history, so no ONNX graph alone reproduces a score; the bundle
keeps the PyTorch weights and records ``runs_without_torch: false`` with that reason.

Example:
    >>> export(detector, "fraud_bundle.zip")  # doctest: +SKIP
    >>> FraudDetector.load("fraud_bundle.zip").predict(rows)  # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ... import __version__
from ...core.runtime.bundle import load_safetensors_bytes, read_bundle, write_bundle
from ...errors import ErrorCode, ModelFormatError, require
from .data import EntityTable, TransactionTable
from .model import FraudGNN, GNNConfig
from .trees import TreeConfig, booster_from_string

CARD = "MODEL_CARD.md"


NO_TORCH_REASON = (
    "the GNN scores neighbourhoods sampled from the heterogeneous transaction graph by PyTorch Geometric "
    "(TemporalSampler + HeteroConv over the saved history); the bundle keeps its safetensors weights, "
    "LightGBM's text models, the config and the history"
)
INT8_REASON = (
    "not applied: the GNN is small and runs in PyTorch from fp32 safetensors (dynamic int8 would change the "
    "calibrated scores); LightGBM text models have no int8 form"
)


def _files(det, card: bytes | None = None) -> dict[str, bytes]:
    """Every file of a saved detector, by name."""
    st = require("safetensors.torch", "fraud")
    h = det.history_
    arrays = {"known": torch.from_numpy(det.known_.astype(np.uint8))}
    for name in ("time", "amount", "label"):
        value = getattr(h, name)
        if value is not None:
            arrays[name] = torch.from_numpy(np.ascontiguousarray(value))
    for k, v in h.extra.items():
        arrays[f"extra.{k}"] = torch.from_numpy(np.ascontiguousarray(v))
    for k, v in det.split_.items():
        arrays[f"split.{k}"] = torch.from_numpy(np.ascontiguousarray(v.astype(np.int64)))
    for k, v in det.validation_scores().items():
        arrays[f"val.{k}"] = torch.from_numpy(np.ascontiguousarray(np.asarray(v, dtype=np.float64)))
    strings = {"ids": h.ids.tolist(), "src": h.src.tolist(), "dst": h.dst.tolist(), "entities": {}}
    for kind, et in det.entities_.items():
        arrays[f"entity.{kind}"] = torch.from_numpy(np.ascontiguousarray(et.features))
        strings["entities"][kind] = {"ids": et.ids.tolist(), "names": list(et.feature_names)}
    if h.channel is not None:
        strings["channel"] = h.channel.tolist()
    config = {
        "model": det.arch_,
        "threshold": det.threshold_,
        "thresholds": det.thresholds_,
        "blend_weight": det.blend_weight_,
        "target_fpr": det.target_fpr_,
        "temporal": det.temporal_,
        "channels": det.channels_,
        "label_features": det.label_features_,
        "feature_names": det.feature_names_,
        "tree_feature_names": det.tree_feature_names_,
        "gnn": det.gnn_config_.to_dict(),
        "trees": det.tree_config_.to_dict(),
        "gnn_in_dims": {t: int(m.in_features) for t, m in det.gnn_.proj.items()},
        "seed": det.seed_,
        "top_reasons": det.top_reasons,
    }
    files = {
        "config.json": json.dumps(config, indent=2).encode(),
        "gnn.safetensors": st.save({k: v.contiguous() for k, v in det.gnn_.state_dict().items()}),
        "trees.txt": det.trees_.model_to_string().encode(),
        "hybrid.txt": det.hybrid_.model_to_string().encode(),
        "history.safetensors": st.save(arrays),
        "history.json": json.dumps(strings).encode(),
    }
    if card is not None:
        files[CARD] = card
    return files


def _manifest(det) -> dict:
    return {
        "application": "fraud",
        "version": __version__,
        "class_names": ["legitimate", "fraud"],
        "preprocessing": {"feature_names": det.feature_names_, "temporal": det.temporal_},
        "input_spec": {"columns": ["transaction_id", "source", "destination", "timestamp", "amount", "channel"]},
        "metrics": det.metrics_,
        "model_file": "gnn.safetensors",
        "arch": det.arch_,
        "threshold": det.threshold_,
        "target_fpr": det.target_fpr_,
    }


def save(det, path: str | Path) -> Path:
    """The detector as a model folder (or ``.zip``); a model card already in ``path`` is kept."""
    card = Path(path) / CARD
    return write_bundle(path, _manifest(det), _files(det, card.read_bytes() if card.is_file() else None))


def export(det, path: str | Path, int8: bool = True) -> Path:
    """The detector as a hash-verified bundle (``.zip`` or folder) that ``FraudDetector.load`` opens.

    ``int8`` is recorded, not applied (see ``INT8_REASON``); the manifest says
    ``runs_without_torch: false`` and why (``NO_TORCH_REASON``).
    """
    manifest = {
        **_manifest(det),
        "runs_without_torch": False,
        "reason": NO_TORCH_REASON,
        "int8": {"requested": bool(int8), "applied": False, "reason": INT8_REASON},
        "requires": ["torch", "torch_geometric", "lightgbm", "safetensors"],
    }
    return write_bundle(path, manifest, _files(det, det.__dict__.get("model_card_")))


def load_into(det, path: str | Path) -> None:
    """Set the fitted attributes of ``det`` from a folder or bundle written by ``save`` / ``export``."""
    bundle = read_bundle(path)
    if bundle.manifest.get("application") != "fraud":
        raise ModelFormatError(
            ErrorCode.FRAUD_MODEL_INVALID,
            "not a fraud detector model",
            value=bundle.manifest.get("application"),
            hint="pass a folder written by FraudDetector.save or `deepseek-apps fraud train`",
        )
    f = bundle.files
    cfg = json.loads(f["config.json"])
    arrays = load_safetensors_bytes(f["history.safetensors"], name="history.safetensors", extra="fraud")
    strings = json.loads(f["history.json"])
    det.history_ = TransactionTable(
        ids=np.asarray(strings["ids"], dtype=object),
        src=np.asarray(strings["src"], dtype=object),
        dst=np.asarray(strings["dst"], dtype=object),
        time=arrays.get("time"),
        amount=arrays.get("amount"),
        channel=np.asarray(strings["channel"], dtype=object) if "channel" in strings else None,
        label=arrays.get("label"),
        extra={k[6:]: v for k, v in arrays.items() if k.startswith("extra.")},
        row=np.arange(len(strings["ids"])),
    )
    det.known_ = arrays["known"].astype(bool)
    det.entities_ = {
        kind: EntityTable(np.asarray(e["ids"], dtype=object), arrays[f"entity.{kind}"], e["names"])
        for kind, e in strings.get("entities", {}).items()
    }
    det.split_ = {k[6:]: v for k, v in arrays.items() if k.startswith("split.")}
    val = {k[4:]: v for k, v in arrays.items() if k.startswith("val.")}
    det.val_scores_ = val or None  # models saved before validation scores were kept: recomputed on demand
    det.arch_, det.threshold_, det.thresholds_ = cfg["model"], cfg["threshold"], dict(cfg["thresholds"])
    det.blend_weight_ = cfg["blend_weight"]
    det.temporal_, det.channels_, det.label_features_ = cfg["temporal"], cfg["channels"], cfg["label_features"]
    det.feature_names_, det.tree_feature_names_ = cfg["feature_names"], cfg["tree_feature_names"]
    g = dict(cfg["gnn"])
    g["num_neighbors"] = tuple(g["num_neighbors"])
    det.gnn_config_, det.tree_config_ = GNNConfig(**g), TreeConfig(**cfg["trees"])
    c = det.gnn_config_
    gnn = FraudGNN(cfg["gnn_in_dims"], c.hidden, c.layers, c.conv, c.dropout)
    gnn.load_state_dict(
        load_safetensors_bytes(f["gnn.safetensors"], name="gnn.safetensors", framework="torch", extra="fraud")
    )
    gnn.eval()
    det.trees_ = booster_from_string(f["trees.txt"].decode())
    det.hybrid_ = booster_from_string(f["hybrid.txt"].decode())
    det.metrics_ = bundle.manifest["metrics"]
    det.target_fpr_ = float(cfg["target_fpr"])
    det.seed_ = int(cfg.get("seed", 0))
    det.model_card_ = f.get(CARD)
    det.gnn_ = gnn  # last: its presence marks the detector as loaded
