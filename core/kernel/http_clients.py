"""Keep-alive HTTP clients, one per tenant: a tenant's requests to its endpoints reuse their
connections (no TCP and TLS handshake per request), and no connection ever carries two
tenants' requests.

A client belongs to the event loop that made it (its connections are that loop's), so each
loop has its own pool; :func:`close_http_clients` closes the running loop's (the job runtime
does when it stops). A client no request used for ``IDLE_SECONDS`` is closed (the pool looks
every ``SWEEP_SECONDS`` at most, when a request comes), and past ``MAX_TENANTS`` the least
recently used idle ones are; a client in use is never closed under its requests.
"""

from __future__ import annotations

import asyncio
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

__all__ = ["IDLE_SECONDS", "KEEPALIVE_EXPIRY_SECONDS", "MAX_TENANTS", "close_http_clients", "tenant_client"]

IDLE_SECONDS = 60.0
MAX_TENANTS = 256
#: How often, at most, the pool looks for idle clients to close (below ``MAX_TENANTS``).
SWEEP_SECONDS = 5.0
#: An idle connection is dropped after this long: sooner than the 5 s many servers keep one
#: open (Node's default), so a request is not sent on a connection its server is closing.
KEEPALIVE_EXPIRY_SECONDS = 4.0


@dataclass
class _Pooled:
    client: httpx.AsyncClient
    users: int = 0
    last_used: float = 0.0


class _Pool:
    def __init__(self) -> None:
        self._clients: OrderedDict[tuple[uuid.UUID, str], _Pooled] = OrderedDict()
        self._swept_at = time.monotonic()

    async def acquire(self, key: tuple[uuid.UUID, str], build: Callable[[], httpx.AsyncClient]) -> _Pooled:
        # Every job asks for a client: look for idle ones to close now and then, not each time.
        now = time.monotonic()
        if len(self._clients) >= MAX_TENANTS or now - self._swept_at >= min(IDLE_SECONDS, SWEEP_SECONDS):
            self._swept_at = now
            await self._close_idle(keep=key)
        pooled = self._clients.get(key)
        if pooled is None:
            pooled = self._clients[key] = _Pooled(build())
        self._clients.move_to_end(key)
        pooled.users += 1
        return pooled

    def release(self, pooled: _Pooled) -> None:
        pooled.users -= 1
        pooled.last_used = time.monotonic()

    async def _close_idle(self, keep: tuple[uuid.UUID, str]) -> None:
        now = time.monotonic()
        excess = len(self._clients) - MAX_TENANTS
        closing = []
        for key, pooled in list(self._clients.items()):  # least recently used first
            if key == keep or pooled.users:
                continue
            if excess > 0 or now - pooled.last_used > IDLE_SECONDS:
                del self._clients[key]
                closing.append(pooled.client)
                excess -= 1
        for client in closing:
            await client.aclose()

    async def close(self) -> None:
        clients = [p.client for p in self._clients.values()]
        self._clients.clear()
        for client in clients:
            await client.aclose()


_POOLS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pool] = weakref.WeakKeyDictionary()


@asynccontextmanager
async def tenant_client(
    tenant_id: uuid.UUID, purpose: str, build: Callable[[], httpx.AsyncClient]
) -> AsyncIterator[httpx.AsyncClient]:
    """The tenant's client for ``purpose`` (which also names how ``build`` makes it: the same
    purpose must always build the same kind of client), made by ``build`` the first time."""
    loop = asyncio.get_running_loop()
    pool = _POOLS.get(loop)
    if pool is None:
        pool = _POOLS[loop] = _Pool()
    pooled = await pool.acquire((tenant_id, purpose), build)
    try:
        yield pooled.client
    finally:
        pool.release(pooled)


async def close_http_clients() -> None:
    """Close every pooled client of the running loop (their connections with them)."""
    pool = _POOLS.pop(asyncio.get_running_loop(), None)
    if pool is not None:
        await pool.close()
