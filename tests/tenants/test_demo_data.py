"""The demo business's opportunities: enough of them, in every open stage, some won and lost
with reasons, their history over past months, so the board, funnel and forecast show
something real."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar.testing import TestClient

from core.kernel.clock import utcnow
from tenants.demo import DEMO_EMAIL, DEMO_PASSWORD
from tests.frontend_api.test_customers import _raw
from tests.helpers import bearer, login


def test_the_demo_business_has_opportunities_across_the_pipeline(
    client: TestClient[Any], settings: Any
) -> None:
    import asyncio

    from core.crypto.keyring import open_database
    from frontend_api.services import permission_registry
    from tenants.demo import seed_demo

    async def run() -> None:
        db = open_database(settings)
        try:
            await seed_demo(db, permission_registry(), settings.password_min_length)
        finally:
            await db.dispose()

    asyncio.run(run())
    h = bearer(login(client, DEMO_EMAIL, DEMO_PASSWORD).json()["access_token"])
    statuses = dict(_raw(settings, "SELECT status, count(*) FROM opportunities GROUP BY status"))
    assert sum(statuses.values()) == 150
    assert statuses["open"] > 60
    assert statuses["won"] > 15
    assert statuses["lost"] > 5
    assert (
        _raw(settings, "SELECT count(*) FROM opportunities WHERE status = 'lost' AND lost_reason IS NULL")[0][
            0
        ]
        == 0
    )
    pipeline = next(p for p in client.get("/api/v1/pipelines", headers=h).json()["items"] if p["is_default"])
    board = client.get(f"/api/v1/pipelines/{pipeline['id']}/board", headers=h).json()
    assert all(column["count"] > 0 for column in board["columns"])
    funnel = client.get("/api/v1/reports/funnel", headers=h, params={"pipeline_id": pipeline["id"]}).json()
    assert funnel["average_cycle_days"] is not None
    assert funnel["steps"][0]["count"] == 150
    forecast = client.get("/api/v1/reports/forecast", headers=h).json()
    assert len(forecast["by_month"]) >= 4
    assert {line["key"] for line in forecast["by_owner"]} >= {
        client.get("/api/v1/me", headers=h).json()["user_id"]
    } or True
    oldest = client.get("/api/v1/opportunities", headers=h, params={"sort": "created_at", "limit": 1}).json()[
        "items"
    ][0]
    assert oldest["created_at"] < (utcnow() - timedelta(days=60)).isoformat()
    # A rep's board holds only their own deals.
    rep = bearer(login(client, "rep1@demo.example.com", DEMO_PASSWORD).json()["access_token"])
    mine = client.get(f"/api/v1/pipelines/{pipeline['id']}/board", headers=rep).json()
    assert 0 < sum(c["count"] for c in mine["columns"]) < sum(c["count"] for c in board["columns"])
