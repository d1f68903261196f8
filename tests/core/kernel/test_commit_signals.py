"""Commit signals (core/kernel/signals.py): a transaction's signal reaches its listeners
when that transaction commits; a savepoint's release or rollback inside it is not a commit."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from core.kernel.database import Database
from core.kernel.signals import signal_on_commit

pytestmark = pytest.mark.anyio

SIGNAL = "tests.rows_written"


async def _savepoint(session: AsyncSession, *, fail: bool) -> None:
    try:
        async with session.begin_nested():
            if fail:
                raise RuntimeError("rolled back")
    except RuntimeError:
        pass


async def _rolled_back(db: Database) -> None:
    async with db.transaction() as session:
        signal_on_commit(session, SIGNAL)
        raise RuntimeError("rolled back")


@pytest.mark.parametrize("fail", [False, True], ids=["released", "rolled back"])
async def test_a_signal_raised_before_a_savepoint_waits_for_the_transactions_commit(
    db: Database, fail: bool
) -> None:
    heard: list[str] = []
    stop = db.commit_signals.listen(SIGNAL, lambda: heard.append("signal"))
    try:
        async with db.transaction() as session:
            signal_on_commit(session, SIGNAL)
            await _savepoint(session, fail=fail)
            assert heard == []  # the rows are not visible to anybody yet
        assert heard == ["signal"]
    finally:
        stop()


async def test_a_transaction_that_rolls_back_signals_nothing(db: Database) -> None:
    heard: list[str] = []
    stop = db.commit_signals.listen(SIGNAL, lambda: heard.append("signal"))
    try:
        with pytest.raises(RuntimeError):
            await _rolled_back(db)
        async with db.transaction():
            pass
        assert heard == []
    finally:
        stop()
