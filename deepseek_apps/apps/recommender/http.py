"""FastAPI endpoint over a ``RecommendationService`` (``deepseek-apps recommender serve``).

- ``GET /recommend?user_id=7&k=10&candidates=1,2,3`` -> ``{"user_id", "recommendations": [...]}``
- ``POST /events`` with ``{"user_id": 7, "item_id": 42}`` -> records new behaviour (invalidates caches)
- ``GET /stats`` -> cache hit rate, latency percentiles, batch size, Redis state
- ``GET /health``

Every failure answers ``{"error": {"code", "family", "message", "value", "hint"}}``, never a
traceback: bad input 400 (a body that is not JSON, or lacks a field: 1000; an empty, too long
or mistyped id: 1105; too many candidates: 1014), a body over ``ServiceLimits.max_body_bytes``
413 (1104, refused before it is parsed, whether announced by ``Content-Length`` or streamed),
a model timeout 503 (4102), anything else 500 (4002). Ids from the query string and the JSON
body are converted once by the service to the model's id type, so ``{"user_id": "5"}`` and
``?user_id=5`` are the same user (``ids.py``).

Example:
    >>> from fastapi.testclient import TestClient  # doctest: +SKIP
    >>> client = TestClient(create_app(service))  # doctest: +SKIP
    >>> client.post("/events", content=b"{").json()["error"]["code"]  # doctest: +SKIP
    1000
"""

import json
from typing import Any

from ...errors import DeepSeekAppsError, ErrorCode, InvalidInputError, RuntimeFailure, require


def error_body(exc: DeepSeekAppsError) -> bytes:
    return json.dumps({"error": exc.to_dict()}).encode()


def status_of(exc: DeepSeekAppsError) -> int:
    if exc.code == ErrorCode.REQUEST_TOO_LARGE:
        return 413
    if exc.code == ErrorCode.SERVICE_TIMEOUT:
        return 503
    return 400 if exc.family == "invalid_input" else 500


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` gets 413 (1104) before the app reads any of it.

    A ``Content-Length`` over the limit is refused at once; otherwise the body is read in
    chunks, counted, and refused as soon as it passes the limit (chunked uploads included),
    then replayed to the app.
    """

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            return await self._refuse(send, length.decode("latin-1")[:40])
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return await self._refuse(send, f"more than {size}")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body, sent = b"".join(chunks), False

        async def replay():
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)

    async def _refuse(self, send, size: str) -> None:
        exc = InvalidInputError(
            ErrorCode.REQUEST_TOO_LARGE,
            f"the request body is over the limit of {self.max_bytes} bytes",
            value=size,
            hint="send one event per request; the limit is ServiceLimits.max_body_bytes",
        )
        body = error_body(exc)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers + [(b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


def _validation_error(errors: list) -> InvalidInputError:
    """Our error for what FastAPI / pydantic refused: bad JSON (1000), a mistyped id (1105), anything else (1000)."""
    if any(e.get("type") == "json_invalid" for e in errors):
        return InvalidInputError(
            ErrorCode.INVALID_ARGUMENT,
            "the request body is not valid JSON",
            hint='send e.g. {"user_id": 7, "item_id": 42} with Content-Type: application/json',
        )
    ids = ("user_id", "item_id")
    typed = [e for e in errors if e.get("type") != "missing"]
    where = sorted({p for e in typed for p in e.get("loc", ()) if p in ids})
    if typed and all(any(p in ids for p in e.get("loc", ())) for e in typed):
        return InvalidInputError(
            ErrorCode.ID_INVALID, f"{' and '.join(where)} must be an int or a string", hint='e.g. 7 or "u-7"'
        )
    details = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in errors[:5])
    return InvalidInputError(
        ErrorCode.INVALID_ARGUMENT,
        f"the request is not valid ({details})",
        hint='GET /recommend?user_id=7&k=10; POST /events {"user_id": 7, "item_id": 42}',
    )


def create_app(service):
    """The FastAPI app, with the service's ``limits`` on body size and ids."""
    fastapi = require("fastapi", "recommender")
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import Response
    from pydantic import BaseModel, StrictInt, StrictStr

    app = fastapi.FastAPI(title="deepseek-apps recommender")
    app.add_middleware(BodyLimit, max_bytes=service.limits.max_body_bytes)

    class Event(BaseModel):  # strict: true / 5.5 are not ids; "5" and 5 are converted by the service
        user_id: StrictInt | StrictStr
        item_id: StrictInt | StrictStr

    def answer(exc: DeepSeekAppsError) -> Response:
        return Response(error_body(exc), status_code=status_of(exc), media_type="application/json")

    @app.exception_handler(DeepSeekAppsError)
    async def _error(_request, exc: DeepSeekAppsError):
        return answer(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request, exc: RequestValidationError):
        return answer(_validation_error(list(exc.errors())))

    @app.exception_handler(Exception)
    async def _bug(_request, exc: Exception):  # Starlette re-raises it afterwards: the server logs it
        return answer(RuntimeFailure(ErrorCode.BACKEND_FAILURE, f"internal error ({type(exc).__name__})"))

    @app.get("/recommend")
    def recommend(user_id: str, k: int = 10, candidates: str | None = None) -> dict:
        user = service.canonical_user(user_id)
        cands = [c for c in candidates.split(",") if c] if candidates else None
        recs = service.recommend(user, candidates=cands, k=k)
        return {"user_id": user, "recommendations": [r.to_dict() for r in recs]}

    @app.post("/events")
    def events(event: Event) -> dict:
        service.record(event.user_id, event.item_id)
        return {"ok": True}

    @app.get("/stats")
    def stats() -> dict[str, Any]:
        return service.stats().to_dict()

    @app.get("/health")
    def health() -> dict:
        return {"ok": True, "redis_up": service.redis_up}

    return app
