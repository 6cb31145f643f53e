"""The fitted entity model: split, features, the GNN folds, the trees, hybrid, blend and calibration.

Five architectures are fitted and calibrated on the same split; ``auto`` keeps the one with
the best validation AUPRC:

- ``attributes``: LightGBM on the node attributes only;
- ``trees``: LightGBM on attributes + per-relation neighbour aggregates + out-of-fold label rates;
- ``gnn``: the relation-aware GNN (``gnn.py``), one model per fold; a node's score is the mean of
  the fold models' probabilities;
- ``hybrid``: ``trees``' features plus out-of-fold GNN outputs: for each node, the logit, last
  layer state and per-relation neighbour logits of the fold model that never saw its label;
- ``blend``: ``trees`` and ``gnn`` averaged in log-odds, weight chosen on validation.

Splits are stratified and seeded over the labelled nodes only (unknown labels are never
negatives); transductive scores of every node of the graph are computed once at ``fit``.

Example:
    >>> model = EntityModel(EntityTask(), TreeConfig(), seed=0).fit(graph)  # doctest: +SKIP
    >>> model.scores["trees"][:3]  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import torch

from ....core.alloc import reuse_freed_memory
from ....errors import ErrorCode, InvalidInputError
from ..blend import blend
from ..calibrate import evaluate_scores, threshold_for_fpr
from ..trees import TreeConfig, predict_trees, train_trees
from .features import Channel, channels_of, fold_of, node_features, one_hot_types
from .gnn import MeanAdjacency, mean_adjacency, step_bytes, train_gnn
from .graph import EntityGraph, EntityTask

ENTITY_ARCHS = ("attributes", "trees", "gnn", "hybrid", "blend")
BLEND_WEIGHTS = tuple(np.round(np.linspace(0.0, 1.0, 11), 2).tolist())


def split_nodes(label: np.ndarray, val_fraction: float, test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """Stratified, seeded train / val / test positions of the labelled nodes (unknown ones in none)."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for cls in (0.0, 1.0):
        idx = rng.permutation(np.flatnonzero(label == cls))
        n_test, n_val = int(round(test_fraction * len(idx))), int(round(val_fraction * len(idx)))
        parts["test"].append(idx[:n_test])
        parts["val"].append(idx[n_test : n_test + n_val])
        parts["train"].append(idx[n_test + n_val :])
    split = {k: np.sort(np.concatenate(v)).astype(np.int64) for k, v in parts.items()}
    for name in ("train", "val"):
        y = label[split[name]]
        if not (y == 1).any() or not (y == 0).any():
            raise InvalidInputError(
                ErrorCode.FRAUD_NO_POSITIVE_LABEL,
                f"the {name} part needs fraudulent (1) and legitimate (0) nodes; it has {int((y == 1).sum())} "
                f"fraudulent and {int((y == 0).sum())} legitimate",
                value={"labelled": int((~np.isnan(label)).sum()), "fraud": int((label == 1).sum())},
                hint="label more nodes (at least a few fraudulent ones in each part) or lower val_fraction/test_fraction",
            )
    return split


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def neighbour_logits(ch: Channel, logits: np.ndarray, n_rows: int) -> np.ndarray:
    """Mean and max of neighbours' GNN logits over one channel (NaN without neighbours)."""
    count = np.bincount(ch.rows, minlength=n_rows)
    mean = np.bincount(ch.rows, weights=logits[ch.cols], minlength=n_rows) / np.maximum(count, 1)
    mx = np.full(n_rows, -np.inf)
    np.maximum.at(mx, ch.rows, logits[ch.cols])
    mean[count == 0], mx[count == 0] = np.nan, np.nan
    return np.stack([mean, mx], 1)


class EntityModel:
    """Everything an entity-task ``FraudDetector`` holds once fitted (see the module docstring)."""

    def __init__(self, task: EntityTask, trees: TreeConfig, seed: int):
        self.task, self.tree_config, self.seed = task, trees, seed

    # ------------------------------------------------------------------ inputs
    def prepare(self, graph: EntityGraph) -> None:
        """Node matrix (attributes + one-hot types), channels, folds and training labels."""
        self.graph = graph
        self.type_vocab = sorted(set(graph.types.tolist())) if graph.types is not None else []
        self.node_names = graph.attr_names + [f"type:{t}" for t in self.type_vocab]
        self.x_all = np.hstack([graph.x, one_hot_types(graph.types, self.type_vocab, len(graph.x))]).astype(np.float32)
        self.channels = channels_of(graph)
        self.fold = fold_of(graph.ids, self.task.folds, self.seed)

    def train_label(self, nodes: np.ndarray | None = None) -> np.ndarray:
        """Training labels of every node (or of ``nodes`` only), NaN outside the training split."""
        if nodes is not None:
            train = self.split["train"]  # sorted: split_nodes returns sorted indices
            at = np.minimum(np.searchsorted(train, nodes), max(len(train) - 1, 0))
            known = (train[at] == nodes) if len(train) else np.zeros(len(nodes), dtype=bool)
            return np.where(known, self.graph.label[nodes], np.nan).astype(np.float64)
        out = np.full(self.graph.n, np.nan, dtype=np.float64)
        out[self.split["train"]] = self.graph.label[self.split["train"]]
        return out

    def features(self):
        return node_features(
            self.x_all, self.x_all, self.channels, self.fold, self.fold, self.train_label(), self.node_names
        )

    def adjacency(self) -> list[MeanAdjacency]:
        n = self.graph.n
        return [mean_adjacency(c.rows, c.cols, n, n) for c in self.channels.values()]

    # ------------------------------------------------------------------ fitting
    def fit(self, graph: EntityGraph, val_fraction: float = 0.2, test_fraction: float = 0.2, epochs=None):
        self.prepare(graph)
        self.split = split_nodes(graph.label, val_fraction, test_fraction, self.seed)
        y = graph.label.astype(np.float64)
        tr, va = self.split["train"], self.split["val"]
        feats = self.features()
        self.tree_names, self.n_attributes = feats.names, feats.n_attributes
        self.gnn_inputs, self._tree_matrix = feats.gnn, feats.trees
        cfg = self.tree_config
        a = feats.n_attributes
        self.boosters = {
            "attributes": train_trees(feats.trees[tr, :a], y[tr], feats.trees[va, :a], y[va], cfg),
            "trees": train_trees(feats.trees[tr], y[tr], feats.trees[va], y[va], cfg),
        }
        settings = self.task if epochs is None else _with_epochs(self.task, epochs)
        adjs = self.adjacency()
        self.gnns = []
        work = step_bytes(graph.n, self.task.hidden, len(self.channels), self.task.layers)
        with reuse_freed_memory(work):  # full-graph temporaries of 100+ MB on large graphs: see core.alloc
            for k in range(self.task.folds):
                rows = tr[self.fold[tr] != k] if self.task.folds > 1 else tr
                self.gnns.append(train_gnn(feats.gnn, adjs, list(self.channels), y, rows, va, settings, self.seed + k))
            self.cache = self.gnn_cache(adjs)
        hybrid = self.hybrid_features(feats.trees, self.fold, self.fold_parts(self.cache), self.channels)
        self.hybrid_names = self.tree_names + self.hybrid_extra_names()
        self.boosters["hybrid"] = train_trees(hybrid[tr], y[tr], hybrid[va], y[va], cfg)
        self.scores = self.score_matrix(feats.trees, hybrid, self.gnn_probability(self.cache, self.fold, None))
        val = {m: s[va] for m, s in self.scores.items()}
        self.blend_weight = max(BLEND_WEIGHTS, key=lambda w: evaluate_scores(y[va], self.blend_scores(val, w)).auprc)
        self.scores["blend"] = self.blend_scores(self.scores)
        return self

    def blend_scores(self, scores: dict[str, np.ndarray], weight: float | None = None) -> np.ndarray:
        """``blend``: the GNN and the trees averaged in log-odds (weight on the GNN)."""
        return blend(scores["gnn"], scores["trees"], self.blend_weight if weight is None else weight)

    def tree_matrix(self) -> np.ndarray:
        """The ``trees`` features of every fitted node (recomputed once after ``load``)."""
        if self.__dict__.get("_tree_matrix") is None:
            self._tree_matrix = self.features().trees
        return self._tree_matrix

    def graph_index(self) -> dict[str, int]:
        if self.__dict__.get("_index") is None:
            self._index = self.graph.index()
        return self._index

    def gnn_cache_now(self) -> list[dict]:
        """The fold models' layer states over the fitted graph (computed once after ``load``)."""
        if self.__dict__.get("cache") is None:
            if self.__dict__.get("gnn_inputs") is None:
                self.gnn_inputs = self.features().gnn
            self.cache = self.gnn_cache(self.adjacency())
        return self.cache

    def gnn_cache(self, adjs: list[MeanAdjacency]) -> list[dict[str, torch.Tensor]]:
        """Each fold model's layer states and logits over the whole graph (eval mode)."""
        x = torch.from_numpy(self.gnn_inputs)
        out = []
        with torch.no_grad():
            for net in self.gnns:
                states = net.states(x, adjs)
                out.append({"states": states, "logit": net.out(torch.cat(states, 1)).squeeze(-1)})
        return out

    def gnn_probability(self, cache, fold, rows_logits) -> np.ndarray:
        """The ``gnn`` score: mean of the fold models' probabilities."""
        logits = np.stack([c["logit"].numpy() for c in cache]) if rows_logits is None else rows_logits
        return sigmoid(logits.astype(np.float64)).mean(0)

    def hybrid_extra_names(self) -> list[str]:
        names = ["gnn:logit"] + [f"gnn:state{j}" for j in range(self.task.hidden)]
        for ch in self.channels:
            names += [f"{ch}:gnn_mean", f"{ch}:gnn_max"]
        return names

    def fold_parts(self, cache) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per fold model over the fitted graph: (logits of rows, last states of rows, logits of columns)."""
        out = []
        for c in cache:
            logit = c["logit"].numpy().astype(np.float64)
            out.append((logit, c["states"][-1].numpy(), logit))
        return out

    def hybrid_features(self, trees, row_fold, parts, channels) -> np.ndarray:
        """``trees`` features + each row's own-fold GNN logit, last state and neighbour logits.

        ``parts[k]``: fold model ``k``'s (row logits, row last states, column logits).
        """
        n, h = len(trees), self.task.hidden
        extra = np.zeros((n, 1 + h + 2 * len(channels)), dtype=np.float32)
        for k, (own_logit, own_state, col_logit) in enumerate(parts):
            mine = np.flatnonzero(row_fold == k)
            if not len(mine):
                continue
            extra[mine, 0] = own_logit[mine]
            extra[mine, 1 : 1 + h] = own_state[mine]
            for j, ch in enumerate(channels.values()):
                extra[mine, 1 + h + 2 * j : 3 + h + 2 * j] = neighbour_logits(ch, col_logit, n)[mine]
        return np.hstack([trees, extra])

    def hybrid_row(self, i: int, channels: dict[str, Channel]) -> np.ndarray:
        """The GNN columns of the hybrid features of fitted node ``i`` (``channels``: its own edges as row 0)."""
        parts = [(logit[[i]], state[[i]], logit) for logit, state, _ in self.fold_parts(self.gnn_cache_now())]
        return self.hybrid_features(np.zeros((1, 0), np.float32), self.fold[[i]], parts, channels)

    def score_matrix(self, trees: np.ndarray, hybrid: np.ndarray, gnn: np.ndarray) -> dict[str, np.ndarray]:
        a = self.n_attributes
        return {
            "attributes": predict_trees(self.boosters["attributes"], trees[:, :a]),
            "trees": predict_trees(self.boosters["trees"], trees),
            "gnn": gnn,
            "hybrid": predict_trees(self.boosters["hybrid"], hybrid),
        }

    # ------------------------------------------------------------------ calibration and report
    def calibrate(self, target_fpr: float) -> dict[str, float]:
        y = self.graph.label[self.split["val"]]
        return {m: threshold_for_fpr(y, self.scores[m][self.split["val"]], target_fpr) for m in ENTITY_ARCHS}

    def report(self, thresholds: dict[str, float]) -> dict[str, dict]:
        out = {}
        for part in ("val", "test"):
            idx = self.split[part]
            y = self.graph.label[idx]
            if len(idx) and 0 < np.nansum(y) < len(idx):
                out[part] = {m: evaluate_scores(y, self.scores[m][idx], thresholds[m]).to_dict() for m in ENTITY_ARCHS}
        return out


def _with_epochs(task: EntityTask, epochs: int) -> EntityTask:
    import dataclasses

    return dataclasses.replace(task, epochs=int(epochs))
