"""Use cases called by other slices directly: the leaver transfer of activities and tasks."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select

from core.activities.models import Activity
from core.activities.service import transfer_activities
from core.kernel.database import Database
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from tests.helpers import add_member, signup

pytestmark = pytest.mark.anyio

API = "/api/v1/activities"


def _post(client: TestClient[Any], headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    response = client.post(API, headers=headers, json={"subject": "S", "subject_type": "customer", **fields})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.fixture
def leaver_work(client: TestClient[Any], settings: Settings) -> dict[str, Any]:
    """A leaver's call, an open task assigned to them and a done one, and their heir."""
    owner = signup(client, "Acme")
    leaver = add_member(client, settings, owner["tenant_id"], "sales_rep")
    heir = add_member(client, settings, owner["tenant_id"], "sales_rep")
    leaver_id, heir_id = (
        uuid.UUID(client.get("/api/v1/me", headers=p["headers"]).json()["user_id"]) for p in (leaver, heir)
    )
    customer = client.post(
        "/api/v1/customers", headers=leaver["headers"], json={"kind": "company", "name": "Globex"}
    ).json()
    call = _post(client, leaver["headers"], kind="call", subject_id=customer["id"])
    assigned = _post(
        client, owner["headers"], kind="task", subject_id=customer["id"], assignee_id=str(leaver_id)
    )
    done = _post(client, owner["headers"], kind="task", subject_id=customer["id"], assignee_id=str(leaver_id))
    client.post(f"{API}/{done['id']}/complete", headers=owner["headers"])
    return {
        "tenant_id": uuid.UUID(owner["tenant_id"]),
        "leaver_id": leaver_id,
        "heir_id": heir_id,
        "call": uuid.UUID(call["id"]),
        "assigned": uuid.UUID(assigned["id"]),
        "done": uuid.UUID(done["id"]),
    }


async def test_a_leaver_transfer_moves_owned_activities_and_open_tasks_only(
    leaver_work: dict[str, Any], db: Database
) -> None:
    w = leaver_work
    leaver_id, heir_id = w["leaver_id"], w["heir_id"]
    with tenant_context(w["tenant_id"]):
        async with db.transaction() as session:
            moved = await transfer_activities(session, leaver_id, heir_id, None)
        async with db.transaction() as session:
            rows = {a.id: a for a in (await session.scalars(select(Activity))).all()}

    assert moved == 2
    assert rows[w["call"]].owner_id == heir_id
    assert rows[w["assigned"]].assignee_id == heir_id
    assert rows[w["done"]].assignee_id == leaver_id
    assert rows[w["call"]].version == 2
