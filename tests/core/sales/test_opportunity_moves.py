"""Two moves of one opportunity racing: the row lock queues them, If-Match refuses the stale
one, and the stage history keeps exactly one open stay (PostgreSQL, real concurrency)."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select

from core.kernel.database import Database
from core.kernel.errors import Conflict, NotFound, PreconditionFailed
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from core.sales import moves, service
from core.sales.models import Opportunity, StageVisit
from core.sales.schemas import StageMove
from core.security.principal import Principal
from tests.helpers import signup

pytestmark = pytest.mark.anyio


@pytest.fixture
def deal(client: TestClient[Any]) -> dict[str, Any]:
    owner = signup(client, "Acme")
    h = owner["headers"]
    me = client.get("/api/v1/me", headers=h).json()
    customer = client.post("/api/v1/customers", headers=h, json={"kind": "company", "name": "Globex"}).json()
    opportunity = client.post(
        "/api/v1/opportunities", headers=h, json={"name": "D", "customer_id": customer["id"]}
    )
    assert opportunity.status_code == 201, opportunity.text
    pipeline = next(p for p in client.get("/api/v1/pipelines", headers=h).json()["items"] if p["is_default"])
    stages = {s["position"]: uuid.UUID(s["id"]) for s in pipeline["stages"]}
    principal = Principal(
        kind="user",
        tenant_id=uuid.UUID(owner["tenant_id"]),
        grants={"opportunities.update": "all", "opportunities.close": "all"},
        user_id=uuid.UUID(me["user_id"]),
    )
    return {
        "principal": principal,
        "id": uuid.UUID(opportunity.json()["id"]),
        "stages": stages,
        "pipeline_id": uuid.UUID(pipeline["id"]),
    }


async def _move(db: Database, deal: dict[str, Any], position: int, version: int | None) -> str:
    principal: Principal = deal["principal"]
    with tenant_context(principal.tenant_id):
        try:
            async with db.transaction() as session:
                await moves.move_stage(
                    session,
                    principal,
                    deal["id"],
                    StageMove(stage_id=deal["stages"][position]),
                    expected_version=version,
                )
                await asyncio.sleep(0.2)  # hold the row lock while the other move arrives
        except PreconditionFailed:
            return "412"
    return "moved"


async def _history(db: Database, deal: dict[str, Any]) -> tuple[Opportunity, list[StageVisit]]:
    with tenant_context(deal["principal"].tenant_id):
        async with db.transaction() as session:
            opportunity = (await session.scalars(select(Opportunity))).one()
            visits = (await session.scalars(select(StageVisit).order_by(StageVisit.entered_at))).all()
    return opportunity, list(visits)


@pytest.mark.postgres
async def test_two_moves_with_the_same_if_match_one_wins_and_the_other_is_refused(
    deal: dict[str, Any], db: Database, settings: Settings
) -> None:
    results = await asyncio.gather(_move(db, deal, 2, 1), _move(db, deal, 3, 1))
    assert sorted(results) == ["412", "moved"]
    opportunity, visits = await _history(db, deal)
    assert opportunity.version == 2
    assert [v.left_at is None for v in visits] == [False, True]
    assert visits[-1].stage_id == opportunity.stage_id


@pytest.mark.postgres
async def test_two_moves_without_if_match_queue_up_and_chain_the_history(
    deal: dict[str, Any], db: Database
) -> None:
    results = await asyncio.gather(
        _move(db, deal, 2, None), _move(db, deal, 3, None), _move(db, deal, 4, None)
    )
    assert results == ["moved", "moved", "moved"]
    opportunity, visits = await _history(db, deal)
    assert opportunity.version == 4
    assert [v.left_at is None for v in visits] == [False, False, False, True]
    for before, after in itertools.pairwise(visits):
        assert before.left_at == after.entered_at  # one stay ends where the next begins
    assert visits[-1].stage_id == opportunity.stage_id


async def _hold(
    db: Database, deal: dict[str, Any], work: Any, done: asyncio.Event, release: asyncio.Event
) -> str:
    """Run ``work(session)`` in a transaction kept open until ``release``; its outcome."""
    with tenant_context(deal["principal"].tenant_id):
        try:
            async with db.transaction() as session:
                await work(session)
                done.set()
                await release.wait()
        except (Conflict, NotFound) as exc:
            done.set()
            return exc.code
    return "done"


@pytest.mark.postgres
@pytest.mark.parametrize("first", ["move", "remove"])
async def test_a_stage_removed_while_an_opportunity_moves_into_it_is_a_clean_refusal(
    deal: dict[str, Any], db: Database, first: str
) -> None:
    stage = deal["stages"][2]

    async def move(session: Any) -> None:
        await moves.move_stage(session, deal["principal"], deal["id"], StageMove(stage_id=stage))

    async def remove(session: Any) -> None:
        await service.remove_stage(session, deal["pipeline_id"], stage)

    works = {"move": move, "remove": remove}
    second = "remove" if first == "move" else "move"
    first_done, second_done, release = asyncio.Event(), asyncio.Event(), asyncio.Event()
    leading = asyncio.create_task(_hold(db, deal, works[first], first_done, release))
    await first_done.wait()
    go = asyncio.Event()
    go.set()
    following = asyncio.create_task(_hold(db, deal, works[second], second_done, go))
    await asyncio.sleep(0.3)
    assert not second_done.is_set()  # it waits for the first one's lock on the pipeline
    release.set()
    assert await leading == "done"
    # The one that came second is refused with a problem, never a foreign-key error.
    assert await following == ("stage_in_use" if first == "move" else "not_found")
