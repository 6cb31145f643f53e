"""FastAPI endpoint over a ``RecommendationService`` (``deepseek-apps recommender serve``).

- ``GET /recommend?user_id=7&k=10&candidates=1,2,3`` -> ``{"user_id", "recommendations": [...]}``
- ``POST /events`` with ``{"user_id": 7, "item_id": 42}`` -> records new behaviour (invalidates caches)
- ``GET /stats`` -> cache hit rate, latency percentiles, batch size, Redis state
- ``GET /health``
"""

from typing import Any

from ...errors import DeepSeekAppsError, require


def _id(text: str) -> Any:
    return int(text) if text.lstrip("-").isdigit() else text


def create_app(service):
    fastapi = require("fastapi", "recommender")
    from pydantic import BaseModel

    app = fastapi.FastAPI(title="deepseek-apps recommender")

    class Event(BaseModel):
        user_id: int | str
        item_id: int | str

    @app.exception_handler(DeepSeekAppsError)
    async def _error(_request, exc: DeepSeekAppsError):
        from fastapi.responses import JSONResponse

        status = 400 if exc.family == "invalid_input" else 500
        return JSONResponse(status_code=status, content={"error": exc.to_dict()})

    @app.get("/recommend")
    def recommend(user_id: str, k: int = 10, candidates: str | None = None) -> dict:
        cands = [_id(c) for c in candidates.split(",") if c] if candidates else None
        recs = service.recommend(_id(user_id), candidates=cands, k=k)
        return {"user_id": _id(user_id), "recommendations": [r.to_dict() for r in recs]}

    @app.post("/events")
    def events(event: Event) -> dict:
        service.record(event.user_id, event.item_id)
        return {"ok": True}

    @app.get("/stats")
    def stats() -> dict:
        return service.stats().to_dict()

    @app.get("/health")
    def health() -> dict:
        return {"ok": True, "redis_up": service.redis_up}

    return app
