"""``DINRecommender``: rank candidate items for a user from what the user did recently."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ...core.contract import Application, map_items
from ...errors import ErrorCode, InvalidInputError, MissingResourceError, ModelFormatError
from .data import InteractionLog, Samples, SampleSplits, build_samples, remap
from .metrics import RankingMetrics, evaluate_scores, rela_impr
from .ranking import candidate_set, check_k, check_user_id, item_indices, item_scores, ranked
from .request import RankRequest, parse_request, request_user
from .results import ItemScore, Ranking, Recommendation
from .settings import ARCHS, FIT_DEFAULTS, arch_name, check_fit_settings, loaded_settings

SPLITS = ("train", "valid", "test")


class DINRecommender(Application):
    """Deep Interest Network ranking (Zhou et al., KDD 2018), trained on behaviour logs.

    Arguments that a model fixes (``user_features``, ``item_features``, ``attention_heads``,
    ``max_len``, ``arch``, ``activation``) default to ``None``: "the loaded model's", or for
    ``fit`` the defaults below. Given together with a model built otherwise they raise
    ``InvalidInputError`` (1000); they are never rewritten. The values in use are the fitted
    attributes ``max_len_``, ``arch_``, ``item_features_``, ``attention_heads_``,
    ``activation_`` and ``user_features_``.

    Args:
        model_path: a folder written by ``save`` or a bundle written by ``export``; ``None``
            uses the shipped default model (``deepseek-apps models recommender``) until ``fit``.
        user_features: user feature names to use (``None``: every one in the log; ``()``: none).
        item_features: embedding size of items, categories and user features (fit default 16).
        attention_heads: heads of the local activation unit (fit default 1 = the paper's DIN).
        max_len: history length the model looks at, most recent clicks (fit default 50).
        arch: ``"din"`` (attention pooling, the fit default) or ``"base"`` (the paper's
            BaseModel, sum pooling).
        activation: ``"prelu"`` (fit default) or ``"dice"`` in the MLP and the activation unit
            (PReLU serves about 2x faster on CPU; on MovieLens-100K both rank alike, see the README).
        negatives: sampled negatives per click when building samples from a log.
        train_settings: ``TrainSettings`` (epochs, batch size, lr, mini-batch aware L2, patience, seed).
        threads: torch threads for training and scoring (``None``: torch's default).

    Cold start:
        An unknown ``user_id`` with no ``history`` is scored with an empty history and unknown
        user features, so the ranking falls back to what the model learnt about the items
        themselves (``Recommendation.cold_start`` is True). Unknown candidate items are scored
        by the padding embedding (no item signal), flagged ``known_item=False`` and ranked
        after every known item, in the order given; unknown items in a given history are ignored.

    Ids and candidates:
        Ids are ints or strings and match the catalog's ids either way (``"5"`` is user 5 when
        the model's user ids are ints; see ``apps/recommender/ids.py``). ``None`` or NaN in
        ``candidates`` is refused (``CANDIDATES_INVALID``, 1103, with the positions) and
        repeated candidates are ranked once, at their first position.

    Example:
        >>> from deepseek_apps import DINRecommender
        >>> recs = DINRecommender().recommend(user_id=0, k=3)
        >>> len(recs), recs[0].rank
        (3, 1)
    """

    app_name = "recommender"

    def __init__(
        self,
        model_path: str | Path | None = None,
        user_features: Sequence[str] | None = None,
        item_features: int | None = None,
        attention_heads: int | None = None,
        max_len: int | None = None,
        arch: str | None = None,
        activation: str | None = None,
        negatives: int = 1,
        train_settings: Any = None,
        threads: int | None = None,
    ):
        self.model_path = model_path
        self.user_features = user_features
        self.item_features = item_features
        self.attention_heads = attention_heads
        self.max_len = max_len
        self.arch = arch
        self.activation = activation
        self.negatives = negatives
        self.train_settings = train_settings
        self.threads = threads

    # ------------------------------------------------------------------ state
    def _load_now(self) -> None:
        self.__dict__.pop("_state", None)
        _ = self.state_

    def _open(self) -> None:
        from ...core.registry import get_model
        from .onnx_scorer import load_bundle
        from .persist import load_model

        if self.model_path is None:
            path = get_model(self.app_name).path
            if not (path / "config.json").exists():
                raise MissingResourceError(
                    ErrorCode.DEFAULT_MODEL_MISSING,
                    "the shipped default recommender is missing",
                    value=str(path),
                    hint="reinstall deepseek-apps or pass model_path",
                )
        else:
            path = Path(self.model_path)
        onnx = None
        if path.suffix == ".zip" or (path / "manifest.json").exists():
            state, onnx = load_bundle(path, threads=self.threads or 1)
        else:
            state = load_model(path)
        self._check_loaded(state)
        self._state, self._onnx = state, onnx

    def _check_loaded(self, state) -> None:
        """Refuse constructor arguments that conflict with what the loaded model was built with."""
        for name, value in loaded_settings(state).items():
            self.check_compatible(name, value)
        names = list(state.catalog.user_feature_names)
        if self.user_features is not None and sorted(self.user_features) != sorted(names):
            raise InvalidInputError(
                ErrorCode.INVALID_ARGUMENT,
                f"user_features={list(self.user_features)!r} conflicts with the loaded model, "
                f"which was built with user_features={names!r}",
                value=list(self.user_features),
                hint="leave user_features as None to use the model's value, or fit a new model",
            )

    @property
    def state_(self):
        """The fitted (or loaded) model, catalog and histories; opens ``model_path`` or the default lazily."""
        if self.__dict__.get("_state") is None:
            self._open()
        return self._state

    @property
    def model_(self):
        """The PyTorch ``DIN`` (an ONNX bundle has none: ``ModelFormatError`` 3005)."""
        model = self.state_.model
        if model is None:
            raise ModelFormatError(
                ErrorCode.UNSUPPORTED_FORMAT,
                "this recommender was opened from an ONNX bundle, which holds no PyTorch weights",
                value=str(self.model_path),
                hint="open the model folder written by save() or `deepseek-apps recommender train` to save or export",
            )
        return model

    @property
    def catalog_(self):
        return self.state_.catalog

    @property
    def metrics_(self) -> dict:
        return self.state_.metrics

    @property
    def max_len_(self) -> int:
        """History length of the model in use."""
        return int(self.state_.params.get("max_len", FIT_DEFAULTS["max_len"]))

    @property
    def arch_(self) -> str:
        return arch_name(self.state_.architecture.get("pooling"))

    @property
    def item_features_(self) -> int:
        return int(self.state_.architecture["embedding_dim"])

    @property
    def attention_heads_(self) -> int:
        return int(self.state_.architecture["attention_heads"])

    @property
    def activation_(self) -> str:
        return self.state_.architecture["activation"]

    @property
    def user_features_(self) -> list[str]:
        return list(self.catalog_.user_feature_names)

    # ------------------------------------------------------------------ training
    def _setting(self, name: str) -> Any:
        value = getattr(self, name)
        return FIT_DEFAULTS[name] if value is None else value

    @staticmethod
    def _as_log(data: Any) -> InteractionLog | SampleSplits:
        if isinstance(data, (str, Path)):
            from .loaders import load_log

            data = load_log(data)
        if not isinstance(data, (InteractionLog, SampleSplits)):
            raise InvalidInputError(
                ErrorCode.INVALID_ARGUMENT,
                "expected an InteractionLog, SampleSplits or a path to a log",
                value=type(data).__name__,
                hint="load one with deepseek_apps.apps.recommender.loaders.load_log",
            )
        return data

    def _splits(self, data: Any, seed: int, max_len: int, select_features: bool = True) -> SampleSplits:
        data = self._as_log(data)
        if isinstance(data, SampleSplits):
            return data
        if select_features and self.user_features is not None:
            missing = [f for f in self.user_features if f not in data.user_features]
            if missing:
                raise InvalidInputError(
                    ErrorCode.LOG_COLUMNS,
                    f"user features {missing} are not in the log",
                    value=sorted(data.user_features),
                    hint="pass user_features naming columns of the log, or None for all",
                )
            data = replace(data, user_features={k: data.user_features[k] for k in self.user_features})
        return build_samples(data, max_len=max_len, negatives=self.negatives, seed=seed)

    def _train_settings(self, seed: int | None, epochs: int | None, progress: bool):
        from .train import TrainSettings

        settings = self.train_settings or TrainSettings()
        overrides: dict[str, Any] = {"progress": settings.progress and progress}
        if seed is not None:
            overrides["seed"] = seed
        if epochs is not None:
            overrides["epochs"] = epochs
        return replace(settings, **overrides)  # a copy: self.train_settings is never changed

    def _new_model(self, splits: SampleSplits, pooling: str):
        from .model import DIN, DINConfig

        c = splits.catalog
        config = DINConfig(
            n_items=c.n_items,
            n_categories=len(c.category_names),
            user_vocab_sizes=tuple(len(v) + 1 for v in c.user_feature_vocab),
            embedding_dim=self._setting("item_features"),
            activation=self._setting("activation"),
            pooling=pooling,
            attention_heads=self._setting("attention_heads"),
        )
        return DIN(config)

    def fit(
        self,
        data: Any,
        *,
        valid: Samples | None = None,
        val_fraction: None = None,
        test_fraction: None = None,
        seed: int | None = None,
        epochs: int | None = None,
        progress: bool = True,
        baseline: bool = False,
    ) -> DINRecommender:
        """Train a new model on a log (or ``SampleSplits``, or a path to a log); returns ``self``.

        The split is leave-last-out per user: the last click of each user is the test sample,
        the one before it the validation sample, the earlier ones train. ``val_fraction`` and
        ``test_fraction`` therefore do not apply and only ``None`` is accepted; ``valid``
        replaces the validation samples. The model is built from the constructor's arguments
        (``None`` = the defaults: ``max_len=50``, ``arch="din"``, ...), whatever ``model_path`` holds.

        Args:
            data: an ``InteractionLog``, ``SampleSplits`` or a log file / MovieLens folder.
            valid: validation samples to use instead of the second-to-last clicks.
            val_fraction, test_fraction: must be ``None`` (see above).
            seed, epochs: override ``train_settings`` for this call (``train_settings`` is not changed).
            progress: ``False`` silences progress bars and per-epoch lines.
            baseline: also train the BaseModel on the same samples and report its RelaImpr.

        Sets ``metrics_`` (per-epoch validation AUC, GAUC and log loss, then test metrics) and ``splits_``.

        Example:
            >>> from deepseek_apps import DINRecommender
            >>> from deepseek_apps.apps.recommender.synthetic import generate_log
            >>> rec = DINRecommender(max_len=10).fit(generate_log(n_users=20, n_items=30), epochs=1, progress=False)
            >>> rec.max_len_, rec.max_len
            (10, 10)
        """
        import torch

        from .persist import SavedModel
        from .train import evaluate_model, train_model

        check_fit_settings({name: self._setting(name) for name in FIT_DEFAULTS}, val_fraction, test_fraction)
        settings = self._train_settings(seed, epochs, progress)
        if self.threads:
            torch.set_num_threads(self.threads)
        max_len, arch = self._setting("max_len"), self._setting("arch")
        if isinstance(data, SampleSplits):  # built already: its history width is the model's
            max_len = self.check_compatible("max_len", int(data.train.hist_items.shape[1]))
        splits = self._splits(data, settings.seed, max_len)
        if valid is not None:
            splits = replace(splits, valid=valid)
        torch.manual_seed(settings.seed)  # the initial weights too depend on the seed alone
        model = self._new_model(splits, ARCHS[arch])
        history = train_model(model, splits, settings, desc=arch)
        metrics = {
            "epochs": [e.to_dict() for e in history],
            "valid": evaluate_model(model, splits.valid, splits.catalog).to_dict() if len(splits.valid) else None,
            "test": evaluate_model(model, splits.test, splits.catalog).to_dict() if len(splits.test) else None,
            "samples": {"train": len(splits.train), "valid": len(splits.valid), "test": len(splits.test)},
        }
        if baseline:
            torch.manual_seed(settings.seed)
            base = self._new_model(splits, "sum")
            train_model(base, splits, settings, desc="base")
            metrics["baseline_test"] = evaluate_model(base, splits.test, splits.catalog).to_dict()
            metrics["rela_impr_test_auc"] = rela_impr(metrics["test"]["auc"], metrics["baseline_test"]["auc"])
            if settings.progress:
                print(f"RelaImpr vs BaseModel (test AUC): {metrics['rela_impr_test_auc']:+.2f}%")
        params = {"max_len": max_len, "negatives": self.negatives, "train": settings.to_dict()}
        self._state = SavedModel(model, splits.catalog, splits.hist_indptr, splits.hist_items, params, metrics)
        self._onnx = None
        self.splits_ = splits
        return self

    def evaluate(self, data: Any = None, split: str = "test") -> RankingMetrics:
        """AUC, GAUC and log loss (``core.metrics``) on ``split`` of ``data`` (default: the last ``fit``'s samples).

        ``data`` is a log (or a path to one): its samples are built with the model's history
        length and re-indexed onto the model's catalog, so unknown users and items count as cold.
        """
        if split not in SPLITS:
            raise InvalidInputError(ErrorCode.INVALID_ARGUMENT, "split must be train, valid or test", value=split)
        if data is None:
            splits = self.__dict__.get("splits_")
            if splits is None:
                raise InvalidInputError(
                    ErrorCode.INVALID_ARGUMENT,
                    "no data to evaluate on",
                    hint="pass the log (or call fit first)",
                )
            samples = getattr(splits, split)
        else:
            seed = int(self.state_.params.get("train", {}).get("seed", 0))
            splits = self._splits(data, seed, self.max_len_, select_features=False)
            samples = remap(getattr(splits, split), splits.catalog, self.catalog_)
        return evaluate_scores(samples.label, self._sample_probabilities(samples), samples.user)

    def _sample_probabilities(self, samples: Samples, batch_size: int = 4096) -> np.ndarray:
        """Click probability of every sample, with the PyTorch model or the bundle's ONNX graph."""
        c = self.catalog_
        if self.state_.model is not None:
            from .train import TensorSamples, predict_samples

            return predict_samples(self.state_.model, TensorSamples(samples, c), batch_size)
        out = [np.zeros(0, np.float32)]
        for a in range(0, len(samples), batch_size):
            s = samples.subset(np.arange(a, min(a + batch_size, len(samples))))
            hist = s.hist_items.astype(np.int64)
            prob, _ = self._forward(
                c.user_feature_codes[s.user], s.item, s.category, hist, s.hist_cats.astype(np.int64)
            )
            out.append(prob)
        return np.concatenate(out)

    # ------------------------------------------------------------------ inference
    def history_of(self, user_id: Any) -> list:
        """Raw item ids of the user's known clicks, oldest first (empty for unknown users)."""
        s = self.state_
        u = s.catalog.user_index(user_id)
        if u == 0:
            return []
        items = s.hist_items[s.hist_indptr[u] : s.hist_indptr[u + 1]]
        return [s.catalog.item_ids[i - 1] for i in items]

    def _forward(self, feats, items, cats, hist, hist_cats) -> tuple[np.ndarray, np.ndarray]:
        """(prob, attention) from the ONNX scorer of a bundle, or the PyTorch model."""
        onnx = self.__dict__.get("_onnx")
        if onnx is not None:
            return onnx.run(feats, items, cats, hist, hist_cats)
        import torch

        with torch.inference_mode():
            prob, att = self.model_(*(torch.from_numpy(a) for a in (feats, items, cats, hist, hist_cats)))
        return prob.numpy(), att.numpy()

    def _score_indices(self, user_id: Any, items: np.ndarray, history: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities (C,) and attention (C, L) of catalog item indices for one user and history indices.

        The fast path of ``recommend``, the service and the benchmarks; ``score`` is the public one.
        """
        c = self.state_.catalog
        u = c.user_index(user_id)
        items = np.asarray(items, np.int64)
        hist = np.asarray(history, np.int64)[-self.max_len_ :][None]
        if hist.shape[1] == 0:  # cold start: one padding position (empty axes break reshapes in ONNX)
            hist = np.zeros((1, 1), np.int64)
        return self._forward(
            c.user_feature_codes[u : u + 1], items, c.item_category[items], hist, c.item_category[hist]
        )

    def _history(self, user_id: Any, history: Sequence | None) -> np.ndarray:
        """Indices of the stored clicks or of ``history``, known items only (not yet cut to ``max_len_``)."""
        check_user_id(user_id)
        raw = self.history_of(user_id) if history is None else history
        _, hist = item_indices(self.catalog_, raw, "history")
        return hist[hist > 0]

    def score(self, user_id: Any, items: Sequence, history: Sequence | None = None) -> list[ItemScore]:
        """Click probability of each of ``items`` (raw ids) for ``user_id``, in the order given.

        ``history`` (raw item ids, oldest first) replaces the stored clicks.

        Example:
            >>> from deepseek_apps import DINRecommender
            >>> [type(s).__name__ for s in DINRecommender().score(0, [1, 2])]
            ['ItemScore', 'ItemScore']
        """
        raw, idx = item_indices(self.catalog_, items, "items")
        hist = self._history(user_id, history)[-self.max_len_ :]
        if not raw:
            return []
        prob, att = self._score_indices(user_id, idx, hist)
        return item_scores(self.catalog_, raw, idx, hist, prob, att)

    def recommend(
        self,
        user_id: Any,
        candidates: Sequence | None = None,
        k: int = 10,
        history: Sequence | None = None,
        exclude_seen: bool = True,
    ) -> list[Recommendation]:
        """Top ``k`` of ``candidates`` (default: every item the user has not clicked) for ``user_id``.

        ``history`` (raw item ids, oldest first) replaces the stored clicks, e.g. with
        behaviour that arrived after training. Returns ``Recommendation``s, best first: known
        items by score, then unknown ones (``known_item=False``) in the order given. Repeated
        candidates are ranked once; ``None`` / NaN candidates raise ``InvalidInputError`` (1103).
        """
        check_k(k)
        seen = self._history(user_id, history)
        raw, idx = candidate_set(self.catalog_, candidates, seen, exclude_seen)
        hist = seen[-self.max_len_ :]
        if len(idx) == 0:
            return []
        prob, att = self._score_indices(user_id, idx, hist)
        return ranked(self.catalog_, raw, idx, hist, prob, att, k)

    def predict(self, requests: Sequence[Any], errors: str = "raise") -> list[Ranking]:
        """One ``Ranking`` per request; ``errors="record"`` keeps going past bad requests.

        A request is a user id, a dict ``{"user_id", "candidates", "k", "history"}`` (all but
        ``user_id`` optional) or a tuple ``(user_id, candidates, k, history)`` (trailing parts
        optional); see ``recommend`` for what each part means (``k`` defaults to 10).

        Example:
            >>> from deepseek_apps import DINRecommender
            >>> out = DINRecommender().predict([0, {"user_id": 1, "k": 0}], errors="record")
            >>> len(out[0].items), out[1].error["code"]
            (10, 1000)
        """
        self.check_errors_mode(errors)

        def work(request: Any) -> Ranking:
            r: RankRequest = parse_request(request)
            return Ranking(r.user_id, self.recommend(r.user_id, r.candidates, r.k, history=r.history))

        return map_items(requests, work, errors, lambda request, exc: Ranking(request_user(request), [], exc.to_dict()))

    def recommend_batch(self, requests: Sequence[tuple], exclude_seen: bool = True) -> list[list[Recommendation]]:
        """Many ``(user_id, candidates, k, history)`` requests (what the service's batcher hands over).

        Each request runs as one forward pass whose history is shared by its candidates (one
        GEMM for all candidate-history pairs). On CPU this beats stacking the requests into
        one pass with a copied history per row: the per-pair tensors of a 16-request stack no
        longer fit in cache and the history terms are recomputed per candidate (4,183 vs 17,190
        candidates/s under 32 clients, README). The batcher then bounds how many forwards run at once.
        """
        return [self.recommend(u, cand, k, history=h, exclude_seen=exclude_seen) for u, cand, k, h in requests]

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the model folder (safetensors + JSON with hashes); loadable with ``DINRecommender.load``."""
        from .persist import save_model

        _ = self.model_  # a bundle has no weights to save: coded error
        return save_model(path, self.state_)

    def export(self, path: str | Path, int8: bool = True, max_prob_diff: float = 0.05) -> Path:
        """Write an ONNX edge bundle (zip or folder) that runs without PyTorch; see ``export.export_bundle``.

        INT8 is refused (``RuntimeFailure`` 4001) when it moves a probability by more than ``max_prob_diff``.
        """
        from .export import export_bundle

        return export_bundle(self, path, int8=int8, max_prob_diff=max_prob_diff)
