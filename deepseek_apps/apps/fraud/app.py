"""``FraudDetector``: the facade over features, the GNN, the trees and the calibrated alert.

Example:
    >>> from deepseek_apps import FraudDetector
    >>> from deepseek_apps.apps.fraud.synthetic import generate_transactions
    >>> detector = FraudDetector()  # the shipped default, trained on the synthetic generator
    >>> new = generate_transactions(50, seed=7)
    >>> scores = detector.predict(new)
    >>> scores[0].score, scores[0].alert, [r.feature for r in scores[0].reasons]  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np

from ...core.contract import Application, map_items
from ...errors import DeepSeekAppsError, ErrorCode, InvalidInputError, ModelFormatError
from .blend import ARCHS
from .calibrate import FraudMetrics, evaluate_scores, threshold_for_fpr
from .data import MAX_AMOUNT, EntityTable, TransactionTable, load_entities, load_transactions
from .entities import facade as entity_task
from .fitting import calibrate, train_models
from .model import GNNConfig
from .pipeline import Inputs, build_inputs, split_rows
from .results import FraudScore
from .rows import CheckedRows, as_frame, check_rows
from .scoring import all_scores, score_rows
from .trees import TreeConfig

CACHES = ("_online", "_history_inputs", "_history_index", "_history_state")
GNN_SHAPE = ("hidden", "layers", "conv", "num_neighbors")  # what a loaded GNN fixes


class FraudDetector(Application):
    """Fraud scores for transactions and entities from a heterogeneous transaction graph.

    Args:
        model_path: a folder or bundle written by ``save`` / ``export``; ``None`` is the shipped
            default (``get_model("fraud")``), loaded on first use.
        arch: ``"auto"`` (best validation AUPRC), ``"gnn"``, ``"trees"``, ``"hybrid"`` (GNN
            embeddings as tree features) or ``"blend"`` (GNN and trees averaged in log-odds,
            weight chosen on validation). ``None``: ``"auto"`` when fitting, the model's own
            choice when loading. A saved model holds all four, so an explicit ``arch`` is
            honoured on a loaded model too (with that model's own calibrated threshold).
        target_fpr: alerts fire at the threshold that keeps this false-positive rate on
            validation. ``None``: 0.01 when fitting, the model's calibration when loading; an
            explicit value on a loaded model re-derives the thresholds from its validation scores.
        label_features: ``None`` / ``"auto"`` (only for untimed graphs), True or False:
            out-of-fold fraud rates of each row's source and destination as features (the
            label trick). A loaded model fixes it: a conflicting value raises.
        val_fraction / test_fraction / seed: ``fit``'s defaults for the split of labelled rows
            (by time when timed) and the training seed.
        gnn: ``GNNConfig``; trees: ``TreeConfig`` (``None``: the defaults when fitting). A
            loaded model keeps its own (``gnn_config_``, ``tree_config_``); a ``gnn`` whose
            shape (hidden, layers, conv, num_neighbors) differs from the loaded one raises.
        columns: map of our column names to yours (see ``load_transactions``).
        top_reasons: reasons kept per score.
        max_amount: amounts above it are refused (1209) when fitting and scoring (default 1e12).
        allow_negative_amounts: accept negative amounts (refunds); by default they are refused (1209).
        task: ``None`` / ``"transactions"`` (the above), or ``"entities"`` / an ``EntityTask``: fraudulent
            entities of an attributed multi-relation graph, ``fit(nodes, edges)`` (see ``entities/``).

    Fitted attributes: ``arch_`` (also ``model_``), ``threshold_``, ``thresholds_`` (per
    architecture), ``target_fpr_``, ``metrics_`` (the training report), ``history_``,
    ``split_``, ``gnn_``, ``trees_``, ``hybrid_``, ``blend_weight_``, ``seed_``.

    Example:
        >>> detector = FraudDetector(target_fpr=0.003).fit("transactions.csv", epochs=10)  # doctest: +SKIP
        >>> detector.metrics_["test"]["hybrid"]["auprc"]  # doctest: +SKIP
        >>> FraudDetector(arch="trees", target_fpr=0.05).threshold_  # the default, re-calibrated  # doctest: +SKIP
    """

    app_name = "fraud"

    def __init__(
        self,
        model_path: str | Path | None = None,
        arch: str | None = None,
        target_fpr: float | None = None,
        label_features: str | bool | None = None,
        val_fraction: float = 0.2,
        test_fraction: float = 0.2,
        gnn: GNNConfig | None = None,
        trees: TreeConfig | None = None,
        columns: dict[str, str] | None = None,
        top_reasons: int = 3,
        seed: int = 0,
        max_amount: float = MAX_AMOUNT,
        allow_negative_amounts: bool = False,
        task: Any = None,
    ):
        self.model_path = model_path
        self.arch = arch
        self.target_fpr = target_fpr
        self.label_features = label_features
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.gnn = gnn
        self.trees = trees
        self.columns = columns
        self.top_reasons = top_reasons
        self.seed = seed
        self.max_amount = max_amount
        self.allow_negative_amounts = allow_negative_amounts
        self.task = task

    # ---------------------------------------------------------------- checks and accessors
    def _check_arch(self) -> str | None:
        if self.arch not in (None, "auto", *ARCHS):
            raise InvalidInputError(
                ErrorCode.INVALID_ARGUMENT, "unknown arch", value=self.arch, hint=f"use None, 'auto' or one of {ARCHS}"
            )
        return self.arch

    @property
    def model_(self) -> str:
        """The architecture that scores (same as ``arch_``; kept for older callers)."""
        return self.arch_

    @model_.setter
    def model_(self, value: str) -> None:
        self.arch_ = value

    def _table(self, data: Any, require_time: bool = True, labels: bool = True) -> TransactionTable:
        if isinstance(data, TransactionTable):
            if len(data) == 0:
                raise InvalidInputError(ErrorCode.FRAUD_EMPTY_INPUT, "no transactions: the table has no rows", value=0)
            return data
        return load_transactions(
            data,
            columns=self.columns,
            require_time=require_time,
            require_amount=require_time,
            max_amount=self.max_amount,
            allow_negative_amounts=self.allow_negative_amounts,
            labels=labels,
        )

    def inputs_for(self, table: TransactionTable, known: np.ndarray) -> Inputs:
        """Model inputs of ``table``; ``known`` marks rows whose labels may feed label features."""
        return build_inputs(table, self.channels_, self.label_features_, known, self.seed_, self.entities_)

    def history_inputs(self) -> Inputs:
        """Model inputs of the history the model was fitted on (built once, then kept)."""
        self._ensure_fitted()
        cached = self.__dict__.get("_history_inputs")
        if cached is None:
            cached = self.__dict__["_history_inputs"] = self.inputs_for(self.history_, self.known_)
        return cached

    def history_state(self):
        """Per-entity indexes of the timed history (``incremental.HistoryState``; built once, then kept)."""
        from .incremental import HistoryState

        self._ensure_fitted()
        cached = self.__dict__.get("_history_state")
        if cached is None:
            cached = self.__dict__["_history_state"] = HistoryState(self)
        return cached

    def history_index(self) -> dict[str, int]:
        """Row of each history transaction id."""
        self._ensure_fitted()
        cached = self.__dict__.get("_history_index")
        if cached is None:
            cached = self.__dict__["_history_index"] = {str(k): i for i, k in enumerate(self.history_.ids.tolist())}
        return cached

    def validation_scores(self) -> dict[str, np.ndarray]:
        """Each architecture's scores of the validation rows the thresholds were calibrated on.

        Saved with models written since the contract change; for older models they are
        recomputed, exactly, from the saved history, split and weights.
        """
        self._ensure_fitted()
        if self.__dict__.get("val_scores_") is None:
            self.val_scores_ = all_scores(self, self.history_inputs(), self.split_["val"])
        return self.val_scores_

    # ---------------------------------------------------------------- fitting
    def fit(
        self,
        transactions: Any,
        accounts: Any = None,
        merchants: Any = None,
        *,
        val_fraction: float | None = None,
        test_fraction: float | None = None,
        seed: int | None = None,
        epochs: int | None = None,
        progress: bool = True,
    ) -> FraudDetector:
        """Train the GNN, the trees, the hybrid and the blend on labelled transactions; calibrate the alert.

        Args:
            transactions: a ``TransactionTable``, path, DataFrame, dict or list (see ``load_transactions``).
            accounts / merchants: optional entity tables (``entity_id`` column, numeric attribute
                columns; see ``load_entities``): static attributes, never anything from the future.
            val_fraction / test_fraction / seed: the split and training seed (default: the constructor's).
            epochs: GNN epochs (default: ``gnn.epochs``); ``self.gnn`` is not changed.
            progress: show progress bars.

        Returns:
            self, with ``metrics_`` (validation and test metrics of every model), ``arch_``
            (the one used), ``threshold_``.
        """
        # nothing of an earlier (loaded) model survives a fit
        for name in (*CACHES, "model_card_", "entity_model_", "task_"):
            self.__dict__.pop(name, None)
        if entity_task.task_of(self) is not None:  # fit(nodes, edges)
            return entity_task.fit(self, transactions, accounts, val_fraction, test_fraction, seed, epochs)
        arch = self._check_arch() or "auto"
        table = self._table(transactions)
        self.seed_ = self.seed if seed is None else int(seed)
        self.history_ = table
        self.temporal_ = table.time is not None
        self.channels_ = sorted(set(table.channel.tolist())) if table.channel is not None else []
        auto = self.label_features in (None, "auto")
        self.label_features_ = (not self.temporal_) if auto else bool(self.label_features)
        val = self.val_fraction if val_fraction is None else val_fraction
        test = self.test_fraction if test_fraction is None else test_fraction
        self.split_ = split_rows(table, val, test, self.seed_)
        self.known_ = np.zeros(len(table), dtype=bool)
        self.known_[self.split_["train"]] = True
        self.entities_ = {
            kind: t if isinstance(t, EntityTable) else load_entities(t)
            for kind, t in (("account", accounts), ("merchant", merchants))
            if t is not None
        }
        inputs = self.inputs_for(table, self.known_)
        self.feature_names_ = inputs.names
        self.tree_feature_names_ = inputs.tree_names
        gnn = self.gnn or GNNConfig(seed=self.seed_)
        self.gnn_config_ = gnn if epochs is None else dataclasses.replace(gnn, epochs=int(epochs))
        self.tree_config_ = self.trees or TreeConfig(seed=self.seed_)
        train_models(self, inputs, progress)
        calibrate(self, inputs, arch)
        return self

    # ---------------------------------------------------------------- loading
    def __getattr__(self, name: str):
        # fitted attributes of the default / model_path model load on first access
        if name.endswith("_") and not name.startswith("_") and "gnn_" not in self.__dict__:
            self._ensure_fitted()
            return object.__getattribute__(self, name)
        raise AttributeError(f"'FraudDetector' object has no attribute {name!r}")

    def _ensure_fitted(self) -> None:
        if "gnn_" not in self.__dict__:
            self._load_now()

    def _load_now(self) -> None:
        """Load ``model_path`` (or the shipped default), then apply ``arch`` / ``target_fpr`` if given."""
        from ...core.registry import get_model
        from .persist import load_into

        self._check_arch()
        if entity_task.task_of(self) is not None or entity_task.is_entity_bundle(self.model_path):
            return entity_task.load(self, self.model_path)
        shipped = get_model(self.app_name) if self.model_path is None else None
        load_into(self, shipped.path if shipped else self.model_path)
        if shipped and shipped.card is not None and shipped.card.is_file() and self.model_card_ is None:
            self.model_card_ = shipped.card.read_bytes()
        try:
            self._apply_arguments()
        except DeepSeekAppsError:
            self.__dict__.pop("gnn_", None)  # stay unloaded: the next use raises again
            raise

    def _apply_arguments(self) -> None:
        """Check the arguments a loaded model fixes; honour ``arch`` and ``target_fpr`` (the model holds all four)."""
        if self.label_features not in (None, "auto"):
            self.check_compatible("label_features", self.label_features_)
        self._check_gnn_shape()
        if self.target_fpr is not None and float(self.target_fpr) != self.target_fpr_:
            y = self.history_.label[self.split_["val"]]
            val = self.validation_scores()
            self.thresholds_ = {m: threshold_for_fpr(y, val[m], float(self.target_fpr)) for m in ARCHS}
            self.target_fpr_ = float(self.target_fpr)
        if self.arch == "auto":
            self.arch_ = max(ARCHS, key=lambda m: self.metrics_["val"][m]["auprc"])
        elif self.arch is not None:
            self.arch_ = self.arch
        self.threshold_ = self.thresholds_[self.arch_]

    def _check_gnn_shape(self) -> None:
        """A given ``gnn`` must match the loaded network's shape (its training settings only matter to ``fit``)."""
        if self.gnn is None:
            return

        def shape(cfg: GNNConfig) -> dict[str, Any]:
            return {k: tuple(v) if isinstance(v, list) else v for k, v in ((k, getattr(cfg, k)) for k in GNN_SHAPE)}

        mine, loaded = shape(self.gnn), shape(self.gnn_config_)
        if mine != loaded:
            raise InvalidInputError(
                ErrorCode.INVALID_ARGUMENT,
                f"gnn={mine} conflicts with the loaded model, which was built with {loaded}",
                value=mine,
                hint="leave gnn as None to use the model's network, or fit a new model",
            )

    def _entities(self) -> Any:
        """The entity model when this detector holds one (``None``: a transaction model)."""
        self._ensure_fitted()
        return entity_task.active(self)

    # ---------------------------------------------------------------- scoring
    def new_rows(self, transactions: Any) -> TransactionTable:
        """New ``transactions`` as they are scored after the history: ids checked, labels hidden, times clamped.

        A time earlier than the history's last one is scored as if it came last (documented
        handling of out-of-order rows), so it becomes that last time.
        """
        self._ensure_fitted()
        new = self._table(transactions, require_time=self.temporal_)
        new = new.take(np.arange(len(new)))
        new.label = np.full(len(new), np.nan, dtype=np.float32)
        clash = [i for i in new.ids.astype(str).tolist() if i in self.history_index()]
        if clash:
            raise InvalidInputError(
                ErrorCode.FRAUD_DUPLICATE_ID,
                f"{len(clash)} transaction id(s) are already in the model's history",
                value=clash[:5],
                hint="score new transactions only, or use score_history() for known ids",
            )
        if self.temporal_ and new.time is not None and len(new):
            new.time = np.maximum(new.time, self.history_.time.max())
        return new

    def with_history(self, transactions: Any) -> tuple[TransactionTable, np.ndarray, np.ndarray]:
        """History followed by new ``transactions`` (see ``new_rows``): the table, ``known`` and the new rows' index."""
        new = self.new_rows(transactions)
        hist = self.history_
        if hist.label is None:
            hist.label = np.full(len(hist), np.nan, dtype=np.float32)
        both = hist.concat(new)
        known = np.concatenate([self.known_, np.zeros(len(new), dtype=bool)])
        return both, known, np.arange(len(hist), len(both))

    def inputs_after_history(self, transactions: Any) -> tuple[TransactionTable, Inputs, np.ndarray]:
        """Model inputs of new ``transactions`` scored after the history: ``(table, inputs, index)``.

        ``index`` holds the new rows of ``table`` / ``inputs`` (in time order). Timed models
        build them incrementally, in time proportional to the batch and the entities it
        touches (``incremental.py``); untimed ones rebuild history + batch (whole-table
        features, full-graph GNN).
        """
        from .incremental import incremental_after_history, rebuild_after_history

        self._ensure_fitted()
        build = incremental_after_history if self.temporal_ else rebuild_after_history
        return build(self, transactions)

    def score_rows(self, inputs: Inputs, index: np.ndarray, ids, reasons: bool = True) -> list[FraudScore]:
        """``FraudScore`` of rows ``index`` of built ``inputs`` (see ``history_inputs`` / ``inputs_for``)."""
        self._ensure_fitted()
        return score_rows(self, inputs, index, ids, reasons)

    def score(self, transactions: Any, reasons: bool = True, edges: Any = None) -> list[FraudScore]:
        """Score new transactions, each as if it arrived after the model's history; results in input order.

        Unknown accounts or merchants are new entities (no history); that is how fraud
        often looks, so it is scored, not refused. A list of entity id strings instead scores
        those accounts (or merchants) as ``score_entities`` does. Any bad row raises; use
        ``predict(..., errors="record")`` to record bad rows and score the rest. Labels are
        not read (a bad label value is no error here); no rows at all raise 1210.
        Entity models: node ids or a node table (new nodes with ``edges``, scored inductively).
        """
        if self._entities() is not None:
            return entity_task.score(self, transactions, edges, reasons)
        if isinstance(transactions, (list, tuple)) and transactions and all(isinstance(t, str) for t in transactions):
            accounts = set(self.history_.src.tolist())
            kind = "account" if transactions[0] in accounts else "merchant"
            return self.score_entities(list(transactions), kind=kind)
        t0 = time.perf_counter()
        table = self._table(transactions, require_time=self.temporal_, labels=False)
        rows, inputs, index = self.inputs_after_history(table)
        if table.row is not None:
            index = index[np.argsort(table.row, kind="stable")]  # back to input order
        return score_rows(self, inputs, index, rows.ids[index], reasons, t0)

    def predict(self, transactions: Any, errors: str = "raise", reasons: bool = True) -> list[FraudScore]:
        """``score`` under the application contract: with ``errors="record"`` a bad row gets a result whose ``error`` is set.

        Args:
            transactions: a list of row dicts, a DataFrame, a path or a ``TransactionTable``
                (or a list of account / merchant ids).
            errors: ``"raise"`` (the first bad row raises) or ``"record"``: every row is checked
                at once (``check_rows``); a bad row's result has ``error`` set (with its code and
                ``row``, its 0-based position) and the good rows are scored once, together,
                with exactly the scores the input without the bad rows gets. A repeated id
                keeps its first row (later ones: 1205).
            reasons: keep the top reasons of each score.

        Example:
            >>> FraudDetector().predict([{"source": "a1", "destination": "m1", "timestamp": 1.8e9,
            ...                           "amount": float("nan")}], errors="record")[0].error["code"]  # doctest: +SKIP
            1204
        """
        self.check_errors_mode(errors)
        if self._entities() is not None:
            return entity_task.predict(self, transactions, errors, reasons)
        if isinstance(transactions, (list, tuple)) and not transactions:
            return []
        if errors == "raise" or isinstance(transactions, TransactionTable):
            return self.score(transactions, reasons)
        if isinstance(transactions, (list, tuple)) and transactions and all(isinstance(t, str) for t in transactions):
            return map_items(transactions, lambda i: self.score([i])[0], errors, lambda i, exc: self._failed(i, exc))
        checked = self.check_rows(transactions)
        good = checked.good
        scored = iter(self.score(checked.rows(good), reasons) if len(good) else [])
        return [self.failed_row(checked, i) if i in checked.errors else next(scored) for i in range(len(checked))]

    def check_rows(self, transactions: Any) -> CheckedRows:
        """Every row of ``transactions`` checked at once (vectorised); see ``rows`` for the rules.

        Returns:
            ``CheckedRows``: ``.errors`` (row -> coded error), ``.good`` (positions to score)
            and ``.rows(index)`` (those rows, ready for ``score``).

        Raises:
            InvalidInputError: a missing required column (1201), no rows (1210).
            ModelFormatError: an unreadable file (1211).
        """
        self._ensure_fitted()
        return check_rows(
            as_frame(transactions, self.columns),
            temporal=self.temporal_,
            history_ids=self.history_index(),
            max_amount=self.max_amount,
            allow_negative_amounts=self.allow_negative_amounts,
        )

    def failed_row(self, checked: CheckedRows, row: int) -> FraudScore:
        """The result of row ``row`` of ``checked``, which failed a check: its id, code and ``row``."""
        return self._failed(checked.ids[row], checked.errors[row], row)

    def _failed(self, item: Any, exc: DeepSeekAppsError, row: int | None = None) -> FraudScore:
        """The result of a row that could not be scored: its error, with ``row`` (its position) when known."""
        error = exc.to_dict() if row is None else {**exc.to_dict(), "row": int(row)}
        return FraudScore(str(item), 0.0, False, self.threshold_, model=self.arch_, error=error)

    def score_history(self, ids: list[str] | None = None, reasons: bool = True) -> list[FraudScore]:
        """Scores of transactions already in the model's history (all when ``ids`` is None)."""
        self._ensure_fitted()
        t0 = time.perf_counter()
        lookup = self.history_index()
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
        return score_rows(self, self.history_inputs(), index, np.asarray(ids, dtype=object), reasons, t0)

    def score_entities(self, ids: list[str], kind: str = "account") -> list[FraudScore]:
        """An entity's score is the highest score among its transactions in the history (entity models: its node score)."""
        if self._entities() is not None:
            return entity_task.score_entities(self, list(ids))
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
            FraudScore(str(i), best[str(i)].score, best[str(i)].alert, self.threshold_, [], kind=kind, model=self.arch_)
            for i in ids
        ]

    def score_entities_after(self, transactions: Any) -> list[FraudScore]:
        """Entity models fitted on a transaction log: scores of the new entities that new transactions bring.

        ``transactions`` has the log's columns (a path, DataFrame, rows or ``TransactionTable``).
        Each entity the log never saw gets its node attributes and ``pays`` edges from its new
        transactions, their causal features computed after the log's history, exactly as a
        rebuild of the graph on log + new gives them, and is scored inductively without a refit
        (``score(nodes, edges)``'s path; no reasons). Entities already in the log keep their
        fitted scores (``score_entities``). Results come in order of each new entity's first
        transaction; ``kind`` is ``account`` (it pays) or ``merchant``. Bad rows raise as
        ``fit`` does (1201-1210); a model fitted on a node table raises 1220.

        Example:
            >>> det = FraudDetector(task="entities").fit(TransactionLog("tx.csv", "mules.csv"))  # doctest: +SKIP
            >>> [(r.id, r.score, r.kind) for r in det.score_entities_after("new_tx.csv")]  # doctest: +SKIP
        """
        if self._entities() is None:
            raise InvalidInputError(
                ErrorCode.FRAUD_WRONG_TASK,
                "score_entities_after() is for entity models fitted on a transaction log; this is a transaction model",
                value="score_entities_after",
                hint="score new transactions with score(transactions)",
            )
        return entity_task.score_after(self, transactions)

    def evaluate(self, transactions: Any, edges: Any = None) -> FraudMetrics:
        """Metrics of every architecture on new labelled transactions (scored after the history).

        Returns:
            ``FraudMetrics``: ``.model`` (the one that alerts), ``.per_model[arch]`` (``Metrics``),
            ``.auc`` / ``.auprc`` / ``.recall_at_1pct_fpr`` of the alerting model, ``to_dict()``.
            Entity models: labelled nodes (new ones with ``edges``); ``None``: the fit's test split.
        """
        if self._entities() is not None:
            return entity_task.evaluate(self, transactions, edges)
        table = self._table(transactions, require_time=self.temporal_)
        if table.label is None or np.isnan(table.label).all():
            raise InvalidInputError(
                ErrorCode.FRAUD_TOO_FEW_LABELS, "evaluate needs labels", value=None, hint="add a 'label' column"
            )
        _, inputs, index = self.inputs_after_history(table)
        scores = all_scores(self, inputs, index)
        per_model = {m: evaluate_scores(table.label, s, self.thresholds_[m]) for m, s in scores.items()}
        return FraudMetrics(self.arch_, per_model)

    # ---------------------------------------------------------------- persistence, online, explain
    def save(self, path: str | Path) -> Path:
        """Write the fitted detector to a folder (safetensors + JSON + LightGBM text, with hashes)."""
        from .persist import save

        if self._entities() is not None:
            return entity_task.save_entities(self, path)
        return save(self, path)

    def export(self, path: str | Path, int8: bool = True) -> Path:
        """A hash-verified bundle (``.zip`` or folder) that ``FraudDetector.load`` opens.

        The GNN scores sampled, heterogeneous neighbourhoods built by the PyTorch Geometric
        pipeline, so the bundle keeps the PyTorch weights (safetensors) next to LightGBM's
        text models, the config and the history; its manifest says ``runs_without_torch:
        false`` with the reason, and that ``int8`` was not applied (see ``persist.export``).
        """
        from .persist import export

        if self._entities() is not None:
            return entity_task.save_entities(self, path)
        return export(self, path, int8)

    def score_one(self, transaction: dict[str, Any]) -> FraudScore:
        """Online scoring of one new transaction (k-hop neighbourhood, causal features, score)."""
        from .online import OnlineScorer

        if self._entities() is not None:
            raise entity_task.wrong_task("score_one")
        if not self.temporal_:
            raise ModelFormatError(
                ErrorCode.FRAUD_UNSUPPORTED_INPUT,
                "online scoring needs a model fitted on timed transactions",
                value="untimed",
                hint="use score() for static graphs",
            )
        scorer = self.__dict__.get("_online")
        if scorer is None:
            scorer = self.__dict__["_online"] = OnlineScorer(self)
        return scorer.score(transaction)

    def explain(self, transaction_id: str, transactions: Any = None):
        """Features, neighbours and edges behind one transaction's score (an ``Explanation``).

        ``transaction_id`` is a history id, or the id of one of ``transactions`` (new ones,
        scored after the history as ``score`` does); an account or merchant id explains that
        entity's highest-scoring transaction.
        """
        from .explain import explain

        if self._entities() is not None:
            return entity_task.explain(self, transaction_id)
        return explain(self, str(transaction_id), transactions)
