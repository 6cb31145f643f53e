"""The registry of shipped models: one plain table, as torchvision's ``Weights``.

Each entry of ``assets/models.json`` names where the model lies inside the package, what it
was trained on, the metrics it shipped with, its licence and its model card. Applications
find their defaults here (``App.pretrained(name)``); ``deepseek-apps models`` lists them.

Example:
    >>> from deepseek_apps.core.registry import get_model
    >>> entry = get_model("inspector")
    >>> entry.path.name, entry.path.exists()
    ('neu_det_int8.zip', True)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import ErrorCode, InvalidInputError

ASSETS = Path(__file__).resolve().parents[1] / "assets"
CATALOG = ASSETS / "models.json"


@dataclass(frozen=True)
class ShippedModel:
    """One shipped model: where it lies and what it is."""

    app: str
    name: str
    path: Path
    description: str
    data: str
    metrics: dict[str, float] = field(default_factory=dict)
    licence: str = ""
    card: Path | None = None
    runs_without_torch: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "name": self.name,
            "path": str(self.path),
            "description": self.description,
            "data": self.data,
            "metrics": dict(self.metrics),
            "licence": self.licence,
            "card": str(self.card) if self.card else None,
            "runs_without_torch": self.runs_without_torch,
        }


@lru_cache(maxsize=1)
def _catalog() -> dict[str, dict[str, ShippedModel]]:
    raw = json.loads(CATALOG.read_text())
    return {
        app: {
            name: ShippedModel(
                app=app,
                name=name,
                path=ASSETS / entry["path"],
                description=entry["description"],
                data=entry["data"],
                metrics=entry.get("metrics", {}),
                licence=entry.get("licence", ""),
                card=ASSETS / entry["card"] if entry.get("card") else None,
                runs_without_torch=bool(entry.get("runs_without_torch", False)),
            )
            for name, entry in models.items()
        }
        for app, models in raw.items()
    }


def list_models(app: str | None = None) -> list[ShippedModel]:
    """Every shipped model, or those of one application."""
    catalog = _catalog()
    apps = [app] if app is not None else sorted(catalog)
    if app is not None and app not in catalog:
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            "no shipped models for this application",
            value=app,
            hint=f"use one of {sorted(catalog)}",
        )
    return [m for a in apps for m in catalog[a].values()]


def get_model(app: str, name: str = "default") -> ShippedModel:
    """The shipped model ``name`` of ``app`` (``inspector``, ``contracts``, ``recommender``, ``fraud``)."""
    models = {m.name: m for m in list_models(app)}
    if name not in models:
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            f"no shipped {app} model named {name!r}",
            value=name,
            hint=f"use one of {sorted(models)} (deepseek-apps models lists them)",
        )
    return models[name]
