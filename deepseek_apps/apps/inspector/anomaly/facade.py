"""What ``QualityInspector`` does when its task is ``"anomaly"``: fit, predict, evaluate, save, export.

Each function takes the application object, so the contract's rules (constructor
arguments stored as given, fitted state in attributes ending in ``_``, ``errors="record"``)
hold for both tasks. The fitted model lives in ``app.anomaly_``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from ....core.contract import NotFittedError
from ....errors import DeepSeekAppsError, ErrorCode, InvalidInputError
from ..images import describe, to_pil
from .config import AnomalyConfig
from .model import AnomalyModel
from .results import AnomalyInspection, AnomalyMetrics
from .storage import is_anomaly_model

TASKS = ("detection", "anomaly")


def task_of(app: Any) -> str:
    """``"anomaly"`` or ``"detection"``: the constructor's ``task``, else the loaded model's (never overridden)."""
    if app.task not in (None, *TASKS):
        raise InvalidInputError(
            ErrorCode.ANOMALY_BAD_OPTION,
            f"task must be one of {TASKS}",
            value=app.task,
            hint="use task='anomaly' for good-only lines, task='detection' (default) for labelled defects",
        )
    if "anomaly_" in app.__dict__:
        return "anomaly"
    if app.model_path is None:
        return app.task or "detection"
    key = str(app.model_path)
    seen = app.__dict__.get("_task_of_path")
    if seen is None or seen[0] != key:  # read the file once per path, not on every predict (0.13 ms a call)
        seen = app._task_of_path = (key, "anomaly" if is_anomaly_model(app.model_path) else "detection")
    return app.check_compatible("task", seen[1])


def is_anomaly(app: Any) -> bool:
    return task_of(app) == "anomaly"


def model_of(app: Any) -> AnomalyModel:
    """The fitted or loaded anomaly model (opened from ``model_path`` on first use)."""
    model = app.__dict__.get("anomaly_")
    if model is not None:
        return model
    if app.model_path is None:
        raise NotFittedError(
            ErrorCode.MODEL_NOT_FITTED,
            "QualityInspector(task='anomaly') has no fitted model",
            value="anomaly_",
            hint="call fit(folder_of_good_images) first, or QualityInspector.load(anomaly_model_path)",
        )
    from .storage import load_model

    model = load_model(Path(app.model_path), threads=app.threads)
    given = app.anomaly_config
    if given is not None and replace(model.config, size=given.size or model.config.size) != replace(
        given, size=given.size or model.config.size
    ):
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            f"anomaly_config conflicts with the loaded model, which was built with {model.config}",
            value=given,
            hint="leave anomaly_config as None to use the model's settings, or fit a new model",
        )
    app.anomaly_ = model
    return model


def fit(app: Any, data: Any, *, val_fraction: float, seed: int | None, progress: bool) -> dict[str, Any]:
    """Fit on the good images of ``data``; sets ``app.anomaly_`` and returns the fit summary (``metrics_``)."""
    from .data import good_images
    from .model import fit_anomaly

    items, left_out = good_images(data)
    config = app.anomaly_config or AnomalyConfig()
    model = fit_anomaly(
        items, config, holdout_fraction=val_fraction, seed=0 if seed is None else seed, progress=progress
    )
    app.anomaly_ = model
    meta = model.metadata
    return {
        "task": "anomaly",
        "good_images": meta["good_images"],
        "defective_left_out": left_out,
        "bank_rows": meta["bank_rows"],
        "patches": meta["patches"],
        "working_size": list(model.size),
        "threshold": model.threshold,
        "target_false_reject_rate": model.config.target_frr,
        "holdout_images": meta["holdout_images"],
    }


def predict(app: Any, images: Any, errors: str, threshold: float | None = None) -> list[AnomalyInspection]:
    """One ``AnomalyInspection`` per image; with ``errors="record"`` a bad image gets its coded error."""
    app.check_errors_mode(errors)
    model = model_of(app)
    items = list(images) if isinstance(images, list | tuple) else [images]
    results: list[AnomalyInspection] = []
    for start in range(0, len(items), max(1, int(app.batch_size))):
        chunk = items[start : start + max(1, int(app.batch_size))]
        decoded = [_decode(item, errors) for item in chunk]
        good = [im for im in decoded if not isinstance(im, DeepSeekAppsError)]
        inspected = iter(model.inspect(good, threshold) if good else [])
        for item, im in zip(chunk, decoded):
            if isinstance(im, DeepSeekAppsError):
                result = AnomalyInspection(threshold=model.threshold, error=im.to_dict())
            else:
                result = next(inspected)
            result.source = describe(item)
            results.append(result)
    return results


def _decode(item: Any, errors: str) -> Any:
    try:
        return to_pil(item)
    except DeepSeekAppsError as exc:
        if errors == "raise":
            raise
        return exc


def evaluate(app: Any, data: Any, split: str) -> AnomalyMetrics:
    from .evaluate import evaluate_anomaly

    return evaluate_anomaly(model_of(app), data, split)


def save(app: Any, path: Path) -> Path:
    from .storage import save_folder

    return save_folder(model_of(app), Path(path))


def export(app: Any, path: Path, int8: bool, calib: Any, **kwargs: Any) -> Path:
    """Write the edge bundle; ``kwargs``: ``eval_data`` / ``eval_split`` (metrics of the bundle itself),
    ``calib_images``, ``min_correlation`` (INT8 parity floor, code 4117 below it)."""
    from .storage import export_bundle

    out, parity = export_bundle(model_of(app), Path(path), int8=int8, calib=calib, **kwargs)
    app.export_report_ = parity
    return out
