"""What the shared contract test needs from each application (one ``case_<app>.py`` each)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ContractCase:
    """A tiny, generated task for one application.

    Attributes:
        cls: the application class.
        params: constructor arguments (non-default where it matters), checked to survive untouched.
        fit_data / fit_kwargs: a tiny generated training set and ``fit`` arguments (a few seconds).
        good: inputs ``predict`` must accept.
        bad: one input ``predict`` must refuse with our error (recorded with ``errors="record"``).
        eval_data: labelled data for ``evaluate``.
        comparable: a result -> something equal between the fitted and the re-loaded model.
        export_kwargs: extra ``export`` arguments.
        load_overrides: constructor arguments passed to ``load``.
    """

    cls: type
    params: dict[str, Any]
    fit_data: Any
    fit_kwargs: dict[str, Any]
    good: list[Any]
    bad: Any
    eval_data: Any
    comparable: Callable[[Any], Any]
    export_kwargs: dict[str, Any] = field(default_factory=dict)
    load_overrides: dict[str, Any] = field(default_factory=dict)
