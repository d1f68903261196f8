"""Per-tenant dispatch with plugins defined here: a failing plugin is retried and
dead-lettered on its own without repeating or blocking another's effect, is paused for the
tenant after repeated failures (its admins are told), a provider plugin sends the tenant's
mail, and a check refuses an opportunity's win."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from core.events.schemas import DomainEvent
from core.jobs.context import JobContext
from core.jobs.housekeeping import NoPayload
from core.jobs.registry import Periodic, job
from core.jobs.service import enqueue, enqueue_for_each_tenant
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from core.sales.schemas import OpportunityView
from frontend_api.app import create_app
from frontend_api.services import build_services
from plugins.manager import PluginHost
from plugins.sdk import EmailMessage, HookContext, PluginInfo, hookimpl
from plugins.sdk.events import CustomerCreated
from tests.frontend_api.test_customers import _raw
from tests.frontend_api.test_invitations import _invite
from tests.helpers import signup, unique_email

PLUGINS = "/api/v1/tenant/plugins"


class Recorder:
    """Plugins defined by the test keep what they saw here, per tenant."""

    def __init__(self) -> None:
        self.seen: dict[str, list[Any]] = {}

    def add(self, ctx: HookContext, item: Any) -> None:
        self.seen.setdefault(str(ctx.tenant_id), []).append(item)

    def of(self, tenant_id: str) -> list[Any]:
        return self.seen.get(tenant_id, [])


class Steady:
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    @hookimpl
    def plugin_info(self) -> PluginInfo:
        return PluginInfo(name="steady", title="Steady")

    @hookimpl
    async def on_event(self, ctx: HookContext, event: DomainEvent) -> None:
        if isinstance(event, CustomerCreated):
            self.recorder.add(ctx, ("steady", event.customer_id, ctx.event_id))


class Flaky:
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    @hookimpl
    def plugin_info(self) -> PluginInfo:
        return PluginInfo(name="flaky", title="Flaky", title_zh="不稳定")

    @hookimpl
    def on_event(self, ctx: HookContext, event: DomainEvent) -> None:
        if isinstance(event, CustomerCreated):
            self.recorder.add(ctx, ("flaky", event.customer_id))
            raise ConnectionError("the partner's server is down")


class Postman:
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    @hookimpl
    def plugin_info(self) -> PluginInfo:
        return PluginInfo(name="postman", title="Postman")

    @hookimpl
    async def send_email(self, ctx: HookContext, message: EmailMessage) -> bool:
        self.recorder.add(ctx, message)
        return True


class Gatekeeper:
    @hookimpl
    def plugin_info(self) -> PluginInfo:
        return PluginInfo(name="gatekeeper", title="Gatekeeper")

    @hookimpl
    def before_opportunity_win(self, opportunity: OpportunityView) -> str | None:
        return (
            "Attach the signed contract first." if opportunity.amount and opportunity.amount > 1000 else None
        )


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def world(settings: Settings, recorder: Recorder) -> Iterator[TestClient[Litestar]]:
    fast = dataclasses.replace(
        settings,
        background_jobs=True,
        job_max_retries=1,
        job_min_backoff_ms=1,
        job_max_backoff_ms=5,
        plugin_pause_after=2,
    )
    host = PluginHost.load(
        [Steady(recorder), Flaky(recorder), Postman(recorder), Gatekeeper()], entry_points=False
    )
    app = create_app(fast, build_services(fast, plugins=host))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    asyncio.run(app.state.services.db.dispose())


def _drain(client: TestClient[Litestar]) -> None:
    client.blocking_portal.call(client.app.state.jobs.drain)


def _enable(client: TestClient[Any], headers: dict[str, str], *names: str) -> None:
    for name in names:
        response = client.post(f"{PLUGINS}/{name}/enable", headers=headers, json={})
        assert response.status_code == 200, response.text


def _customer(client: TestClient[Any], headers: dict[str, str], name: str) -> str:
    response = client.post("/api/v1/customers", headers=headers, json={"kind": "company", "name": name})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_a_failing_plugin_neither_blocks_nor_repeats_another_plugins_effect(
    world: TestClient[Litestar], recorder: Recorder, settings: Settings
) -> None:
    acme, other = signup(world, "Acme"), signup(world, "Other")
    _enable(world, acme["headers"], "steady", "flaky")
    _enable(world, other["headers"], "steady")
    customer = uuid.UUID(_customer(world, acme["headers"], "Globex"))
    _customer(world, other["headers"], "Initech")
    _drain(world)
    steady = [item for item in recorder.of(acme["tenant_id"]) if item[0] == "steady"]
    assert [item[1] for item in steady] == [customer]
    assert steady[0][2] is not None  # the event id, for the plugin to deduplicate on
    assert [item for item in recorder.of(acme["tenant_id"]) if item[0] == "flaky"] == [
        ("flaky", customer),
        ("flaky", customer),
    ]  # first try and one retry
    assert len(recorder.of(other["tenant_id"])) == 1  # steady only: flaky is not enabled there
    letters = _raw(settings, "SELECT actor, error FROM dead_letters")
    assert [(actor, "partner's server is down" in error) for actor, error in letters] == [
        ("handler:plugin.flaky.customers.created", True)
    ]


def test_a_plugin_that_keeps_failing_is_paused_for_the_tenant_and_its_admins_are_told(
    world: TestClient[Litestar], recorder: Recorder, settings: Settings
) -> None:
    acme = signup(world, "Acme")
    _enable(world, acme["headers"], "flaky")
    for name in ("One", "Two"):
        _customer(world, acme["headers"], name)
        _drain(world)
    shown = world.get(f"{PLUGINS}/flaky", headers=acme["headers"]).json()
    assert (shown["enabled"], shown["paused"]) == (True, True)
    assert "2 events in a row failed" in shown["pause_reason"]
    assert "partner's server is down" in shown["pause_reason"]
    _drain(world)
    mail = world.app.state.services.mailer.outbox
    notice = [m for m in mail if "不稳定" in m.subject]  # the owner's language: zh-CN by default
    assert [m.to for m in notice] == [acme["email"]]
    assert "/api/v1/tenant/plugins/flaky/resume" in notice[0].body
    # Paused: the next event is not even sent to it.
    calls = len(recorder.of(acme["tenant_id"]))
    _customer(world, acme["headers"], "Three")
    _drain(world)
    assert len(recorder.of(acme["tenant_id"])) == calls
    resumed = world.post(f"{PLUGINS}/flaky/resume", headers=acme["headers"])
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["paused"] is False
    _customer(world, acme["headers"], "Four")
    _drain(world)
    assert len(recorder.of(acme["tenant_id"])) == calls + 2


def test_a_provider_plugin_sends_the_tenants_mail_and_the_platform_mailer_sends_the_rest(
    world: TestClient[Litestar], recorder: Recorder
) -> None:
    acme, other = signup(world, "Acme"), signup(world, "Other")
    _enable(world, acme["headers"], "postman")
    mine, theirs = unique_email("invitee"), unique_email("invitee")
    assert _invite(world, acme, mine).status_code == 201
    assert _invite(world, other, theirs).status_code == 201
    _drain(world)
    assert [m.to for m in recorder.of(acme["tenant_id"])] == [mine]
    assert [m.to for m in world.app.state.services.mailer.outbox] == [theirs]


def test_a_check_refuses_winning_an_opportunity_and_nothing_changes(
    world: TestClient[Litestar], settings: Settings
) -> None:
    acme = signup(world, "Acme")
    _enable(world, acme["headers"], "gatekeeper")
    customer = _customer(world, acme["headers"], "Globex")
    big = world.post(
        "/api/v1/opportunities",
        headers=acme["headers"],
        json={"name": "Big deal", "customer_id": customer, "amount": "5000", "currency": "CNY"},
    ).json()
    refused = world.post(f"/api/v1/opportunities/{big['id']}/won", headers=acme["headers"], json={})
    assert refused.status_code == 422, refused.text
    assert (refused.json()["plugin"], refused.json()["plugin_message"]) == (
        "gatekeeper",
        "Attach the signed contract first.",
    )
    assert world.get(f"/api/v1/opportunities/{big['id']}", headers=acme["headers"]).json()["status"] == "open"
    assert _raw(settings, "SELECT count(*) FROM outbox_messages WHERE name = 'opportunities.won'")[0][0] == 0
    small = world.post(
        "/api/v1/opportunities",
        headers=acme["headers"],
        json={"name": "Small deal", "customer_id": customer, "amount": "500", "currency": "CNY"},
    ).json()
    won = world.post(f"/api/v1/opportunities/{small['id']}/won", headers=acme["headers"], json={})
    assert won.status_code == 200, won.text


class Note(msgspec.Struct):
    text: str


def _scheduler(recorder: Recorder) -> object:
    @job("scheduler.note", Note)
    async def note(ctx: JobContext, payload: Note) -> None:
        recorder.seen.setdefault(str(ctx.tenant_id), []).append(payload.text)

    @job("scheduler.sweep", NoPayload, platform=True)
    async def sweep(ctx: JobContext, payload: NoPayload) -> None:
        await enqueue_for_each_tenant(ctx.session, note, Note(text="swept"))

    class Scheduler:
        @hookimpl
        def plugin_info(self) -> PluginInfo:
            return PluginInfo(name="scheduler", title="Scheduler")

        @hookimpl
        def register_jobs(self) -> list[Any]:
            return [note, Periodic(sweep, every=timedelta(hours=1))]

    return Scheduler()


def test_a_plugins_jobs_and_periodic_jobs_join_the_registry_and_run_in_their_tenant(
    settings: Settings, recorder: Recorder
) -> None:
    fast = dataclasses.replace(settings, background_jobs=True)
    host = PluginHost.load([_scheduler(recorder)], entry_points=False)
    services = build_services(fast, plugins=host)
    assert {"scheduler.note", "scheduler.sweep"} <= set(services.jobs.jobs)
    assert "scheduler.sweep" in services.jobs.periodic
    app = create_app(fast, services)
    with TestClient(app, raise_server_exceptions=False) as client:
        acme = signup(client, "Acme")

        async def sweep_now() -> None:
            with tenant_context(None):
                async with services.db.transaction() as session:
                    await enqueue(session, services.jobs.jobs["scheduler.sweep"], NoPayload())
            await client.app.state.jobs.drain()

        client.blocking_portal.call(sweep_now)
        assert recorder.of(acme["tenant_id"]) == ["swept"]
    asyncio.run(services.db.dispose())
