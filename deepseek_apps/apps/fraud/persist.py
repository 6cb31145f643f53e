"""Save and load a fitted ``FraudDetector``: safetensors + JSON + LightGBM text, hashed.

A model folder (or ``.zip``) holds ``manifest.json`` (sha256 of every file, metrics,
feature names), ``config.json``, ``gnn.safetensors``, ``trees.txt`` / ``hybrid.txt``
(LightGBM's own text format), ``history.safetensors`` + ``history.json`` (the transactions
the temporal features and the graph are built from). Nothing is ever unpickled.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ... import __version__
from ...core.runtime.bundle import read_bundle, write_bundle
from ...errors import ErrorCode, ModelFormatError, require
from .data import EntityTable, TransactionTable
from .model import FraudGNN, GNNConfig
from .trees import TreeConfig, booster_from_string

CARD = "MODEL_CARD.md"


def save(det, path: str | Path) -> Path:
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
    strings = {"ids": h.ids.tolist(), "src": h.src.tolist(), "dst": h.dst.tolist(), "entities": {}}
    for kind, et in det.entities_.items():
        arrays[f"entity.{kind}"] = torch.from_numpy(np.ascontiguousarray(et.features))
        strings["entities"][kind] = {"ids": et.ids.tolist(), "names": list(et.feature_names)}
    if h.channel is not None:
        strings["channel"] = h.channel.tolist()
    config = {
        "model": det.model_,
        "threshold": det.threshold_,
        "thresholds": det.thresholds_,
        "blend_weight": det.blend_weight_,
        "target_fpr": det.target_fpr,
        "temporal": det.temporal_,
        "channels": det.channels_,
        "label_features": det.label_features_,
        "feature_names": det.feature_names_,
        "tree_feature_names": det.tree_feature_names_,
        "gnn": det.gnn_config_.to_dict(),
        "trees": det.tree_config_.to_dict(),
        "gnn_in_dims": {t: int(m.in_features) for t, m in det.gnn_.proj.items()},
        "seed": det.seed,
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
    card = Path(path) / CARD
    if card.exists():
        files[CARD] = card.read_bytes()
    manifest = {
        "application": "fraud",
        "version": __version__,
        "class_names": ["legitimate", "fraud"],
        "preprocessing": {"feature_names": det.feature_names_, "temporal": det.temporal_},
        "input_spec": {"columns": ["transaction_id", "source", "destination", "timestamp", "amount", "channel"]},
        "metrics": det.metrics_,
        "model_file": "gnn.safetensors",
    }
    return write_bundle(path, manifest, files)


def load_into(det, path: str | Path) -> None:
    st = require("safetensors.torch", "fraud")
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
    arrays = {k: v.numpy() for k, v in st.load(f["history.safetensors"]).items()}
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
    det.model_, det.threshold_, det.thresholds_ = cfg["model"], cfg["threshold"], cfg["thresholds"]
    det.blend_weight_ = cfg["blend_weight"]
    det.temporal_, det.channels_, det.label_features_ = cfg["temporal"], cfg["channels"], cfg["label_features"]
    det.feature_names_, det.tree_feature_names_ = cfg["feature_names"], cfg["tree_feature_names"]
    g = dict(cfg["gnn"])
    g["num_neighbors"] = tuple(g["num_neighbors"])
    det.gnn_config_, det.tree_config_ = GNNConfig(**g), TreeConfig(**cfg["trees"])
    c = det.gnn_config_
    det.gnn_ = FraudGNN(cfg["gnn_in_dims"], c.hidden, c.layers, c.conv, c.dropout)
    det.gnn_.load_state_dict(st.load(f["gnn.safetensors"]))
    det.gnn_.eval()
    det.trees_ = booster_from_string(f["trees.txt"].decode())
    det.hybrid_ = booster_from_string(f["hybrid.txt"].decode())
    det.metrics_ = bundle.manifest["metrics"]
    det.target_fpr = cfg["target_fpr"]
