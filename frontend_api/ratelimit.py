"""Rate limits per tenant, per credential and, on routes without one, per client IP.

Counters live in Redis when ``HUIKE_REDIS_URL`` is set (shared by every API process) and in
the process's memory on the embedded default, through the ``limits`` library (fixed
windows). Every answer carries ``RateLimit-Limit``, ``RateLimit-Remaining`` and
``RateLimit-Reset`` (seconds) of the tightest limit that applies; a request over a limit is
answered ``429 too_many_requests`` with ``Retry-After``.

The limits come from settings (``HUIKE_RATE_LIMIT_*``) for every tenant. The one seam for
plans: pass ``tenant_limits`` (a :class:`TenantLimits`) to :class:`RateLimiter`; billing will
give each tenant the limits of its plan there.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter
from litestar import Request
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from core.kernel.errors import TooManyRequests
from core.kernel.settings import Settings, SettingsError
from core.security.principal import Principal

__all__ = ["Limits", "RateLimiter", "TenantLimits", "enforce_rate_limit", "rate_limit_headers_middleware"]

log = logging.getLogger("huike.ratelimit")
_STATE = "ratelimit_headers"


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits that apply to one tenant (None: no limit on that dimension)."""

    per_tenant: RateLimitItem | None
    per_credential: RateLimitItem | None


#: One counter: the limit (None: none), what is counted (``tenant``, ``user``...) and whose.
Bucket = tuple[RateLimitItem | None, str, str]

#: Given a tenant, its limits. The default ignores the tenant; billing's follows the plan.
TenantLimits = Callable[[uuid.UUID], Awaitable[Limits]]


def _item(setting: str, value: str) -> RateLimitItem | None:
    if not value.strip():
        return None
    try:
        return parse(value)
    except ValueError as exc:
        raise SettingsError(
            f"HUIKE_{setting.upper()}: expected a rate such as '600/minute', got {value!r}"
        ) from exc


def _storage(redis_url: str) -> Storage:
    if not redis_url:
        return MemoryStorage()
    scheme, _, rest = redis_url.partition("://")
    return RedisStorage(f"async+{scheme}://{rest}", implementation="redispy", key_prefix="huike:ratelimit")


class RateLimiter:
    """Counts requests and says whether one more is allowed."""

    def __init__(
        self,
        storage: Storage,
        defaults: Limits,
        per_ip: RateLimitItem | None,
        *,
        enabled: bool = True,
        tenant_limits: TenantLimits | None = None,
        per_route: dict[str, RateLimitItem | None] | None = None,
    ) -> None:
        self.storage = storage
        self.strategy = FixedWindowRateLimiter(storage)
        self.defaults = defaults
        self.per_ip = per_ip
        self.enabled = enabled
        self.tenant_limits = tenant_limits or self._same_for_every_tenant
        #: Extra limits a route opts into with ``opt={"rate_limit": "<name>"}``, counted per
        #: client IP and path (a public form's path names the form).
        self.per_route = per_route or {}

    @classmethod
    def from_settings(cls, settings: Settings, tenant_limits: TenantLimits | None = None) -> RateLimiter:
        defaults = Limits(
            per_tenant=_item("rate_limit_per_tenant", settings.rate_limit_per_tenant),
            per_credential=_item("rate_limit_per_credential", settings.rate_limit_per_credential),
        )
        return cls(
            _storage(settings.redis_url),
            defaults,
            _item("rate_limit_per_ip", settings.rate_limit_per_ip),
            enabled=settings.rate_limit_enabled,
            tenant_limits=tenant_limits,
            per_route={
                "lead_form": _item("rate_limit_lead_form", settings.rate_limit_lead_form),
                "oauth": _item("rate_limit_oauth", settings.rate_limit_oauth),
            },
        )

    async def _same_for_every_tenant(self, tenant_id: uuid.UUID) -> Limits:
        return self.defaults

    async def check(self, buckets: list[Bucket]) -> tuple[bool, dict[str, str]]:
        """Count one request in each ``(limit, kind, identity)`` bucket; return whether all
        allow it, and the headers of the tightest one."""
        allowed, tightest = True, None
        for item, kind, identity in buckets:
            if item is None:
                continue
            ok = await self.strategy.hit(item, kind, identity)
            stats = await self.strategy.get_window_stats(item, kind, identity)
            allowed = allowed and ok
            candidate = (stats.remaining if ok else -1, stats.reset_time, item)
            if tightest is None or candidate[:2] < tightest[:2]:
                tightest = candidate
        if tightest is None:
            return True, {}
        remaining, reset_time, item = tightest
        reset = max(0, math.ceil(reset_time - time.time()))
        headers = {
            "RateLimit-Limit": str(item.amount),
            "RateLimit-Remaining": str(max(0, remaining)),
            "RateLimit-Reset": str(reset),
        }
        return allowed, headers


async def _buckets(limiter: RateLimiter, request: Request[Any, Any, Any]) -> list[Bucket]:
    principal = request.state.get("principal")
    if isinstance(principal, Principal):
        limits = await limiter.tenant_limits(principal.tenant_id)
        return [
            (limits.per_tenant, "tenant", str(principal.tenant_id)),
            # A person's user id is the same in every tenant they belong to: the tenant is part
            # of the key, so their traffic in one business never throttles them in another.
            (limits.per_credential, principal.kind, f"{principal.tenant_id}:{principal.actor_id}"),
        ]
    admin_id = getattr(principal, "user_id", None)
    if admin_id is not None:  # a platform admin
        return [(limiter.defaults.per_credential, "platform", str(admin_id))]
    ip = request.client.host if request.client else "unknown"
    buckets: list[Bucket] = [(limiter.per_ip, "ip", ip)]
    named = request.route_handler.opt.get("rate_limit")
    if isinstance(named, str):
        buckets.append((limiter.per_route.get(named), named, f"{ip}:{request.url.path}"))
    return buckets


async def enforce_rate_limit(request: Request[Any, Any, Any]) -> None:
    """Count this request (after the guard, so the credential is known), or refuse it."""
    limiter: RateLimiter = request.app.state.services.rate_limiter
    if not limiter.enabled or request.route_handler.opt.get("rate_limit") is False:
        return
    try:
        allowed, headers = await limiter.check(await _buckets(limiter, request))
    except Exception:
        # Counting is not worth an outage: without the store, requests go through.
        log.warning("rate limit store unavailable; request let through", exc_info=True)
        return
    request.scope.setdefault("state", {})[_STATE] = headers
    if not allowed:
        raise TooManyRequests(
            f"Too many requests; retry in {headers['RateLimit-Reset']} seconds.",
            code="rate_limited",
            headers={"Retry-After": headers["RateLimit-Reset"]},
        )


def rate_limit_headers_middleware(app: ASGIApp) -> ASGIApp:
    """Put the ``RateLimit-*`` headers of this request on its answer, whatever it is."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = scope.get("state", {}).get(_STATE)
                if headers:
                    message["headers"] = [
                        *message.get("headers", []),
                        *((k.lower().encode(), v.encode()) for k, v in headers.items()),
                    ]
            await send(message)

        await app(scope, receive, with_headers)

    return middleware
