"""Engine and sessions, built from settings by whoever composes the application."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from core.kernel.signals import LISTENERS, CommitSignals
from core.kernel.tenancy import TenantSession

__all__ = ["Database"]

#: A pooled connection idle for longer than this is pinged before it is handed out (the
#: database may have restarted and dropped it); one used more recently is not. On asyncpg a
#: ping is three round trips (``BEGIN``, ``;``, ``ROLLBACK``), as many as a short
#: transaction's own statements, and a busy worker checks a connection out several times per job.
PING_AFTER_IDLE_SECONDS = 1.0


class Database:
    """One engine and its session factory.

    Sessions are ``AsyncSession`` over :class:`TenantSession`, so every one of them carries
    the tenant filter and, on PostgreSQL, the per-transaction RLS setting.
    """

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool_size: int = 10,
        max_overflow: int | None = None,
        session_info: Mapping[str, Any] | None = None,
    ) -> None:
        self.url = make_url(url)
        kwargs: dict[str, Any] = {"echo": echo, "json_serializer": _json_text}
        if self.url.get_backend_name() == "sqlite":
            _ensure_sqlite_folder(self.url.database)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(
                pool_size=pool_size,
                max_overflow=pool_size if max_overflow is None else max_overflow,
            )
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.url.get_backend_name() == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        else:
            # A new connection is as fresh as one just checked in.
            event.listen(self.engine.sync_engine.pool, "connect", _note_checkin)
            event.listen(self.engine.sync_engine.pool, "checkin", _note_checkin)
            event.listen(self.engine.sync_engine.pool, "checkout", self._ping_if_idle)
        #: What this database's transactions signal when they commit (:mod:`core.kernel.signals`).
        self.commit_signals = CommitSignals()
        # ``session_info`` is copied into every session's ``info`` (the keyring rides there).
        self.sessions = async_sessionmaker(
            self.engine,
            expire_on_commit=False,
            sync_session_class=TenantSession,
            info={**(session_info or {}), LISTENERS: self.commit_signals},
        )

    def _ping_if_idle(self, dbapi_connection: Any, record: Any, proxy: Any) -> None:
        """The pool's checkout hook: SQLAlchemy's ``pool_pre_ping``, for idle connections only.
        A failed ping makes the pool discard the connection and hand out another."""
        last_used = record.info.get(_CHECKED_IN_AT)
        if last_used is not None and time.monotonic() - last_used < PING_AFTER_IDLE_SECONDS:
            return
        try:
            self.engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise exc.DisconnectionError("the pooled connection did not answer its ping") from error

    @property
    def dialect(self) -> str:
        return self.url.get_backend_name()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in one transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


def _builtin(value: Any) -> Any:
    """What ``json.dumps`` makes of subclasses of the JSON types (a ``str`` subclass such as
    SQLAlchemy's ``quoted_name``, a mutable-tracking dict), which msgspec leaves to this hook."""
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return kind(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, list | tuple):
        return list(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_json = msgspec.json.Encoder(enc_hook=_builtin)


def _json_text(value: Any) -> str:
    """JSON columns' text: msgspec writes the same JSON values as ``json.dumps`` (in UTF-8, not
    ``\\u`` escapes) several times faster, and an import writes thousands of JSON values
    (audit entries, events) per batch."""
    return _json.encode(value).decode()


_CHECKED_IN_AT = "huike.checked_in_at"


def _note_checkin(dbapi_connection: Any, record: Any) -> None:
    record.info[_CHECKED_IN_AT] = time.monotonic()


def _ensure_sqlite_folder(database: str | None) -> None:
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
