"""Save and load an entity-task model in the fraud app's bundle format (safetensors + JSON + LightGBM text).

Files: ``config.json`` (task, tree settings, thresholds, metrics, names), ``graph.safetensors``
(attributes, labels, folds, split, edges per relation, every architecture's scores; for a
model fitted on a transaction log also the log's payments: ``log.src`` / ``log.dst`` int32
node positions, ``log.time`` / ``log.amount`` float64, 24 bytes a transaction),
``graph.json`` (node ids, types, relation names and columns, the log's channel and numeric
column names), ``gnn<k>.safetensors`` (the fold
GNNs) and ``attributes.txt`` / ``trees.txt`` / ``hybrid.txt`` (LightGBM's text models). The
manifest says ``"task": "entities"``; nothing is ever unpickled.

Example:
    >>> FraudDetector(task="entities").fit(nodes, edges).save("runs/companies")  # doctest: +SKIP
    >>> FraudDetector.load("runs/companies").score_entities(["c17"])  # doctest: +SKIP
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import torch

from .... import __version__
from ....core.runtime.bundle import load_safetensors_bytes, read_bundle, write_bundle
from ....errors import require
from ..trees import TreeConfig, booster_from_string
from .detector import ENTITY_ARCHS, EntityModel
from .gnn import RelationGNN
from .graph import EntityGraph, EntityTask, Relation
from .txlog import PaymentLog

TREE_FILES = ("attributes", "trees", "hybrid")


def is_entity_bundle(path) -> bool:
    """Whether ``path`` (folder or .zip) holds an entity-task model (a cheap look at its manifest)."""
    if path is None:
        return False
    try:
        p = Path(path)
        text = (p / "manifest.json").read_bytes() if p.is_dir() else zipfile.ZipFile(p).read("manifest.json")
        return json.loads(text).get("task") == "entities"
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return False


def _arrays(model: EntityModel) -> dict[str, torch.Tensor]:
    g = model.graph
    out = {"x": g.x, "label": g.label, "fold": model.fold}
    out.update({f"split.{k}": v for k, v in model.split.items()})
    out.update({f"score.{k}": v.astype(np.float64) for k, v in model.scores.items()})
    for name, rel in g.relations.items():
        out.update({f"rel.{name}.src": rel.src, f"rel.{name}.dst": rel.dst, f"rel.{name}.attrs": rel.attrs})
    if g.log is not None:
        out.update({f"log.{k}": v for k, v in g.log.arrays().items()})
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in out.items()}


def entity_files(det) -> dict[str, bytes]:
    st = require("safetensors.torch", "fraud")
    model: EntityModel = det.entity_model_
    g = model.graph
    config = {
        "task": model.task.to_dict(),
        "trees": model.tree_config.to_dict(),
        "seed": model.seed,
        "arch": det.arch_,
        "thresholds": det.thresholds_,
        "target_fpr": det.target_fpr_,
        "blend_weight": model.blend_weight,
        "metrics": det.metrics_,
        "tree_names": model.tree_names,
        "hybrid_names": model.hybrid_names,
        "n_attributes": model.n_attributes,
        "gnn_in_dim": int(model.gnns[0].inp.in_features),
    }
    strings = {
        "ids": g.ids.tolist(),
        "types": None if g.types is None else g.types.tolist(),
        "attr_names": g.attr_names,
        "relations": {n: {"directed": r.directed, "attr_names": r.attr_names} for n, r in g.relations.items()},
        "report": g.report,
        "log": None if g.log is None else g.log.to_dict(),
    }
    files = {
        "config.json": json.dumps(config, indent=2, default=float).encode(),
        "graph.safetensors": st.save(_arrays(model)),
        "graph.json": json.dumps(strings).encode(),
    }
    for k, net in enumerate(model.gnns):
        files[f"gnn{k}.safetensors"] = st.save({n: v.contiguous() for n, v in net.state_dict().items()})
    for name in TREE_FILES:
        files[f"{name}.txt"] = model.boosters[name].model_to_string().encode()
    return files


def entity_manifest(det) -> dict:
    model: EntityModel = det.entity_model_
    return {
        "application": "fraud",
        "task": "entities",
        "version": __version__,
        "class_names": ["legitimate", "fraud"],
        "preprocessing": {"attributes": model.graph.attr_names, "relation_channels": list(model.channels)},
        "input_spec": {"nodes": ["id", "label", "type", *model.graph.attr_names], "relations": list(model.channels)},
        "metrics": det.metrics_,
        "model_file": "gnn0.safetensors",
        "arch": det.arch_,
        "threshold": det.threshold_,
        "target_fpr": det.target_fpr_,
        "runs_without_torch": False,
        "reason": "the relation GNN runs in PyTorch over the saved graph; LightGBM text models score the trees",
    }


def save_entities(det, path) -> Path:
    return write_bundle(path, entity_manifest(det), entity_files(det))


def load_entity_model(path) -> tuple[EntityModel, dict]:
    """The ``EntityModel`` of a saved entity bundle, and its config (thresholds, arch, metrics)."""
    bundle = read_bundle(path)
    f = bundle.files
    cfg = json.loads(f["config.json"])
    strings = json.loads(f["graph.json"])
    arr = load_safetensors_bytes(f["graph.safetensors"], name="graph.safetensors", extra="fraud")
    relations = {
        n: Relation(arr[f"rel.{n}.src"], arr[f"rel.{n}.dst"], r["directed"], arr[f"rel.{n}.attrs"], r["attr_names"])
        for n, r in strings["relations"].items()
    }
    types = None if strings["types"] is None else np.asarray(strings["types"], dtype=object)
    ids = np.asarray(strings["ids"], dtype=object)
    graph = EntityGraph(ids, arr["x"], strings["attr_names"], arr["label"], types, relations, strings["report"])
    if strings.get("log") is not None:  # a model fitted on a transaction log (older bundles keep none)
        graph.log = PaymentLog.from_saved({k[4:]: v for k, v in arr.items() if k.startswith("log.")}, strings["log"])
    model = EntityModel(EntityTask.from_dict(cfg["task"]), TreeConfig(**cfg["trees"]), int(cfg["seed"]))
    model.prepare(graph)
    model.fold = arr["fold"]
    model.split = {k[6:]: v for k, v in arr.items() if k.startswith("split.")}
    model.scores = {m: arr[f"score.{m}"] for m in ENTITY_ARCHS}
    model.blend_weight = float(cfg["blend_weight"])
    model.tree_names, model.hybrid_names = cfg["tree_names"], cfg["hybrid_names"]
    model.n_attributes = int(cfg["n_attributes"])
    model.boosters = {name: booster_from_string(f[f"{name}.txt"].decode()) for name in TREE_FILES}
    model.gnns = []
    for k in range(model.task.folds):
        net = RelationGNN(cfg["gnn_in_dim"], list(model.channels), model.task.hidden, model.task.layers)
        state = load_safetensors_bytes(f[f"gnn{k}.safetensors"], name=f"gnn{k}.safetensors", framework="torch")
        net.load_state_dict(state)
        model.gnns.append(net.eval())
    model.cache = None
    return model, cfg
