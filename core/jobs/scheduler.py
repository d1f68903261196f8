"""The scheduler: fires each due run of each periodic job once, however many processes run it.

Each periodic job has a row in ``periodic_schedules`` with its next due time. A scheduler
that finds it due moves ``next_run_at`` on with a conditional UPDATE (``WHERE next_run_at =
<the due time it read>``) and, in the same transaction, enqueues the job through the outbox.
Of two schedulers racing, the second UPDATE matches no row (PostgreSQL re-checks it after
the first commits; SQLite serialises the writes), so it enqueues nothing.

A scheduler that was down for several periods fires a missed job once, then resumes.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update

from core.events.service import record_job
from core.jobs.models import PeriodicSchedule
from core.jobs.registry import JobRegistry, Periodic
from core.kernel.clock import utcnow
from core.kernel.database import Database
from core.kernel.tenancy import tenant_context
from core.kernel.upsert import insert_for

__all__ = ["Scheduler"]

log = logging.getLogger("huike.scheduler")


class Scheduler:
    def __init__(self, db: Database, registry: JobRegistry, holder: str) -> None:
        self.db = db
        self.registry = registry
        #: Names this scheduler in ``last_fired_by`` (host and pid, say).
        self.holder = holder

    async def tick(self, now: datetime | None = None) -> list[str]:
        """Fire what is due at ``now``; returns the names this scheduler fired."""
        now = now or utcnow()
        with tenant_context(None):
            due = await self._due(now)
            fired = [p.name for p, due_at in due if await self._fire(p, due_at, now)]
        if fired:
            log.info("periodic jobs fired", extra={"jobs": fired, "holder": self.holder})
        return fired

    async def _due(self, now: datetime) -> list[tuple[Periodic, datetime]]:
        periodic = self.registry.periodic
        async with self.db.transaction() as session:
            known = set((await session.scalars(select(PeriodicSchedule.name))).all())
        missing = [item for name, item in periodic.items() if name not in known]
        if missing:
            async with self.db.transaction() as session:
                for item in missing:
                    await session.execute(
                        insert_for(session, PeriodicSchedule)
                        .values(name=item.name, next_run_at=item.next_after(now))
                        .on_conflict_do_nothing(index_elements=["name"])
                    )
        async with self.db.transaction() as session:
            rows = await session.scalars(
                select(PeriodicSchedule).where(
                    PeriodicSchedule.name.in_(list(periodic)), PeriodicSchedule.next_run_at <= now
                )
            )
            return [(periodic[row.name], row.next_run_at) for row in rows]

    async def _fire(self, item: Periodic, due_at: datetime, now: datetime) -> bool:
        async with self.db.transaction() as session:
            won = await session.execute(
                update(PeriodicSchedule)
                .where(PeriodicSchedule.name == item.name, PeriodicSchedule.next_run_at == due_at)
                .values(next_run_at=item.next_after(now), last_run_at=now, last_fired_by=self.holder)
            )
            if won.rowcount != 1:  # type: ignore[attr-defined]
                return False
            record_job(session, item.name, dict(item.payload), None)
            return True
