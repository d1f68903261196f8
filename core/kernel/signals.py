"""Signals a transaction raises when it commits, to listeners in this process.

Work that waits for rows to become visible (the relay waits for outbox rows) need not poll
for them: the code that writes such a row calls :func:`signal_on_commit`, and once that
transaction commits every listener of the signal on the same :class:`~core.kernel.database.Database`
is called. A transaction that rolls back signals nothing. A signal is a hint to look now,
never the only way work is found: listeners still poll, and other processes learn of the
rows their own way (PostgreSQL ``NOTIFY``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from core.kernel.tenancy import TenantSession

__all__ = ["CommitSignals", "signal_on_commit"]

log = logging.getLogger("huike.signals")

#: ``session.info`` keys: the signals the open transaction raises, and the listeners (shared
#: by every session of one database).
_RAISED = "huike.commit_signals.raised"
LISTENERS = "huike.commit_signals"


class CommitSignals:
    """The listeners of one database's commit signals."""

    def __init__(self) -> None:
        self._listeners: defaultdict[str, list[Callable[[], None]]] = defaultdict(list)

    def listen(self, name: str, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` (from the committing thread: keep it short) after each commit
        that raised ``name``; returns the function that stops it."""
        self._listeners[name].append(callback)
        return lambda: self._listeners[name].remove(callback)

    def fire(self, names: set[str]) -> None:
        for name in names:
            for callback in list(self._listeners.get(name, ())):
                try:
                    callback()
                except Exception:
                    log.warning("a commit listener failed", exc_info=True, extra={"signal": name})


def signal_on_commit(session: AsyncSession | Session, name: str) -> None:
    """Raise ``name`` when ``session``'s transaction commits."""
    session.info.setdefault(_RAISED, set()).add(name)


# SQLAlchemy calls these for savepoints too (released, rolled back): only the transaction's
# own commit or rollback counts, or a savepoint's release would signal rows not yet visible.
@event.listens_for(TenantSession, "after_commit")
def _fire(session: Session) -> None:
    if session.in_nested_transaction():
        return
    raised: set[str] | None = session.info.pop(_RAISED, None)
    signals: Any = session.info.get(LISTENERS)
    if raised and isinstance(signals, CommitSignals):
        signals.fire(raised)


@event.listens_for(TenantSession, "after_rollback")
def _forget(session: Session) -> None:
    # A savepoint rolled back keeps what the transaction raised before it (at worst a
    # listener looks once for nothing).
    if not session.in_nested_transaction():
        session.info.pop(_RAISED, None)
