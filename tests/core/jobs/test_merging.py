"""What a job's commit sends: the jobs of one name and tenant whose job declares ``merge`` go
as fewer messages; every other job as it was asked for."""

from __future__ import annotations

import uuid

import msgspec

from core.events.models import OutboxKind
from core.jobs.context import JobContext
from core.jobs.registry import job
from core.jobs.runner import Envelope, merged


class Items(msgspec.Struct):
    items: list[int]


def _all_in_one(payloads: list[Items]) -> list[Items]:
    return [Items(items=[i for p in payloads for i in p.items])]


@job("tests.mergeable", Items, merge=_all_in_one)
async def mergeable(ctx: JobContext, payload: Items) -> None: ...


@job("tests.plain", Items)
async def plain(ctx: JobContext, payload: Items) -> None: ...


def _envelope(name: str, tenant_id: uuid.UUID, item: int) -> Envelope:
    return Envelope(
        kind=OutboxKind.JOB,
        name=name,
        message_id=uuid.uuid4(),
        tenant_id=tenant_id,
        payload={"items": [item]},
    )


def test_the_jobs_of_one_merging_job_and_tenant_go_as_one_message_with_the_first_id() -> None:
    acme, globex = uuid.uuid4(), uuid.uuid4()
    sent = [
        _envelope("tests.mergeable", acme, 1),
        _envelope("tests.plain", acme, 2),
        _envelope("tests.mergeable", globex, 3),
        _envelope("tests.mergeable", acme, 4),
        _envelope("tests.plain", acme, 5),
    ]

    result = merged({j.name: j for j in (mergeable, plain)}, sent)

    assert [(e.name, e.tenant_id, e.payload["items"]) for e in result] == [
        ("tests.mergeable", acme, [1, 4]),
        ("tests.plain", acme, [2]),
        ("tests.plain", acme, [5]),
        ("tests.mergeable", globex, [3]),
    ]
    assert [e.message_id for e in result] == [
        sent[0].message_id,
        sent[1].message_id,
        sent[4].message_id,
        sent[2].message_id,
    ]
