"""The entity task behind ``FraudDetector(task="entities")``: what the facade's methods delegate to.

Transductive: ``score_entities(ids)`` scores nodes of the fitted graph (their scores are
computed once at ``fit``, labelled or not). Inductive: ``score(nodes, edges)`` scores new
nodes with their edges to the fitted graph, without re-running it (``online.py``); for a
model fitted on a transaction log, ``score_after(transactions)`` scores the entities new
transactions bring, their attributes and edges built from the log and the new rows
(``after_log.py``).

Example:
    >>> det = FraudDetector(task="entities").fit("nodes.csv", {"invest": "invest.csv"})  # doctest: +SKIP
    >>> det = FraudDetector(task="entities").fit(TransactionLog("tx.csv", "mules.csv"))  # doctest: +SKIP
    >>> det.score_entities(["c17"])[0].to_dict()  # doctest: +SKIP
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ....errors import ErrorCode, InvalidInputError
from ..calibrate import FraudMetrics, evaluate_scores
from ..data import TransactionTable
from ..reading import read_frame
from ..results import FraudScore, Reason
from ..trees import TreeConfig, contributions
from .after_log import entities_after, new_transactions
from .detector import ENTITY_ARCHS, EntityModel
from .explain import EntityExplanation, explain_entity
from .graph import EntityTask, load_entity_graph, read_nodes
from .online import new_rows, score_new
from .persist import is_entity_bundle, load_entity_model, save_entities
from .txlog import TransactionLog, log_graph

__all__ = ["is_entity_bundle", "save_entities"]

TRANSACTION_ONLY = ("score_one", "score_history", "check_rows")


def task_of(det) -> EntityTask | None:
    """The ``EntityTask`` the detector was built with (``None``: the transaction task)."""
    task = det.task
    if isinstance(task, EntityTask):
        return task
    if task in (None, "transactions"):
        return None
    if task == "entities":
        return EntityTask()
    raise InvalidInputError(
        ErrorCode.INVALID_ARGUMENT,
        "unknown task",
        value=task,
        hint="use task='transactions' (default), 'entities' or an EntityTask(...)",
    )


def active(det) -> EntityModel | None:
    """The fitted or loaded entity model of ``det``, if it is one."""
    return det.__dict__.get("entity_model_")


def fit(det, nodes: Any, edges: Any, val_fraction, test_fraction, seed, epochs) -> Any:
    """Load and check the graph, fit every architecture, calibrate; sets the detector's fitted attributes.

    ``nodes`` is a node table (with ``edges``) or a ``TransactionLog`` (no ``edges``: the graph
    of its entities and payments, see ``txlog.py``).
    """
    task = task_of(det)
    seed = det.seed if seed is None else int(seed)
    trees = det.trees or TreeConfig(seed=seed)
    if isinstance(nodes, TransactionLog):
        if edges is not None:
            raise InvalidInputError(
                ErrorCode.FRAUD_BAD_EDGES,
                f"a TransactionLog brings its own edges (relation {nodes.relation!r}); edges must be None",
                value=type(edges).__name__,
                hint="fit(TransactionLog(transactions, labels)) with no edges, or fit(nodes, edges) for a node table",
            )
        graph, task = log_graph(nodes, task, det.columns, det.max_amount, det.allow_negative_amounts)
    else:
        graph = load_entity_graph(nodes, edges, task, det.columns)
    val = det.val_fraction if val_fraction is None else val_fraction
    test = det.test_fraction if test_fraction is None else test_fraction
    model = EntityModel(task, trees, seed).fit(graph, val, test, epochs)
    install(det, model, target_fpr=0.01 if det.target_fpr is None else float(det.target_fpr), arch=det.arch)
    return det


def install(det, model: EntityModel, target_fpr: float, arch: str | None, metrics: dict | None = None) -> None:
    """Set the fitted attributes of ``det`` from ``model`` (after ``fit`` or ``load``)."""
    if arch not in (None, "auto", *ENTITY_ARCHS):
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT, "unknown arch", value=arch, hint=f"use None, 'auto' or one of {ENTITY_ARCHS}"
        )
    det.entity_model_ = model
    det.task_ = "entities"
    det.thresholds_ = model.calibrate(target_fpr)
    det.target_fpr_ = target_fpr
    report = model.report(det.thresholds_)
    det.metrics_ = {"graph": model.graph.report, "split": {k: len(v) for k, v in model.split.items()}, **report}
    if metrics is not None and arch is None:
        det.arch_ = metrics["arch"]
    elif arch in (None, "auto"):
        det.arch_ = max(ENTITY_ARCHS, key=lambda m: report["val"][m]["auprc"])
    else:
        det.arch_ = arch
    det.threshold_ = det.thresholds_[det.arch_]
    det.split_, det.seed_ = model.split, model.seed
    det.trees_, det.hybrid_ = model.boosters["trees"], model.boosters["hybrid"]
    det.gnn_ = model.gnns  # last: its presence marks the detector as fitted


def load(det, path) -> None:
    """Open an entity bundle into ``det``; a missing model is 3004, a transaction model 1220."""
    from ....core.contract import NotFittedError

    if path is None:
        raise NotFittedError(
            ErrorCode.MODEL_NOT_FITTED,
            "an entity-task FraudDetector has no shipped default model",
            value="task=entities",
            hint="call fit(nodes, edges) first, or FraudDetector.load(path) of a saved entity model",
        )
    if det.task == "transactions" or not is_entity_bundle(path):
        raise InvalidInputError(
            ErrorCode.FRAUD_WRONG_TASK,
            f"task={det.task!r} does not match the model at {path}",
            value=str(path),
            hint="leave task=None to take the model's task",
        )
    model, cfg = load_entity_model(path)
    fpr = float(cfg["target_fpr"]) if det.target_fpr is None else float(det.target_fpr)
    install(det, model, fpr, det.arch, metrics={"arch": cfg["arch"]})


def _reasons(det, model: EntityModel, index: np.ndarray) -> list[list[Reason]]:
    """Top TreeSHAP reasons of each row (``attributes`` model for that arch, ``trees`` otherwise)."""
    feats = model.tree_matrix()[index]
    name = "attributes" if det.arch_ == "attributes" else "trees"
    names = model.tree_names
    if name == "attributes":
        feats, names = feats[:, : model.n_attributes], names[: model.n_attributes]
    contrib = contributions(model.boosters[name], feats)[:, :-1]
    out = []
    for r in range(len(index)):
        order = np.argsort(-np.abs(contrib[r]))[: det.top_reasons]
        out.append([Reason(names[j], float(feats[r, j]), float(contrib[r, j])) for j in order])
    return out


def _kind(model: EntityModel, i: int) -> str:
    return "entity" if model.graph.types is None else str(model.graph.types[i])


def score_entities(det, ids: list[str], reasons: bool = True) -> list[FraudScore]:
    """Scores of nodes of the fitted graph (transductive), in the order of ``ids``."""
    model = active(det)
    t0 = time.perf_counter()
    lookup = model.graph_index()
    missing = [i for i in map(str, ids) if i not in lookup]
    if missing:
        raise InvalidInputError(
            ErrorCode.FRAUD_UNKNOWN_ENTITY,
            f"{len(missing)} entity id(s) are not nodes of the fitted graph",
            value=missing[:5],
            hint="score new entities with score(nodes, edges); score_entities takes fitted node ids",
        )
    index = np.array([lookup[str(i)] for i in ids], dtype=np.int64)
    scores = model.scores[det.arch_][index]
    why = _reasons(det, model, index) if reasons and len(index) else [[] for _ in index]
    ms = (time.perf_counter() - t0) * 1000 / max(len(index), 1)
    return [
        FraudScore(
            str(ids[k]), float(s), bool(s >= det.threshold_), det.threshold_, why[k], _kind(model, i), det.arch_, ms
        )
        for k, (i, s) in enumerate(zip(index.tolist(), scores.tolist()))
    ]


def score_new_entities(det, nodes: Any, edges: Any = None) -> list[FraudScore]:
    """Inductive scores of new nodes with their edges (see ``online.py``); no reasons (use ``explain`` after refit)."""
    model = active(det)
    t0 = time.perf_counter()
    rows = new_rows(model, nodes, edges)
    scores = score_new(model, rows)[det.arch_]
    ms = (time.perf_counter() - t0) * 1000 / max(len(rows.ids), 1)
    return [
        FraudScore(str(i), float(s), bool(s >= det.threshold_), det.threshold_, [], "entity", det.arch_, ms)
        for i, s in zip(rows.ids.tolist(), scores.tolist())
    ]


def score_after(det, transactions: Any) -> list[FraudScore]:
    """Inductive scores of the entities new ``transactions`` bring after the fitted log (see ``after_log.py``)."""
    model = active(det)
    t0 = time.perf_counter()
    new = new_transactions(model, transactions, det.columns, det.max_amount, det.allow_negative_amounts)
    nodes, edges = entities_after(model, new)
    if not len(nodes):
        return []
    rows = new_rows(model, nodes, edges)
    scores = score_new(model, rows)[det.arch_]
    kinds = nodes[model.task.type_column].tolist()
    ms = (time.perf_counter() - t0) * 1000 / len(rows.ids)
    return [
        FraudScore(str(i), float(s), bool(s >= det.threshold_), det.threshold_, [], k, det.arch_, ms)
        for i, s, k in zip(rows.ids.tolist(), scores.tolist(), kinds)
    ]


def score(det, data: Any, edges: Any = None, reasons: bool = True) -> list[FraudScore]:
    """A list of ids or a node table of fitted ids: transductive; a node table of new ids (with ``edges``): inductive.

    A ``TransactionTable`` (a model fitted on a transaction log): the new entities of those
    transactions (``score_after``).
    """
    if isinstance(data, TransactionTable):
        return score_after(det, data)
    if isinstance(data, (list, tuple)) and all(isinstance(i, str) for i in data):
        return score_entities(det, list(data), reasons)
    frame = read_frame(data, text_columns=())
    ids, *_ = read_nodes(frame, active(det).task, det.columns)
    lookup = active(det).graph_index()
    if edges is None and all(i in lookup for i in ids.tolist()):
        return score_entities(det, ids.tolist(), reasons)
    return score_new_entities(det, frame, edges)


def predict(det, inputs: Any, errors: str = "raise", reasons: bool = True) -> list[FraudScore]:
    """``score`` under the contract: with ``errors="record"`` an unknown id gets a result with ``error`` set."""
    if errors == "raise" or not isinstance(inputs, (list, tuple)):
        return score(det, inputs, reasons=reasons)
    from ....core.contract import map_items

    return map_items(
        list(inputs),
        lambda i: score_entities(det, [str(i)], reasons)[0],
        errors,
        lambda i, exc: FraudScore(str(i), 0.0, False, det.threshold_, model=det.arch_, error=exc.to_dict()),
    )


def evaluate(det, nodes: Any, edges: Any = None) -> FraudMetrics:
    """Metrics of every architecture on labelled nodes: fitted ids (transductive) or new ones with ``edges``."""
    model = active(det)
    if nodes is None:  # the held-out test split of the fit
        idx = model.split["test"]
        y, scores = model.graph.label[idx], {m: model.scores[m][idx] for m in ENTITY_ARCHS}
    else:
        frame = read_frame(nodes, text_columns=())
        ids, _, _, label, _, _ = read_nodes(frame, model.task, det.columns)
        lookup = model.graph_index()
        if edges is None and all(i in lookup for i in ids.tolist()):
            idx = np.array([lookup[i] for i in ids.tolist()])
            scores = {m: model.scores[m][idx] for m in ENTITY_ARCHS}
        else:
            scores = score_new(model, new_rows(model, frame, edges))
        y = label
    per_model = {m: evaluate_scores(y, s, det.thresholds_[m]) for m, s in scores.items()}
    return FraudMetrics(det.arch_, per_model)


def explain(det, entity_id: str) -> EntityExplanation:
    model = active(det)
    lookup = model.graph_index()
    if str(entity_id) not in lookup:
        raise InvalidInputError(
            ErrorCode.FRAUD_UNKNOWN_ENTITY,
            "entity id is not a node of the fitted graph",
            value=entity_id,
            hint="explain takes a node id of the fitted graph",
        )
    return explain_entity(model, lookup[str(entity_id)], det.arch_, det.threshold_, det.top_reasons + 2)


def wrong_task(method: str):
    return InvalidInputError(
        ErrorCode.FRAUD_WRONG_TASK,
        f"{method}() is for transaction models; this detector holds an entity model",
        value=method,
        hint="use score_entities(ids), score(nodes, edges), evaluate(nodes) or explain(entity_id)",
    )
