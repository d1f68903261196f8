"""One transaction per authenticated request: the guard resolves a member in the transaction
that the handler's ``session`` dependency then carries on with.

Without it a request ran two transactions (the caller's lookup, then the handler's work), so
two pool checkouts, two ``BEGIN``/``COMMIT`` pairs and two RLS settings per request. The
guard hands its transaction over only when the handler takes ``session`` (directly or through
another dependency) and no ``Idempotency-Key`` asks the hook before the handler to claim the
key in a transaction of its own, which would hold two connections at once. Whatever the
handler never takes (the request failed between the guard and the handler: a bad query
parameter, a rate limit) is rolled back by :func:`leftover_transaction_middleware`.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy.ext.asyncio import AsyncSession

from core.kernel.database import Database

__all__ = [
    "RequestTransaction",
    "abandon_request_transaction",
    "begin_request_transaction",
    "handler_takes_session",
    "leftover_transaction_middleware",
    "take_request_transaction",
]

_STATE_KEY = "huike_request_transaction"
_SESSION = "session"
#: ``frontend_api.idempotency.HEADER`` (that module imports the guard, which imports this one).
_IDEMPOTENCY_HEADER = "idempotency-key"


class RequestTransaction:
    """A transaction that is already open; leaving ``async with self.stack`` commits it, or
    rolls it back on an error, exactly as leaving ``Database.transaction()`` does."""

    def __init__(self, stack: AsyncExitStack, session: AsyncSession) -> None:
        self.stack = stack
        self.session = session

    async def end(self, error: BaseException | None = None) -> None:
        if error is None:
            await self.stack.aclose()
        else:
            await self.stack.__aexit__(type(error), error, error.__traceback__)


def _takes_session(handler: BaseRouteHandler) -> bool:
    providers = handler.resolve_dependencies()
    wanted = set(handler.parsed_fn_signature.parameters)
    seen: set[str] = set()
    while wanted:
        name = wanted.pop()
        if name in seen:
            continue
        seen.add(name)
        provider = providers.get(name)
        if provider is not None:
            wanted.update(provider.parsed_fn_signature.parameters)
    return _SESSION in seen and _SESSION in providers


def handler_takes_session(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> bool:
    """Whether the guard may hand its transaction to this request's handler."""
    if _IDEMPOTENCY_HEADER in connection.headers:
        return False
    known: dict[int, bool] = connection.app.state.setdefault("huike_handlers_taking_session", {})
    takes = known.get(id(handler))
    if takes is None:
        takes = known[id(handler)] = _takes_session(handler)
    return takes


async def begin_request_transaction(
    connection: ASGIConnection[Any, Any, Any, Any], db: Database
) -> RequestTransaction:
    """Open the request's transaction (the tenant is already in context: the RLS setting is
    made at its start) and keep it for the ``session`` dependency."""
    stack = AsyncExitStack()
    session = await stack.enter_async_context(db.transaction())
    transaction = RequestTransaction(stack, session)
    connection.scope.setdefault("state", {})[_STATE_KEY] = transaction
    return transaction


def take_request_transaction(connection: ASGIConnection[Any, Any, Any, Any]) -> RequestTransaction | None:
    """The transaction the guard opened for this request, now the caller's to end."""
    taken: RequestTransaction | None = connection.scope.get("state", {}).pop(_STATE_KEY, None)
    return taken


async def abandon_request_transaction(
    connection: ASGIConnection[Any, Any, Any, Any], error: BaseException | None = None
) -> None:
    """Roll back the guard's transaction (the request is refused) if it is still open."""
    taken = take_request_transaction(connection)
    if taken is not None:
        await taken.end(error or _Abandoned())


class _Abandoned(Exception):
    """Thrown into the transaction to roll it back: the request never reached its handler."""


def leftover_transaction_middleware(app: ASGIApp) -> ASGIApp:
    """Roll back a request transaction that no handler took (the request failed before)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await app(scope, receive, send)
        finally:
            leftover: RequestTransaction | None = scope.get("state", {}).pop(_STATE_KEY, None)
            if leftover is not None:
                await leftover.end(_Abandoned())

    return middleware
