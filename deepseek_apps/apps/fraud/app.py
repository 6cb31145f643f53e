"""``FraudDetector``: the facade over features, the GNN, the trees and the calibrated alert.

Example:
    >>> from deepseek_apps import FraudDetector
    >>> from deepseek_apps.apps.fraud.synthetic import generate_transactions
    >>> detector = FraudDetector()  # the default, trained on the synthetic generator
    >>> new = generate_transactions(50, seed=7)
    >>> scores = detector.score(new)
    >>> scores[0].score, scores[0].alert, [r.feature for r in scores[0].reasons]  # doctest: +SKIP
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...errors import ErrorCode, InvalidInputError, ModelFormatError
from .calibrate import evaluate_scores, threshold_for_fpr
from .data import EntityTable, TransactionTable, load_entities, load_transactions
from .model import GNNConfig, predict_gnn, train_gnn
from .pipeline import Inputs, build_inputs, split_rows
from .results import FraudScore, Reason
from .trees import TreeConfig, contributions, predict_trees, train_trees

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "fraud"
DEFAULT_MODEL = ASSETS / "synthetic"
MODELS = ("gnn", "trees", "hybrid", "blend")
BLEND_WEIGHTS = (0.25, 0.5, 0.75)


def blend(gnn: np.ndarray, trees: np.ndarray, weight: float) -> np.ndarray:
    """The "blend" model: ``sigmoid(w * logit(gnn) + (1 - w) * logit(trees))``."""
    eps = 1e-7
    g = np.clip(np.asarray(gnn, dtype=np.float64), eps, 1 - eps)
    t = np.clip(np.asarray(trees, dtype=np.float64), eps, 1 - eps)
    z = weight * np.log(g / (1 - g)) + (1 - weight) * np.log(t / (1 - t))
    return 1 / (1 + np.exp(-z))


class FraudDetector:
    """Fraud scores for transactions and entities from a heterogeneous transaction graph.

    Args:
        model_path: a folder written by ``save``; ``None`` loads the shipped default on first use.
        model: ``"auto"`` (best validation AUPRC), ``"gnn"``, ``"trees"``, ``"hybrid"`` (GNN
            embeddings as tree features) or ``"blend"`` (GNN and trees averaged in log-odds,
            weight chosen on validation).
        target_fpr: alerts fire at the threshold that keeps this false-positive rate on validation.
        label_features: ``"auto"`` (only for untimed graphs), True or False: out-of-fold fraud
            rates of each row's source and destination as features (the label trick).
        val_fraction / test_fraction: the split of labelled rows (by time when timed).
        gnn: ``GNNConfig``; trees: ``TreeConfig``.
        columns: map of our column names to yours (see ``load_transactions``).
        top_reasons: reasons kept per score.
        seed: split and training seed.

    Example:
        >>> detector = FraudDetector(target_fpr=0.003).fit("transactions.csv")  # doctest: +SKIP
        >>> detector.metrics_["test"]["hybrid"]["auprc"]  # doctest: +SKIP
    """

    default_model = DEFAULT_MODEL

    def __init__(
        self,
        model_path: str | Path | None = None,
        model: str = "auto",
        target_fpr: float = 0.01,
        label_features: str | bool = "auto",
        val_fraction: float = 0.2,
        test_fraction: float = 0.2,
        gnn: GNNConfig | None = None,
        trees: TreeConfig | None = None,
        columns: dict[str, str] | None = None,
        top_reasons: int = 3,
        seed: int = 0,
    ):
        self.model_path = model_path
        self.model = model
        self.target_fpr = target_fpr
        self.label_features = label_features
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.gnn = gnn
        self.trees = trees
        self.columns = columns
        self.top_reasons = top_reasons
        self.seed = seed

    # ---------------------------------------------------------------- fitting
    def _table(self, data: Any, require_time: bool = True) -> TransactionTable:
        if isinstance(data, TransactionTable):
            return data
        return load_transactions(data, columns=self.columns, require_time=require_time, require_amount=require_time)

    def fit(
        self, transactions: Any, accounts: Any = None, merchants: Any = None, progress: bool = False
    ) -> FraudDetector:
        """Train the GNN, the trees, the hybrid and the blend on labelled transactions; calibrate the alert.

        Args:
            transactions: a ``TransactionTable``, path, DataFrame, dict or list (see ``load_transactions``).
            accounts / merchants: optional entity tables (``entity_id`` column, numeric attribute
                columns; see ``load_entities``): static attributes, never anything from the future.
            progress: show progress bars.

        Returns:
            self, with ``metrics_`` (validation and test metrics of every model), ``model_``
            (the one used), ``threshold_``.
        """
        if self.model not in ("auto", *MODELS):
            raise InvalidInputError(
                ErrorCode.INVALID_ARGUMENT, "unknown model", value=self.model, hint=f"use auto or one of {MODELS}"
            )
        table = self._table(transactions)
        self.history_ = table
        self.temporal_ = table.time is not None
        self.channels_ = sorted(set(table.channel.tolist())) if table.channel is not None else []
        self.label_features_ = (not self.temporal_) if self.label_features == "auto" else bool(self.label_features)
        self.split_ = split_rows(table, self.val_fraction, self.test_fraction, self.seed)
        self.known_ = np.zeros(len(table), dtype=bool)
        self.known_[self.split_["train"]] = True
        self.entities_ = {
            kind: t if isinstance(t, EntityTable) else load_entities(t)
            for kind, t in (("account", accounts), ("merchant", merchants))
            if t is not None
        }
        inputs = self._inputs(table, self.known_)
        self.feature_names_ = inputs.names
        self.tree_feature_names_ = inputs.tree_names
        self.gnn_config_ = self.gnn or GNNConfig(seed=self.seed)
        self.tree_config_ = self.trees or TreeConfig(seed=self.seed)
        self._train_models(inputs, progress)
        self._calibrate(inputs)
        return self

    def _train_models(self, inputs: Inputs, progress: bool) -> None:
        """The GNN, then LightGBM, then the hybrid (LightGBM + GNN embeddings of train / val rows)."""
        y = self.history_.label
        tr, va = self.split_["train"], self.split_["val"]
        t0 = time.perf_counter()
        self.gnn_, self.gnn_history_ = train_gnn(inputs.graph.data, tr, va, self.gnn_config_, progress)
        self.fit_seconds_ = {"gnn": time.perf_counter() - t0}
        t0 = time.perf_counter()
        self.trees_ = train_trees(
            inputs.x_tree[tr], y[tr], inputs.x_tree[va], y[va], self.tree_config_, self.tree_feature_names_
        )
        self.fit_seconds_["trees"] = time.perf_counter() - t0
        emb = self._embeddings(inputs, np.concatenate([tr, va]))
        x_tr = np.hstack([inputs.x_tree[tr], emb[: len(tr)]])
        x_va = np.hstack([inputs.x_tree[va], emb[len(tr) :]])
        t0 = time.perf_counter()
        self.hybrid_ = train_trees(x_tr, y[tr], x_va, y[va], self.tree_config_, self._hybrid_names(emb.shape[1]))
        self.fit_seconds_["hybrid"] = time.perf_counter() - t0

    def _inputs(self, table: TransactionTable, known: np.ndarray) -> Inputs:
        return build_inputs(table, self.channels_, self.label_features_, known, self.seed, self.entities_)

    def _hybrid_names(self, d: int) -> list[str]:
        return self.tree_feature_names_ + [f"gnn_emb{i}" for i in range(d)]

    def _embeddings(self, inputs: Inputs, index: np.ndarray) -> np.ndarray:
        return predict_gnn(self.gnn_, inputs.graph.data, torch.as_tensor(index), self.gnn_config_, embed=True)

    def _all_scores(self, inputs: Inputs, index: np.ndarray, weight: float | None = None) -> dict[str, np.ndarray]:
        emb = self._embeddings(inputs, index)
        out = {
            "gnn": predict_gnn(self.gnn_, inputs.graph.data, torch.as_tensor(index), self.gnn_config_),
            "trees": predict_trees(self.trees_, inputs.x_tree[index]),
            "hybrid": predict_trees(self.hybrid_, np.hstack([inputs.x_tree[index], emb])),
        }
        out["blend"] = blend(out["gnn"], out["trees"], self.blend_weight_ if weight is None else weight)
        return out

    def _calibrate(self, inputs: Inputs) -> None:
        y = self.history_.label
        va, te = self.split_["val"], self.split_["test"]
        val = self._all_scores(inputs, va, weight=0.5)
        self.blend_weight_ = max(
            BLEND_WEIGHTS, key=lambda w: evaluate_scores(y[va], blend(val["gnn"], val["trees"], w)).auprc
        )
        val["blend"] = blend(val["gnn"], val["trees"], self.blend_weight_)
        test = self._all_scores(inputs, te) if len(te) else {}
        self.model_ = (
            max(MODELS, key=lambda m: evaluate_scores(y[va], val[m]).auprc) if self.model == "auto" else self.model
        )
        self.thresholds_ = {m: threshold_for_fpr(y[va], val[m], self.target_fpr) for m in MODELS}
        self.threshold_ = self.thresholds_[self.model_]
        self.metrics_ = {
            "val": {m: evaluate_scores(y[va], val[m], self.thresholds_[m]).to_dict() for m in MODELS},
            "test": {m: evaluate_scores(y[te], test[m], self.thresholds_[m]).to_dict() for m in test},
            "model": self.model_,
            "split": {k: len(v) for k, v in self.split_.items()},
            "target_fpr": self.target_fpr,
            "blend_weight": self.blend_weight_,
        }

    # ---------------------------------------------------------------- scoring
    def __getattr__(self, name: str):
        # fitted attributes of the default / model_path model load on first access
        if name.endswith("_") and not name.startswith("_") and "gnn_" not in self.__dict__:
            self._ensure_fitted()
            return object.__getattribute__(self, name)
        raise AttributeError(f"'FraudDetector' object has no attribute {name!r}")

    def _ensure_fitted(self) -> None:
        if "gnn_" in self.__dict__:
            return
        from .persist import load_into

        load_into(self, self.model_path or DEFAULT_MODEL)

    def _with_history(self, table: TransactionTable) -> tuple[TransactionTable, np.ndarray, np.ndarray]:
        """History followed by the new rows (their labels hidden), ``known`` and the new rows' index."""
        new = table.take(np.arange(len(table)))
        new.label = np.full(len(new), np.nan, dtype=np.float32)
        clash = np.intersect1d(new.ids.astype(str), self.history_.ids.astype(str))
        if len(clash):
            raise InvalidInputError(
                ErrorCode.FRAUD_DUPLICATE_ID,
                f"{len(clash)} transaction id(s) are already in the model's history",
                value=[str(c) for c in clash[:5]],
                hint="score new transactions only, or use score_history() for known ids",
            )
        hist = self.history_
        if hist.label is None:
            hist.label = np.full(len(hist), np.nan, dtype=np.float32)
        both = hist.concat(new)
        if self.temporal_ and new.time is not None and len(new) and new.time.min() < hist.time.max():
            # out-of-order with history: documented handling is "scored as if it came last"
            both.time = np.concatenate([hist.time, np.maximum(new.time, hist.time.max())])
        known = np.concatenate([self.known_, np.zeros(len(new), dtype=bool)])
        return both, known, np.arange(len(hist), len(both))

    def score(self, transactions: Any, reasons: bool = True) -> list[FraudScore]:
        """Score new transactions, each as if it arrived after the model's history, in file order.

        Unknown accounts or merchants are new entities (no history); that is how fraud
        often looks, so it is scored, not refused. A list of entity id strings instead scores
        those accounts (or merchants) as ``score_entities`` does.
        """
        self._ensure_fitted()
        if isinstance(transactions, (list, tuple)) and transactions and all(isinstance(t, str) for t in transactions):
            accounts = set(self.history_.src.tolist())
            kind = "account" if transactions[0] in accounts else "merchant"
            return self.score_entities(list(transactions), kind=kind)
        t0 = time.perf_counter()
        table = self._table(transactions, require_time=self.temporal_)
        both, known, index = self._with_history(table)
        inputs = self._inputs(both, known)
        return self._scores(inputs, index, both.ids[index], reasons, t0)

    def score_history(self, ids: list[str] | None = None, reasons: bool = True) -> list[FraudScore]:
        """Scores of transactions already in the model's history (all when ``ids`` is None)."""
        self._ensure_fitted()
        t0 = time.perf_counter()
        lookup = {str(k): i for i, k in enumerate(self.history_.ids.tolist())}
        ids = list(lookup) if ids is None else [str(i) for i in ids]
        missing = [i for i in ids if i not in lookup]
        if missing:
            raise InvalidInputError(
                ErrorCode.FRAUD_UNKNOWN_ENTITY,
                f"{len(missing)} transaction id(s) are not in the model's history",
                value=missing[:5],
                hint="score() takes new transactions; score_history() only ids the model was fitted on",
            )
        index = np.array([lookup[i] for i in ids], dtype=np.int64)
        inputs = self._inputs(self.history_, self.known_)
        return self._scores(inputs, index, np.asarray(ids, dtype=object), reasons, t0)

    def _scores(self, inputs: Inputs, index, ids, reasons: bool, t0: float) -> list[FraudScore]:
        m = self.model_
        if m in ("gnn", "blend"):
            s = predict_gnn(self.gnn_, inputs.graph.data, torch.as_tensor(index), self.gnn_config_)
            x_reason, names, contrib = inputs.x_tree[index], self.tree_feature_names_, None
            if m == "blend":
                s = blend(s, predict_trees(self.trees_, x_reason), self.blend_weight_)
        else:
            x_reason = inputs.x_tree[index]
            if m == "hybrid":
                x_reason = np.hstack([x_reason, self._embeddings(inputs, index)])
            booster = self.trees_ if m == "trees" else self.hybrid_
            s = predict_trees(booster, x_reason)
            names = (
                self.tree_feature_names_
                if m == "trees"
                else self._hybrid_names(x_reason.shape[1] - len(self.tree_feature_names_))
            )
            contrib = contributions(booster, x_reason)[:, :-1] if reasons else None
        if reasons and contrib is None:
            contrib = contributions(self.trees_, x_reason)[:, :-1]  # GNN / blend: the trees' view of the row
        per = (time.perf_counter() - t0) * 1000 / max(len(index), 1)
        out = []
        for row in range(len(index)):
            top = []
            if reasons:
                order = np.argsort(-contrib[row])[: self.top_reasons]
                top = [
                    Reason(names[j], float(x_reason[row, j]), float(contrib[row, j]))
                    for j in order
                    if contrib[row, j] > 0
                ]
            out.append(
                FraudScore(
                    str(ids[row]),
                    float(s[row]),
                    bool(s[row] >= self.threshold_),
                    self.threshold_,
                    top,
                    model=m,
                    latency_ms=per,
                )
            )
        return out

    def score_entities(self, ids: list[str], kind: str = "account") -> list[FraudScore]:
        """An entity's score is the highest score among its transactions in the history."""
        self._ensure_fitted()
        if kind not in ("account", "merchant"):
            raise InvalidInputError(ErrorCode.INVALID_ARGUMENT, "kind must be account or merchant", value=kind)
        col = self.history_.src if kind == "account" else self.history_.dst
        known = set(col.tolist())
        unknown = [i for i in ids if str(i) not in known]
        if unknown:
            raise InvalidInputError(
                ErrorCode.FRAUD_UNKNOWN_ENTITY,
                f"{len(unknown)} {kind} id(s) are not in the model's history",
                value=unknown[:5],
                hint=f"check the ids; known {kind}s are the {'sources' if kind == 'account' else 'destinations'} of the fitted transactions",
            )
        per_txn = self.score_history(reasons=False)
        best: dict[str, FraudScore] = {}
        for entity, sc in zip(col.tolist(), per_txn):
            if entity not in best or sc.score > best[entity].score:
                best[entity] = sc
        return [
            FraudScore(
                str(i), best[str(i)].score, best[str(i)].alert, self.threshold_, [], kind=kind, model=self.model_
            )
            for i in ids
        ]

    def evaluate(self, transactions: Any) -> dict[str, dict]:
        """Metrics of every model on new labelled transactions (scored after the history)."""
        self._ensure_fitted()
        table = self._table(transactions, require_time=self.temporal_)
        if table.label is None or np.isnan(table.label).all():
            raise InvalidInputError(ErrorCode.FRAUD_TOO_FEW_LABELS, "evaluate needs labels", value=None)
        both, known, index = self._with_history(table)
        inputs = self._inputs(both, known)
        scores = self._all_scores(inputs, index)
        return {m: evaluate_scores(table.label, s, self.thresholds_[m]).to_dict() for m, s in scores.items()}

    # ---------------------------------------------------------------- persistence, online, explain
    def save(self, path: str | Path) -> Path:
        """Write the fitted detector to a folder (safetensors + JSON + LightGBM text, with hashes)."""
        from .persist import save

        self._ensure_fitted()
        return save(self, path)

    @classmethod
    def load(cls, path: str | Path) -> FraudDetector:
        det = cls(model_path=path)
        det._ensure_fitted()
        return det

    def score_one(self, transaction: dict[str, Any]) -> FraudScore:
        """Online scoring of one new transaction (k-hop neighbourhood, causal features, score)."""
        from .online import online_scorer

        self._ensure_fitted()
        if not self.temporal_:
            raise ModelFormatError(
                ErrorCode.FRAUD_UNSUPPORTED_INPUT,
                "online scoring needs a model fitted on timed transactions",
                value="untimed",
                hint="use score() for static graphs",
            )
        if "online_" not in self.__dict__:
            self.online_ = online_scorer(self)
        return self.online_.score(transaction)

    def explain(self, transaction_id: str, transactions: Any = None):
        """Features, neighbours and edges behind one transaction's score (an ``Explanation``).

        ``transaction_id`` is a history id, or the id of one of ``transactions`` (new ones,
        scored after the history as ``score`` does); an account or merchant id explains that
        entity's highest-scoring transaction.
        """
        from .explain import explain

        self._ensure_fitted()
        return explain(self, str(transaction_id), transactions)
