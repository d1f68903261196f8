"""The app factory: the composition root of Huike's HTTP side."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import MutableScopeHeaders, State
from litestar.enums import ScopeType
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from core.jobs.runtime import JobRuntime
from core.kernel.ids import new_id
from core.kernel.logs import configure_logging, request_id_var
from core.kernel.settings import Settings
from frontend_api import safe_writes
from frontend_api.deps import dependencies
from frontend_api.plugin_routes import plugin_routers
from frontend_api.problems import exception_handlers
from frontend_api.request_transaction import leftover_transaction_middleware
from frontend_api.routes import ROUTES
from frontend_api.security import authorize, declared_access
from frontend_api.services import Services, build_services

__all__ = ["create_app"]

access_log = logging.getLogger("huike.access")
OPENAPI_PATH = "/schema"


def request_context_middleware(app: ASGIApp) -> ASGIApp:
    """Give every request an id (``X-Request-ID``) and write one access log line."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if 8 <= len(incoming) <= 64 and incoming.isascii() else str(new_id())
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableScopeHeaders.from_message(message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            access_log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            request_id_var.reset(token)

    return middleware


def create_app(settings: Settings | None = None, services: Services | None = None) -> Litestar:
    """Build the app. Tests pass their own ``settings`` (or ready ``services``)."""
    settings = settings or (services.settings if services else Settings.from_env())
    configure_logging(settings.log_level, settings.log_json)
    built = services or build_services(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        runtime = await _start_jobs(built)
        app.state.jobs = runtime
        try:
            yield
        finally:
            if runtime is not None:
                await runtime.stop()
            if services is None:
                await built.db.dispose()

    app = Litestar(
        route_handlers=[*ROUTES, *plugin_routers(built.plugins)],
        state=State({"services": built}),
        dependencies=dependencies,
        guards=[authorize],
        exception_handlers=exception_handlers,
        middleware=[request_context_middleware, leftover_transaction_middleware, *safe_writes.MIDDLEWARE],
        before_request=safe_writes.before_request,
        lifespan=[lifespan],
        request_max_body_size=settings.max_body_bytes,
        cors_config=(
            CORSConfig(allow_origins=list(settings.cors_origins), expose_headers=safe_writes.EXPOSED_HEADERS)
            if settings.cors_origins
            else None
        ),
        openapi_config=_openapi(),
        debug=False,
    )
    _declare_builtin_routes_public(app)
    return app


async def _start_jobs(services: Services) -> JobRuntime | None:
    """Embedded (no Redis): the whole job runtime runs in this process. With Redis: this
    process relays and schedules (unless ``HUIKE_WEB_RELAY`` is off); ``huike worker``
    processes run the jobs."""
    settings = services.settings
    if not settings.background_jobs:
        return None
    embedded = not settings.redis_url
    if not embedded and not settings.web_relay:
        return None
    runtime = JobRuntime(
        settings, services.db, services.jobs, services.job_mailer(), texter=services.job_texter()
    )
    await runtime.start(worker=embedded, relay=True, scheduler=True)
    return runtime


def _declare_builtin_routes_public(app: Litestar) -> None:
    """The OpenAPI document, its viewers and Litestar's automatic OPTIONS answers are on the
    public list; every other route shows in the schema the credential it takes."""
    for route in app.routes:
        is_schema = route.path == OPENAPI_PATH or route.path.startswith(OPENAPI_PATH + "/")
        for handler in getattr(route, "route_handlers", []):
            automatic_options = handler.http_methods == {"OPTIONS"} and not handler.include_in_schema
            if is_schema or automatic_options:
                handler.opt["public"] = True
            access = declared_access(handler.opt)
            if access == "platform":
                handler.security = [{"PlatformToken": []}]
            elif access not in (None, "public"):
                handler.security = [{"BearerToken": []}]


def _openapi() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Huike API",
        version="1",
        description=(
            "Multi-tenant CRM + ERP. Sign in at `POST /api/v1/auth/token` and send the access token "
            "as `Authorization: Bearer <token>`. Errors are RFC 9457 problem details with a stable "
            "`code`. Lists are cursor-paginated: `limit` (1-200), `cursor`, `sort`. Safe writes: "
            "`Idempotency-Key` on a POST makes retries replay the first answer; `If-Match` with the "
            "`ETag` of a GET makes PATCH/DELETE refuse a stale write (412); over a rate limit the "
            "answer is 429 with `Retry-After` (see the `RateLimit-*` headers)."
        ),
        path=OPENAPI_PATH,
        render_plugins=[SwaggerRenderPlugin()],
        components=Components(
            security_schemes={
                "BearerToken": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description="A member's access token from `POST /api/v1/auth/token`, or an API "
                    "key (`hk_…`) from `POST /api/v1/api-keys`. The tenant is the credential's.",
                ),
                "PlatformToken": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    bearer_format="JWT",
                    description="A platform admin's token from `POST /api/platform/auth/token`.",
                ),
            }
        ),
    )
