"""Safe writes wired into the app: rate limits, then idempotency keys, before each handler
(after the guard has found the credential); their middleware writes the headers and keeps
the answers. ETags and ``If-Match`` are per route (:mod:`frontend_api.etags`)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response

from frontend_api.idempotency import claim_or_replay, idempotency_middleware
from frontend_api.ratelimit import enforce_rate_limit, rate_limit_headers_middleware

__all__ = ["EXPOSED_HEADERS", "MIDDLEWARE", "before_request"]

#: Response headers a browser client must be allowed to read (CORS).
EXPOSED_HEADERS = [
    "ETag",
    "Idempotent-Replayed",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
]

#: Outermost first: the rate-limit headers go on every answer, replays included.
MIDDLEWARE = [rate_limit_headers_middleware, idempotency_middleware]


async def before_request(request: Request[Any, Any, Any]) -> Response[bytes] | None:
    await enforce_rate_limit(request)
    return await claim_or_replay(request)
