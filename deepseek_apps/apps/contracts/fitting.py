"""Training the clause tagger on a CUAD-layout folder and scoring a parser on labelled contracts.

``fit_clauses`` is what ``ContractParser.fit`` and ``deepseek-apps contracts train`` run: a
seeded split by contract, the LoRA tagger trained on the training part, the lexical scorer
fitted on its windows, both validated on the held-out part. ``evaluate_clauses`` is
``ContractParser.evaluate`` / ``contracts evaluate``: field P/R/F1 of the rules and the clause
metrics of ``clauses.eval``.

Example:
    >>> source = fit_clauses("cuad/", epochs=1)  # doctest: +SKIP
    >>> source.metrics["validation"]["span"]["aupr"]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from deepseek_apps.errors import ErrorCode, InvalidInputError

from .clauses.data import load_labelled, window_texts
from .clauses.eval import evaluate_tagger
from .evaluate import load_labels, score_fields, split_contracts
from .model_io import ClauseSource
from .results import ContractMetrics


def split_names(data: str | Path, val_fraction: float, test_fraction: float, seed: int) -> tuple[list, list, list]:
    """(train, validation, test) contract names of a CUAD-layout folder, seeded, by contract."""
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            "val_fraction and test_fraction must be in [0, 1) and leave contracts to train on",
            value=[val_fraction, test_fraction],
            hint="e.g. val_fraction=0.2, test_fraction=0.0",
        )
    table, _ = load_labels(data)
    rest, test = split_contracts(list(table["Text File"]), fraction=test_fraction, seed=seed + 1)
    train, val = split_contracts(rest, fraction=val_fraction / (1 - test_fraction), seed=seed)
    return train, val, test


def report_summary(report: dict) -> dict:
    """The clause report without per-category detail (what ``clause_tagger.json`` records)."""
    window = {name: {k: v for k, v in m.items() if k != "per_category"} for name, m in report["window"].items()}
    summary = {"contracts": report["contracts"], "windows": report["windows"], "window": window, "span": report["span"]}
    if "span_with_rules" in report:
        summary["span_with_rules"] = report["span_with_rules"]
    return summary


log = logging.getLogger(__name__)
RERANK_MIN_CONTRACTS = 8


def fit_reranker(records: list, meta: dict, runtime=None) -> None:
    """Fit the span re-ranker (``clauses.rerank``) and the window stacker (``clauses.stack``) on
    the validation contracts' candidates and windows.

    Their 4-fold cross-fitted metrics (each contract scored by models fitted on the others) go
    to ``meta["validation"]["span_reranked"]`` and ``["window_stacked"]``, next to the
    decoder's ``span`` and the plain ``window`` scores; the models fitted on all of them to
    ``meta["span_reranker"]`` / ``meta["window_stacker"]`` (and to ``runtime``). Too few
    contracts, or candidates all right or all wrong: the decoder's ranking and the plain window
    scores stay, and the log says why.
    """
    from .clauses.eval import cross_fit_report, window_metrics
    from .clauses.rerank import SpanReranker
    from .clauses.stack import WindowStacker, cross_fit_windows

    labels = np.concatenate([r.labels for r in records])
    if len(records) < RERANK_MIN_CONTRACTS or labels.all() or not labels.any():
        log.warning(
            "span re-ranker and window stacker not fitted: %d validation contracts, %d of %d candidates right "
            "(needs %d contracts, both kinds)",
            len(records), int(labels.sum()), labels.size, RERANK_MIN_CONTRACTS,
        )  # fmt: skip
        return
    where = f"{len(records)} validation contracts (split seed {meta.get('split_seed', '?')})"
    validation = meta.setdefault("validation", {})
    try:
        report = cross_fit_report(records, folds=4)
        reranker = SpanReranker.fit(
            np.vstack([r.x for r in records]), np.concatenate([r.cats for r in records]), labels, fitted_on=where
        )
    except InvalidInputError as e:  # a fold whose candidates are all right or all wrong: keep the model trained
        log.warning("span re-ranker not fitted: %s", e)
        return
    validation["span_reranked"] = {"folds": report["folds"], **report["reranked"]}
    meta["span_reranker"] = reranker.to_dict()
    groups = [(*r.windows, r.window_labels) for r in records if r.windows is not None]
    if len(groups) == len(records):  # a model without a lexical scorer keeps the tagger's window scores
        try:
            scores = cross_fit_windows(groups, folds=4)
            stacker = WindowStacker.fit(*(np.concatenate([g[i] for g in groups]) for i in range(3)), fitted_on=where)
        except InvalidInputError as e:  # a fold without a positive window
            log.warning("window stacker not fitted: %s", e)
        else:
            metrics = window_metrics(np.concatenate([g[2] for g in groups]), np.concatenate(scores))
            validation["window_stacked"] = {"folds": 4, **{k: v for k, v in metrics.items() if k != "per_category"}}
            meta["window_stacker"] = stacker.to_dict()
            if runtime is not None:
                runtime.window_stacker = stacker
    if runtime is not None:
        runtime.reranker = reranker


def fit_clauses(
    data: str | Path,
    *,
    val_fraction: float = 0.2,
    test_fraction: float = 0.0,
    seed: int = 0,
    epochs: int = 2,
    progress: bool = True,
    options: dict[str, Any] | None = None,
    rules: Callable[[str], Any] | None = None,
) -> ClauseSource:
    """Train tagger + lexical scorer on the training part; metrics on the held-out parts.

    ``options`` are ``TrainConfig`` fields (``neg_ratio`` 0.5 as the CLI, ``rank``, ``lr``,
    ``head_lr`` (default 4 x ``lr``), ``batch_size``, ``size``, ``stride``, ``max_steps``, ``init``,
    ``layers``, ``teacher``, ``distill``), and ``sample_seed``: the seed of the initialisation and of the window draws, ``seed`` when not
    given. ``seed`` alone decides the split, so a run continued with ``init`` keeps its held-out
    contracts by keeping ``seed`` and changing ``sample_seed``.
    """
    from deepseek_apps.core.lora import merge_lora

    from .clauses.inference import ClauseRuntime
    from .clauses.lexical import LexicalScorer
    from .clauses.runtime import torch_logits
    from .clauses.train import TrainConfig, tagger_bytes, tagger_meta, train_tagger

    options = dict(options or {})
    for key in ("init", "teacher"):
        if options.get(key) == "default":
            from .clauses.folder import default_dir

            options[key] = str(default_dir())
    unknown = sorted(set(options) - set(TrainConfig.__dataclass_fields__) - {"threads", "sample_seed"})
    if unknown:
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            "unknown clause training options",
            value=unknown,
            hint=f"use fields of TrainConfig: {sorted(TrainConfig.__dataclass_fields__)}",
        )
    options.pop("threads", None)
    sample_seed = options.pop("sample_seed", None)
    options.setdefault("neg_ratio", 0.5)
    options.setdefault("head_lr", 4 * options.get("lr", TrainConfig.lr))
    config = TrainConfig(epochs=epochs, seed=seed if sample_seed is None else sample_seed, **options)
    train, val, test = split_names(data, val_fraction, test_fraction, seed)
    started = time.perf_counter()
    contracts = load_labelled(data, train)
    tagger, tokenizer, losses = train_tagger(contracts, config, progress=progress)
    extra = {"train_contracts": len(train), "val_contracts": len(val), "test_contracts": len(test), "losses": losses}
    extra["split_seed"] = seed
    extra["train_seconds"] = round(time.perf_counter() - started, 1)
    weights = tagger_bytes(tagger)
    texts, labels = window_texts(contracts, config.size, config.stride)
    lexical = LexicalScorer(min_df=2 if len(texts) > 1000 else 1).fit(texts, labels)
    lexical = LexicalScorer.from_bytes(*lexical.to_bytes())  # as saved: FP16 coefficients
    meta = tagger_meta(config, extra)
    merge_lora(tagger.encoder)
    runtime = ClauseRuntime(torch_logits(tagger.eval()), tokenizer, meta, lexical, backend="torch")
    for name, names in (("validation", val), ("test", test)):
        if names:
            records: list | None = [] if name == "validation" else None
            meta[name] = report_summary(
                evaluate_tagger(runtime, load_labelled(data, names), progress=progress, rules=rules, candidates=records)
            )
            if records:
                fit_reranker(records, meta, runtime)
    metrics = {k: meta[k] for k in ("validation", "test", "losses", "train_seconds") if k in meta}
    return ClauseSource(weights, meta, lexical, where="fitted", metrics=metrics)


def evaluate_clauses(
    runtime,
    data: str | Path,
    *,
    rules,
    val_fraction: float | None = None,
    seed: int = 0,
    limit: int | None = None,
    baseline: bool = False,
    progress: bool = False,
) -> ContractMetrics:
    """Field P/R/F1 of ``rules`` (a rules-only ``ContractParser``) and clause metrics of ``runtime``."""
    table, folder = load_labels(data)
    names = sorted(table["Text File"])
    train_names: list[str] = []
    if val_fraction is not None:
        train_names, names = split_contracts(names, fraction=val_fraction, seed=seed)
    names = names[:limit] if limit else names
    rows = {r["Text File"]: r for r in table.to_dict("records")}
    fields = score_fields([(rules.analyze(folder / n), rows[n]) for n in names])

    def rule_analysis(text: str):
        return rules.analyze(text.encode("utf-8"), filename="contract.txt")

    base = load_labelled(data, train_names) if baseline and train_names else None
    report = evaluate_tagger(runtime, load_labelled(data, names), base, progress=progress, rules=rule_analysis)
    # where the re-ranker and the stacker were fitted: on these contracts, their figures are in-sample
    fitted = {
        "span_reranker": getattr(runtime, "reranker", None),
        "window_stacker": getattr(runtime, "window_stacker", None),
    }
    report["fitted_on"] = {name: model.fitted_on for name, model in fitted.items() if model is not None}
    return ContractMetrics(
        split="all" if val_fraction is None else "val",
        contracts=len(names),
        fields=fields,
        window=report.pop("window"),
        span=report.pop("span"),
        span_with_rules=report.pop("span_with_rules", None),
        report=report,
    )
