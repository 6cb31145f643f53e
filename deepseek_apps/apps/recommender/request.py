"""What ``DINRecommender.predict`` accepts as one request, parsed into a ``RankRequest``.

A request is a user id, a dict ``{"user_id", "candidates", "k", "history"}`` (all but
``user_id`` optional) or a tuple / list ``(user_id, candidates, k, history)`` with trailing
parts optional. Only the shape is checked here; ``recommend`` checks the values.

Example:
    >>> parse_request({"user_id": 7, "k": 3})
    RankRequest(user_id=7, candidates=None, k=3, history=None)
    >>> parse_request((7, [1, 2]))
    RankRequest(user_id=7, candidates=[1, 2], k=10, history=None)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...errors import ErrorCode, InvalidInputError

FIELDS = ("user_id", "candidates", "k", "history")
DEFAULT_K = 10


@dataclass
class RankRequest:
    """One user to rank for: ``candidates`` None = every unclicked item, ``history`` None = the stored clicks."""

    user_id: Any
    candidates: Sequence | None = None
    k: int = DEFAULT_K
    history: Sequence | None = None


def parse_request(request: Any) -> RankRequest:
    """A ``RankRequest`` from a user id, a dict or a tuple (``InvalidInputError`` 1000 on a bad shape)."""
    if isinstance(request, RankRequest):
        return request
    if isinstance(request, dict):
        unknown = sorted(map(str, set(request) - set(FIELDS)))
        if unknown or "user_id" not in request:
            raise InvalidInputError(
                ErrorCode.INVALID_ARGUMENT,
                f"a request dict needs 'user_id' and may have {list(FIELDS[1:])}"
                + (f"; unknown keys {unknown}" if unknown else ""),
                value=request,
                hint='e.g. {"user_id": 7, "candidates": [1, 2, 3], "k": 2}',
            )
        parts = [request.get(name) for name in FIELDS]
    elif isinstance(request, (tuple, list)):
        if not 1 <= len(request) <= len(FIELDS):
            raise InvalidInputError(
                ErrorCode.INVALID_ARGUMENT,
                "a request tuple is (user_id, candidates, k, history), trailing parts optional",
                value=request,
                hint="e.g. (7, [1, 2, 3], 2)",
            )
        parts = [*request, *[None] * (len(FIELDS) - len(request))]
    else:
        parts = [request, None, None, None]
    user_id, candidates, k, history = parts
    return RankRequest(user_id, candidates, DEFAULT_K if k is None else k, history)


def request_user(request: Any) -> Any:
    """The user id of a request, as far as it can be read (for the result of a bad request)."""
    if isinstance(request, RankRequest):
        return request.user_id
    if isinstance(request, dict):
        return request.get("user_id")
    if isinstance(request, (tuple, list)):
        return request[0] if request else None
    return request
