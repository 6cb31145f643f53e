"""The settings a recommender model fixes (history length, architecture), their fit defaults and checks.

``DINRecommender`` takes these as constructor arguments defaulting to ``None``: "the loaded
model's", or ``FIT_DEFAULTS`` when fitting. ``loaded_settings`` reads them back from a saved
model or bundle so the application can refuse a conflicting argument.

Example:
    >>> FIT_DEFAULTS["max_len"], arch_name("sum")
    (50, 'base')
"""

from __future__ import annotations

from typing import Any

from ...errors import ErrorCode, InvalidInputError

ARCHS = {"din": "attention", "base": "sum"}  # architecture name -> pooling of DINConfig
ACTIVATIONS = ("prelu", "dice")
FIT_DEFAULTS = {"item_features": 16, "attention_heads": 1, "max_len": 50, "arch": "din", "activation": "prelu"}


def arch_name(pooling: str | None) -> str | None:
    """``"din"`` / ``"base"`` of a ``DINConfig.pooling`` (other poolings keep their own name)."""
    names = {v: k for k, v in ARCHS.items()}
    return names.get(pooling, pooling)


def loaded_settings(state: Any) -> dict[str, Any]:
    """What a ``SavedModel`` (folder or bundle) was built with, under the constructor's names."""
    arch = state.architecture
    return {
        "max_len": int(state.params.get("max_len", FIT_DEFAULTS["max_len"])),
        "item_features": arch.get("embedding_dim"),
        "attention_heads": arch.get("attention_heads"),
        "activation": arch.get("activation"),
        "arch": arch_name(arch.get("pooling")),
    }


def check_fit_settings(settings: dict[str, Any], val_fraction: Any, test_fraction: Any) -> None:
    """Refuse fractions (the split is leave-last-out) and an architecture ``DIN`` cannot build."""
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if value is not None:
            raise InvalidInputError(
                ErrorCode.INVALID_ARGUMENT,
                f"{name} does not apply to the recommender: it holds out per-user last clicks",
                value=value,
                hint="leave it None (last click of each user = test, the one before = validation); "
                "pass valid=Samples to replace the validation samples",
            )
    if settings["arch"] not in ARCHS:
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT, "arch must be 'din' or 'base'", value=settings["arch"], hint="e.g. arch='din'"
        )
    if settings["activation"] not in ACTIVATIONS:
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            "activation must be 'prelu' or 'dice'",
            value=settings["activation"],
            hint="e.g. activation='prelu'",
        )
    dim, heads = settings["item_features"], settings["attention_heads"]
    if dim < 1 or heads < 1 or (2 * dim) % heads:
        raise InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            "item_features and attention_heads must be positive, with 2 * item_features divisible by the heads",
            value=(dim, heads),
            hint="e.g. item_features=16, attention_heads=1, 2, 4 or 8",
        )
