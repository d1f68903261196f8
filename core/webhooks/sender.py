"""One HTTP attempt of a delivery: sign, POST, read a bounded excerpt of the answer.

A tenant's attempts go through its own keep-alive ``httpx.AsyncClient`` (:func:`tenant_client`,
core/kernel/http_clients.py): its connections are reused by its later attempts, never by
another tenant's, and a cancelled attempt takes its connection with it. The clients share one
TLS configuration
(:func:`core.kernel.tls.client_tls`): building it per attempt cost more CPU than the rest of
the attempt together. The whole attempt (resolving, connecting,
sending, reading) is bounded by one deadline, not only each read. Redirects are not followed
(a redirect could lead past the SSRF guard): a 3xx is a failure like any non-2xx.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from core.kernel import http_clients
from core.kernel.http_clients import KEEPALIVE_EXPIRY_SECONDS
from core.kernel.tls import client_tls
from core.webhooks.signing import signature_header
from core.webhooks.urls import UnsafeDestination, check_destination

__all__ = [
    "EXCERPT_BYTES",
    "USER_AGENT",
    "AttemptResult",
    "client",
    "delivery_headers",
    "post",
    "tenant_client",
]

USER_AGENT = "Huike-Webhooks/1.0"
#: How much of an answer's body is kept in the delivery log.
EXCERPT_BYTES = 2048


@dataclass(frozen=True, slots=True)
class AttemptResult:
    ok: bool
    status_code: int | None
    response_excerpt: str | None
    error: str | None
    duration_ms: int


def delivery_headers(
    event_name: str, delivery_id: uuid.UUID, secrets: Sequence[str], body: bytes, timestamp: int | None = None
) -> dict[str, str]:
    """The headers of an attempt, signed now (or at ``timestamp``)."""
    signed_at = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Huike-Event": event_name,
        "Huike-Delivery": str(delivery_id),
        "Huike-Signature": signature_header(secrets, signed_at, body),
    }


def client(timeout_seconds: float) -> httpx.AsyncClient:
    """An HTTP client for attempts: no redirects followed, the shared TLS context. Share one
    only among one tenant's attempts (its connections are kept alive between them)."""
    return httpx.AsyncClient(
        timeout=timeout_seconds,
        follow_redirects=False,
        verify=client_tls(),
        limits=httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS),
    )


def tenant_client(
    tenant_id: uuid.UUID, timeout_seconds: float
) -> contextlib.AbstractAsyncContextManager[httpx.AsyncClient]:
    """The tenant's pooled :func:`client` for attempts, for the time of a job's attempts."""
    return http_clients.tenant_client(
        tenant_id, f"webhooks:{timeout_seconds:g}", lambda: client(timeout_seconds)
    )


async def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout_seconds: float,
    allow_private: bool,
    through: httpx.AsyncClient | None = None,
) -> AttemptResult:
    """POST ``body`` to ``url``; a 2xx answer within the deadline is a success. ``through``
    (from :func:`client`) is used instead of a client of the attempt's own."""
    started = time.monotonic()
    status: int | None = None
    excerpt: str | None = None
    error: str | None = None
    try:
        async with asyncio.timeout(timeout_seconds), contextlib.AsyncExitStack() as stack:
            await check_destination(url, allow_private=allow_private)
            http = through
            if http is None:
                http = await stack.enter_async_context(client(timeout_seconds))
            async with http.stream("POST", url, content=body, headers=headers) as response:
                status = response.status_code
                excerpt = await _excerpt(response)
    except (TimeoutError, httpx.TimeoutException):
        error = f"timed out after {timeout_seconds:g}s"
    except UnsafeDestination as exc:
        error = f"refused: {exc}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    ok = error is None and status is not None and 200 <= status < 300
    if error is None and not ok:
        error = f"HTTP {status}"
    duration = int((time.monotonic() - started) * 1000)
    return AttemptResult(
        ok=ok, status_code=status, response_excerpt=excerpt, error=error, duration_ms=duration
    )


async def _excerpt(response: httpx.Response) -> str:
    kept = bytearray()
    async for chunk in response.aiter_bytes():
        kept.extend(chunk)
        if len(kept) >= EXCERPT_BYTES:
            break
    return bytes(kept[:EXCERPT_BYTES]).decode("utf-8", errors="replace")
