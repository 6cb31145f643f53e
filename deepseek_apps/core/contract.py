"""The contract the four applications follow, written down once.

Every application class (``QualityInspector``, ``ContractParser``, ``DINRecommender``,
``FraudDetector``) subclasses ``Application`` and keeps these rules, in the spirit of
scikit-learn's estimator rules:

- ``__init__`` stores its keyword arguments under the same names and does nothing else; they
  are never rewritten. A model loaded later never silently overrides them: where a loaded
  model fixes a setting (a history length, an architecture), the argument must be ``None``
  (take the model's) or equal, else ``check_compatible`` raises.
- ``App()`` with no ``model_path`` runs the shipped default (``App.pretrained("default")``
  is the same, by name from ``core.registry``); ``App.load(path, **overrides)`` opens a
  folder or bundle written by ``save`` / ``export``.
- ``fit(data, *, val_fraction, test_fraction, seed, epochs, progress)`` returns ``self``;
  fitted state lives in attributes ending in ``_``; using a model before it exists raises
  ``NotFittedError`` (code 3004).
- ``predict(inputs, errors="raise"|"record")`` returns typed results with ``to_dict()``; with
  ``"record"`` a bad item yields a result whose ``error`` holds the error's ``to_dict()``.
- ``evaluate(data)`` returns a metrics object with ``to_dict()``.
- ``save(path)`` writes a model folder; ``export(path, int8=True)`` a hash-verified edge
  bundle (``core.runtime.bundle``).

Example:
    >>> from deepseek_apps.core.contract import Application
    >>> class Echo(Application):
    ...     app_name = "echo"
    ...     def __init__(self, model_path=None, scale: float = 1.0):
    ...         self.model_path = model_path
    ...         self.scale = scale
    >>> Echo(scale=2.0).get_params()
    {'model_path': None, 'scale': 2.0}
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from ..errors import DeepSeekAppsError, ErrorCode, InvalidInputError, ModelFormatError

ERRORS_MODES = ("raise", "record")
FIT_ARGUMENTS = ("val_fraction", "test_fraction", "seed", "epochs", "progress")

A = TypeVar("A", bound="Application")
T = TypeVar("T")
R = TypeVar("R")


class NotFittedError(ModelFormatError):
    """A fitted attribute was asked for before ``fit`` or ``load`` (code 3004)."""


class Application:
    """Base class of the four applications; see the module docstring for the rules."""

    app_name: ClassVar[str] = ""  # the key in core.registry and the CLI's sub-command

    # ------------------------------------------------------------------ construction
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self) -> dict[str, Any]:
        """The constructor's arguments as given (scikit-learn's ``get_params``)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def __repr__(self) -> str:
        defaults = {
            p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values() if p.name != "self"
        }
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if defaults.get(k, inspect._empty) is not v]
        return f"{type(self).__name__}({', '.join(changed)})"

    @classmethod
    def pretrained(cls: type[A], name: str = "default", **overrides: Any) -> A:
        """The shipped model ``name`` (see ``deepseek-apps models``), loaded with ``overrides``."""
        from .registry import get_model

        return cls.load(get_model(cls.app_name, name).path, **overrides)

    @classmethod
    def load(cls: type[A], path: str | Path, *, trusted_keys: Any = None, key: Any = None, **overrides: Any) -> A:
        """Open a folder or bundle written by ``save`` / ``export``; ``overrides`` are constructor arguments.

        ``trusted_keys`` (public key files or bytes): the bundle must be signed by one of them
        (3009 / 3010). ``key``: the AES key of an encrypted bundle (default: the environment,
        see ``core.runtime.bundle``).
        """
        from .runtime.bundle import bundle_policy

        if "model_path" in overrides:
            raise InvalidInputError(
                ErrorCode.INVALID_ARGUMENT,
                "load() takes the model path as its first argument, not as model_path=",
                value=overrides["model_path"],
                hint=f"call {cls.__name__}.load(path, ...)",
            )
        app = cls(model_path=path, **overrides)  # type: ignore[call-arg]
        with bundle_policy(trusted_keys, key):
            app._load_now()
        return app

    def _load_now(self) -> None:
        """Load ``model_path`` eagerly so that ``load`` fails at once on a bad path (apps override)."""

    # ------------------------------------------------------------------ checks shared by the apps
    def check_fitted(self, attribute: str, what: str = "this") -> Any:
        """``getattr(self, attribute)`` or a ``NotFittedError`` that says what to do."""
        value = self.__dict__.get(attribute)
        if value is None:
            raise NotFittedError(
                ErrorCode.MODEL_NOT_FITTED,
                f"{type(self).__name__} has no fitted model for {what}",
                value=attribute,
                hint=f"call fit(...) first, or open a model with {type(self).__name__}.load(path)",
            )
        return value

    @staticmethod
    def check_errors_mode(errors: str) -> str:
        if errors not in ERRORS_MODES:
            raise InvalidInputError(
                ErrorCode.INVALID_ARGUMENT,
                "errors must be 'raise' or 'record'",
                value=errors,
                hint="use errors='record' to keep going past bad items",
            )
        return errors

    def check_compatible(self, argument: str, loaded: Any) -> Any:
        """The value a loaded model fixes for ``argument``; raises if the constructor asked for another.

        ``None`` as the argument means "the model's"; the argument itself is never rewritten.
        """
        given = getattr(self, argument)
        if given is not None and loaded is not None and given != loaded:
            raise InvalidInputError(
                ErrorCode.INVALID_ARGUMENT,
                f"{argument}={given!r} conflicts with the loaded model, which was built with {argument}={loaded!r}",
                value=given,
                hint=f"leave {argument} as None to use the model's value, or fit a new model",
            )
        return loaded if loaded is not None else given


def map_items(
    items: Iterable[T],
    work: Callable[[T], R],
    errors: str,
    failed: Callable[[T, DeepSeekAppsError], R],
) -> list[R]:
    """Apply ``work`` to each item; with ``errors="record"`` a ``DeepSeekAppsError`` becomes ``failed(item, exc)``.

    Any other exception escapes: it is a bug, not bad input.
    """
    Application.check_errors_mode(errors)
    out: list[R] = []
    for item in items:
        try:
            out.append(work(item))
        except DeepSeekAppsError as exc:
            if errors == "raise":
                raise
            out.append(failed(item, exc))
    return out
