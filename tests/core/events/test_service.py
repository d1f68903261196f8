"""Recording domain events: typed, versioned, tenant-scoped, in the caller's transaction."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from sqlalchemy import select

from core.events.models import OutboxMessage
from core.events.schemas import DomainEvent
from core.events.service import record_event
from core.kernel.database import Database
from core.kernel.tenancy import NoTenantInContext, tenant_context
from tests.core.jobs.conftest import TeamWanted, new_tenant

pytestmark = pytest.mark.anyio


class Renamed(DomainEvent, frozen=True, kw_only=True):
    name: ClassVar[str] = "tests.renamed"
    version: ClassVar[int] = 2
    new_name: str

    @classmethod
    def upcast(cls, version: int, payload: dict[str, Any]) -> dict[str, Any]:
        return {"new_name": payload["name"]} if version == 1 else payload


async def test_an_event_is_stored_with_its_type_version_and_tenant(db: Database) -> None:
    tenant = await new_tenant(db)
    with tenant_context(tenant):
        async with db.transaction() as session:
            event_id = await record_event(session, TeamWanted(label="North"))
    async with db.transaction() as session:
        row = (await session.scalars(select(OutboxMessage))).one()
    assert (row.kind, row.name, row.version) == ("event", "tests.team_wanted", 1)
    assert row.payload == {"label": "North"}
    assert row.tenant_ref == tenant
    assert row.message_id == event_id
    assert row.dispatched_at is None


async def test_an_event_needs_a_tenant(db: Database) -> None:
    with pytest.raises(NoTenantInContext):
        async with db.transaction() as session:
            await record_event(session, TeamWanted(label="Nobody's"))


def test_an_older_payload_is_upcast_and_a_newer_one_refused() -> None:
    assert Renamed.decode(1, {"name": "Old"}) == Renamed(new_name="Old")
    assert Renamed.decode(2, {"new_name": "New"}) == Renamed(new_name="New")
    with pytest.raises(ValueError, match="newer than this code"):
        Renamed.decode(3, {"new_name": "Future"})
