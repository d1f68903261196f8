"""Liveness and readiness probes."""

from __future__ import annotations

from litestar import get
from litestar.exceptions import HTTPException

from frontend_api.deps import ServicesDep

__all__ = ["healthz", "readyz"]


@get("/healthz", public=True, rate_limit=False, tags=["health"], summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", public=True, rate_limit=False, tags=["health"], summary="The database is reachable")
async def readyz(services: ServicesDep) -> dict[str, str]:
    try:
        await services.db.ping()
    except Exception as exc:
        raise HTTPException(status_code=503, detail="The database is not reachable.") from exc
    return {"status": "ok", "database": services.db.dialect}
